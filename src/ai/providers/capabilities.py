"""What each model accepts: parameter names, limits, reasoning controls.

Reasoning models broke the old one-size request: OpenAI's o-series and gpt-5 take
`max_completion_tokens` instead of `max_tokens` and refuse a non-default `temperature`,
Anthropic's extended thinking takes a token budget and refuses `temperature` with it, and
no Anthropic model takes `seed` (its wire format translates `response_format`). A
`ModelCatalog` maps model names to `ModelCapabilities` by ordered patterns; each wire
format carries the catalog of the models it serves, and `LLMConfig(model_capabilities=...)`
overrides or adds entries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ReasoningControl(StrEnum):
    """How a model's reasoning is steered, if at all."""

    EFFORT = "effort"  # OpenAI's `reasoning_effort`: minimal/low/medium/high
    BUDGET = "budget"  # Anthropic's `thinking.budget_tokens`
    EITHER = "either"  # a router that takes both (OpenRouter's `reasoning` object)


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one model accepts.

    `rejects` names the call parameters (`temperature`, `top_p`, `seed`, `response_format`,
    `stop`, `metadata`, ...) the model refuses; `max_tokens_name` is the body field that
    carries the output limit; `reasoning` says it is a reasoning model (its reasoning
    tokens are part of the output) and `reasoning_control` how that reasoning is steered
    (None: it cannot be); `efforts` are the effort levels it takes. `context_window` and
    `max_output_tokens` are informative (None: unknown).
    """

    reasoning: bool = False
    reasoning_control: ReasoningControl | None = None
    max_tokens_name: str = "max_tokens"
    rejects: frozenset[str] = frozenset()
    context_window: int | None = None
    max_output_tokens: int | None = None
    efforts: frozenset[str] = frozenset({"low", "medium", "high"})


PERMISSIVE = ModelCapabilities()
"""An unknown model on an OpenAI-compatible server: everything is passed through."""


@dataclass(frozen=True, slots=True)
class ModelCatalog:
    """Model name patterns (regular expressions, matched at the start, case-insensitive)
    to capabilities; the first match wins. A `vendor/` prefix (OpenRouter's naming) is
    ignored, so `openai/o3-mini` is `o3-mini`."""

    rules: tuple[tuple[re.Pattern[str], ModelCapabilities], ...] = ()
    default: ModelCapabilities = PERMISSIVE
    overrides: Mapping[str, ModelCapabilities] = field(default_factory=dict)

    @classmethod
    def of(
        cls, rules: Iterable[tuple[str, ModelCapabilities]], default: ModelCapabilities = PERMISSIVE
    ) -> ModelCatalog:
        compiled = tuple((re.compile(pattern, re.IGNORECASE), caps) for pattern, caps in rules)
        return cls(compiled, default)

    def lookup(self, model: str) -> ModelCapabilities:
        """The capabilities of `model` (an override, the first matching rule, or the default)."""
        if model in self.overrides:
            return self.overrides[model]
        return _match(self.rules, self.default, model.rsplit("/", 1)[-1])

    def with_overrides(self, overrides: Mapping[str, ModelCapabilities]) -> ModelCatalog:
        """This catalog with exact model names overridden (`LLMConfig.model_capabilities`)."""
        if not overrides:
            return self
        return ModelCatalog(self.rules, self.default, {**self.overrides, **overrides})


@functools.lru_cache(maxsize=4096)
def _match(
    rules: tuple[tuple[re.Pattern[str], ModelCapabilities], ...],
    default: ModelCapabilities,
    bare: str,
) -> ModelCapabilities:
    """The first rule matching `bare`; cached, since every call looks its model up."""
    for pattern, caps in rules:
        if pattern.match(bare):
            return caps
    return default


_OPENAI_REASONING_REJECTS = frozenset({"temperature", "top_p"})
_EFFORTS = frozenset({"low", "medium", "high"})

OPENAI_MODELS = ModelCatalog.of(
    [
        (
            r"o1-(mini|preview)",
            ModelCapabilities(
                reasoning=True,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS,
                context_window=128_000,
                max_output_tokens=65_536,
            ),
        ),
        (
            r"(o3|o4-mini)(\b|-|$)",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.EFFORT,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS | {"stop"},
                context_window=200_000,
                max_output_tokens=100_000,
                efforts=_EFFORTS,
            ),
        ),
        (
            r"o1(\b|-|$)",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.EFFORT,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS,
                context_window=200_000,
                max_output_tokens=100_000,
                efforts=_EFFORTS,
            ),
        ),
        (r"gpt-5-chat", ModelCapabilities(context_window=128_000, max_output_tokens=16_384)),
        (
            r"gpt-5-pro",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.EFFORT,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS,
                context_window=400_000,
                max_output_tokens=272_000,
                efforts=frozenset({"high"}),
            ),
        ),
        (
            r"gpt-5\.\d",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.EFFORT,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS,
                context_window=400_000,
                max_output_tokens=128_000,
                efforts=_EFFORTS | {"none"},
            ),
        ),
        (
            r"gpt-5",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.EFFORT,
                max_tokens_name="max_completion_tokens",
                rejects=_OPENAI_REASONING_REJECTS,
                context_window=400_000,
                max_output_tokens=128_000,
                efforts=_EFFORTS | {"minimal"},
            ),
        ),
        (r"gpt-4\.1", ModelCapabilities(context_window=1_047_576, max_output_tokens=32_768)),
        (r"gpt-4o", ModelCapabilities(context_window=128_000, max_output_tokens=16_384)),
        (r"gpt-4-turbo", ModelCapabilities(context_window=128_000, max_output_tokens=4_096)),
        (r"gpt-4", ModelCapabilities(context_window=8_192, max_output_tokens=8_192)),
        (r"gpt-3\.5", ModelCapabilities(context_window=16_385, max_output_tokens=4_096)),
    ],
    default=ModelCapabilities(),
)
"""OpenAI's own models on api.openai.com. Unknown names are passed through unchanged."""

_ANTHROPIC_REJECTS = frozenset({"seed"})  # response_format: see anthropic_format

ANTHROPIC_MODELS = ModelCatalog.of(
    [
        (
            r"claude-(opus-4|sonnet-4|haiku-4|3-7-sonnet)",
            ModelCapabilities(
                reasoning=True,
                reasoning_control=ReasoningControl.BUDGET,
                rejects=_ANTHROPIC_REJECTS,
                context_window=200_000,
                max_output_tokens=64_000,
            ),
        ),
        (
            r"claude-3-5",
            ModelCapabilities(
                rejects=_ANTHROPIC_REJECTS, context_window=200_000, max_output_tokens=8_192
            ),
        ),
        (
            r"claude-3",
            ModelCapabilities(
                rejects=_ANTHROPIC_REJECTS, context_window=200_000, max_output_tokens=4_096
            ),
        ),
    ],
    default=ModelCapabilities(
        reasoning=True, reasoning_control=ReasoningControl.BUDGET, rejects=_ANTHROPIC_REJECTS
    ),
)
"""Anthropic's models: no `seed` anywhere; thinking on the newer ones."""

ROUTER_MODELS = ModelCatalog.of(
    [], default=ModelCapabilities(reasoning_control=ReasoningControl.EITHER)
)
"""A router (OpenRouter) translates and drops parameters for the model behind it, and
takes both reasoning controls in its own `reasoning` object."""
