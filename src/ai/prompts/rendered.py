"""A rendered prompt, ready for `LLMService.complete`, and what it will cost to send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.accounting.tokens import TokenCount
from ai.core.records import TagKey
from ai.core.usage import Usage
from ai.errors import TemplateError
from ai.prompts.preview import preview, preview_keys
from ai.prompts.prompt_tokens import count_messages

_HINT_KEYS = frozenset({"model", "temperature", "max_tokens"})
#: The most output tokens an estimate takes: an int64, as every API counts tokens.
MAX_OUTPUT_TOKENS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ModelHints:
    """What the template's author suggests calling it with; the caller may override."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise TemplateError(f"model hint must be a model name, got {preview(self.model)}")
        if self.temperature is not None and (
            isinstance(self.temperature, bool)
            or not isinstance(self.temperature, int | float)
            or not 0.0 <= self.temperature <= 2.0
        ):
            raise TemplateError(
                f"temperature hint must be in [0, 2], got {preview(self.temperature)}"
            )
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or self.max_tokens < 1
        ):
            raise TemplateError(
                f"max_tokens hint must be a positive integer, got {preview(self.max_tokens)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The hints that are set (the stored form)."""
        return {
            key: getattr(self, key) for key in sorted(_HINT_KEYS) if getattr(self, key) is not None
        }

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `LLMService.complete` / `stream` (only the ones set)."""
        return self.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelHints:
        """Read hints; an unknown key is an error."""
        if not isinstance(data, Mapping):
            raise TemplateError(f"model_hints must be a mapping, got {preview(data)}")
        unknown = set(data) - _HINT_KEYS
        if unknown:
            raise TemplateError(
                f"model_hints: unknown key(s) {preview_keys(unknown)}; "
                f"allowed: {sorted(_HINT_KEYS)}"
            )
        return cls(**data)


@dataclass(frozen=True, slots=True)
class PromptEstimate:
    """Tokens and USD cost of sending a rendered prompt, before sending it.

    `output_tokens` is the reply length assumed (the caller's, else the template's
    `max_tokens` hint, else 0), so `total_cost` is an upper bound when it comes from
    `max_tokens`. Costs are None when the model has no price. `estimated` is True when the
    model's own tokenizer was unavailable and a near one counted instead.
    """

    model: str
    input_tokens: int
    output_tokens: int
    encoding: str
    estimated: bool
    input_cost: float | None
    output_cost: float | None

    @property
    def total_cost(self) -> float | None:
        """Input plus output cost, or None when the model has no price."""
        if self.input_cost is None or self.output_cost is None:
            return None
        return self.input_cost + self.output_cost


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The text of a rendered template, and which template, version and variant it was.

    Chat templates give `messages`; text templates give `text` (sent as one user message by
    `as_messages`). `call_tags` labels the LLM call so records, costs and A/B results can be
    grouped by template version.
    """

    name: str
    messages: tuple[Mapping[str, str], ...] = ()
    text: str | None = None
    model_hints: ModelHints = field(default_factory=ModelHints)
    version: int | None = None
    experiment: str | None = None
    variant: str | None = None
    category: str | None = None

    def as_messages(self) -> list[dict[str, str]]:
        """Chat messages for `LLMService.complete`."""
        if self.text is not None:
            return [{"role": "user", "content": self.text}]
        return [dict(message) for message in self.messages]

    def call_tags(self) -> dict[str, str]:
        """Tags for `LLMService.complete(tags=...)`: template, version, experiment, variant
        and category (a model router reads the category)."""
        tags = {TagKey.PROMPT.value: self.name}
        if self.version is not None:
            tags[TagKey.PROMPT_VERSION.value] = str(self.version)
        if self.experiment is not None:
            tags[TagKey.EXPERIMENT.value] = self.experiment
        if self.variant is not None:
            tags[TagKey.VARIANT.value] = self.variant
        if self.category is not None:
            tags[TagKey.CATEGORY.value] = str(self.category)
        return tags

    def with_version(
        self, version: int, *, experiment: str | None = None, variant: str | None = None
    ) -> RenderedPrompt:
        """The same prompt, marked with the stored version (and A/B variant) it came from."""
        return replace(self, version=version, experiment=experiment, variant=variant)

    def estimate(
        self,
        model: str | None = None,
        *,
        output_tokens: int | None = None,
        pricing: PricingTable | None = None,
    ) -> PromptEstimate:
        """Count this prompt's tokens for `model` (default: the template's hint) and price it.

        Counting takes time linear in the prompt's length, a 10 MB variable value included
        (see `ai.prompts.prompt_tokens`).
        """
        model = model or self.model_hints.model
        if not model:
            raise TemplateError(
                f"{self.name}: no model to estimate for; pass one, or set model_hints.model"
            )
        if not isinstance(model, str):
            raise TemplateError(f"{self.name}: model must be a model name, got {preview(model)}")
        if output_tokens is None:
            output_tokens = self.model_hints.max_tokens or 0
        if (
            isinstance(output_tokens, bool)
            or not isinstance(output_tokens, int)
            or not 0 <= output_tokens <= MAX_OUTPUT_TOKENS
        ):
            raise TemplateError(
                "output_tokens must be an integer from 0 to 2**63 - 1, "
                f"got {preview(output_tokens)}"
            )
        if pricing is not None and not isinstance(pricing, PricingTable):
            raise TemplateError(f"pricing must be a PricingTable, got {preview(pricing)}")
        count = self._count(model)
        price = (pricing or PricingTable.default()).get(model)
        input_cost = output_cost = None
        if price is not None:
            input_cost = price.cost(Usage(input_tokens=count.tokens))
            output_cost = price.cost(Usage(output_tokens=output_tokens))
        return PromptEstimate(
            model=model,
            input_tokens=count.tokens,
            output_tokens=output_tokens,
            encoding=count.encoding,
            estimated=count.estimated,
            input_cost=input_cost,
            output_cost=output_cost,
        )

    def _count(self, model: str) -> TokenCount:
        """Tokens of the prompt as sent; `TemplateError` if a part of it is not text.

        A text template is sent as one user message (`as_messages`), so its chat framing
        counts too, as the provider counts it.
        """
        if self.text is not None:
            if not isinstance(self.text, str):
                raise TemplateError(f"{self.name}: text must be a string")
            return count_messages(self.as_messages(), model)
        for message in self.messages:
            if not isinstance(message, Mapping) or not all(
                isinstance(message.get(key), str) for key in ("role", "content")
            ):
                raise TemplateError(
                    f"{self.name}: each message must have text role and content, "
                    f"got {preview(message)}"
                )
        return count_messages(self.messages, model)
