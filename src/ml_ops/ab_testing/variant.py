"""`Variant`: one arm of an experiment, and the `LLMService.complete` arguments it stands for.

A variant may carry any of:

- `prompt_template`: prompt text with `{variable}` placeholders, rendered by the same safe
  interpolation as `ai.prompts` (checked when the variant is built);
- `template` with `version` or `label`: a template of a `TemplateManager` (rendered by
  `ml_ops.ab_testing.apply`); a variant with only a `label` or `version` is what a template
  that names the experiment is routed to (`TemplateManager(experiments=ab_tester)`);
- `model` and `parameters` (`temperature`, `max_tokens`, ...: the named options of
  `LLMService.complete`; a misspelt one is an error);
- `weight`, its share of traffic (any non-negative scale).

`call_arguments(...)` gives the keyword arguments of `LLMService.complete`: `messages`,
`model`, the parameters, and `tags` carrying the experiment and variant
(`ai.core.records.TagKey`), so the call's record is counted for this variant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ai.calls.call_options import CallOptions
from ai.core.records import TagKey
from ai.errors import ConfigurationError, TemplateError
from ai.prompts.rendered import RenderedPrompt
from ai.prompts.template import PromptTemplate

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
"""Experiment and variant names: letters, digits and `_ . : -`, at most 128 characters."""

_LABEL_OPTIONS = frozenset({"model", "n", "timeout", "extra", "user", "agent", "tags", "cache"})
PARAMETER_NAMES = frozenset(CallOptions.__annotations__) - _LABEL_OPTIONS
"""The call parameters a variant may set: the named sampling and request options of
`LLMService.complete` (temperature, max_tokens, top_p, stop, seed, ...)."""

_INLINE_NAME = "ab-variant"  # the name an inline prompt renders under (never a call tag)


def check_name(value: object, what: str) -> str:
    """`value` if it is a valid experiment or variant name, else `ConfigurationError`."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ConfigurationError(
            f"{what} {value!r} is not a valid name: use letters, digits and _ . : - "
            "(at most 128 characters, starting with a letter or digit)"
        )
    return value


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of an experiment: a prompt, a template version or label, a model, call
    parameters, or any mix of them, with its traffic `weight`.

    `experiment` is filled in by the `Experiment` the variant belongs to; it is what
    `call_arguments` tags the call with.
    """

    name: str
    prompt_template: str | None = None
    template: str | None = None
    version: int | None = None
    label: str | None = None
    model: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict, hash=False)
    weight: float = 1.0
    description: str = ""
    experiment: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "variant name")
        _check_prompt(self)
        _check_template_ref(self)
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise ConfigurationError(f"variant {self.name!r}: model must be a model name")
        object.__setattr__(self, "parameters", _checked_parameters(self.name, self.parameters))
        object.__setattr__(self, "weight", _checked_weight(self.name, self.weight))
        if self.experiment is not None:
            check_name(self.experiment, "experiment name")

    @property
    def template_ref(self) -> str | None:
        """The label, or `v<version>`, that a `TemplateManager` renders for this variant."""
        if self.label is not None:
            return self.label
        return None if self.version is None else f"v{self.version}"

    @property
    def routes_calls(self) -> bool:
        """Whether the variant changes the call itself (a model or parameters)."""
        return self.model is not None or bool(self.parameters)

    def bound_to(self, experiment: str) -> Variant:
        """The same variant, belonging to `experiment`."""
        return self if self.experiment == experiment else replace(self, experiment=experiment)

    def call_arguments(
        self,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        rendered: RenderedPrompt | None = None,
        **values: Any,
    ) -> dict[str, Any]:
        """Keyword arguments for `LLMService.complete(**arguments)`.

        The messages come from `rendered` (a template this variant names, rendered by
        `ml_ops.ab_testing.apply`), else from `prompt_template` rendered with `variables`
        and `values`, else from `messages`. Then `model`, the parameters, and `tags`: the
        rendered prompt's tags, if any, and the experiment and this variant's name.
        """
        arguments: dict[str, Any] = {
            "messages": self._messages(variables, messages, rendered, values)
        }
        if self.model is not None:
            arguments["model"] = self.model
        arguments.update(self.parameters)
        tags = dict(rendered.call_tags()) if rendered is not None else {}
        if self.experiment is not None:
            tags[TagKey.EXPERIMENT.value] = self.experiment
            tags[TagKey.VARIANT.value] = self.name
        if tags:
            arguments["tags"] = tags
        return arguments

    def _messages(
        self,
        variables: Mapping[str, Any] | None,
        messages: Sequence[Mapping[str, Any]] | None,
        rendered: RenderedPrompt | None,
        values: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        given = [rendered is not None, self.prompt_template is not None, messages is not None]
        if sum(given) != 1:
            raise ConfigurationError(
                f"variant {self.name!r}: give exactly one source of messages: the variant's "
                "prompt_template, rendered= (a template it names, see ab_testing.apply), "
                "or messages="
            )
        if rendered is not None:
            return rendered.as_messages()
        if messages is not None:
            return [dict(message) for message in messages]
        return self._inline().render(variables, **values).as_messages()

    def _inline(self) -> PromptTemplate:
        assert self.prompt_template is not None
        return PromptTemplate(name=_INLINE_NAME, text=self.prompt_template)

    def to_dict(self) -> dict[str, Any]:
        """The variant's definition as plain JSON types (fields left unset are omitted)."""
        data: dict[str, Any] = {"name": self.name, "weight": self.weight}
        for key in ("prompt_template", "template", "version", "label", "model"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.parameters:
            data["parameters"] = dict(self.parameters)
        if self.description:
            data["description"] = self.description
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Variant:
        """A variant from `to_dict`'s form (a file, a row); an unknown key is an error."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"a variant must be a mapping, got {type(data).__name__}")
        known = {f for f in cls.__dataclass_fields__ if f != "experiment"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"variant: unknown key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)


def _check_prompt(variant: Variant) -> None:
    if variant.prompt_template is None:
        return
    if variant.template is not None:
        raise ConfigurationError(
            f"variant {variant.name!r}: give prompt_template (text) or template (a name), not both"
        )
    try:
        PromptTemplate(name=_INLINE_NAME, text=variant.prompt_template)
    except TemplateError as exc:
        raise ConfigurationError(f"variant {variant.name!r}: prompt_template: {exc}") from exc


def _check_template_ref(variant: Variant) -> None:
    if variant.version is not None and variant.label is not None:
        raise ConfigurationError(
            f"variant {variant.name!r}: give a template version or a label, not both"
        )
    version = variant.version
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ConfigurationError(f"variant {variant.name!r}: version must be an integer >= 1")
    if variant.label is not None and (not isinstance(variant.label, str) or not variant.label):
        raise ConfigurationError(f"variant {variant.name!r}: label must be a template label")
    if variant.template is not None and (
        not isinstance(variant.template, str) or not variant.template
    ):
        raise ConfigurationError(f"variant {variant.name!r}: template must be a template name")


def _checked_parameters(name: str, parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(parameters, Mapping):
        raise ConfigurationError(f"variant {name!r}: parameters must be a mapping")
    unknown = sorted(set(parameters) - PARAMETER_NAMES)
    if unknown:
        raise ConfigurationError(
            f"variant {name!r}: unknown call parameter(s) {unknown}; a variant may set "
            f"{sorted(PARAMETER_NAMES)} (and `model` as its own field)"
        )
    return MappingProxyType(dict(parameters))


def _checked_weight(name: str, weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ConfigurationError(f"variant {name!r}: weight must be a number, got {weight!r}")
    if not math.isfinite(weight) or weight < 0:
        raise ConfigurationError(f"variant {name!r}: weight must be finite and >= 0")
    return float(weight)
