"""The price of one model, and the interface of a source of prices the table falls back to.

`ModelPrice` holds USD per 1M tokens per token type and prices a `Usage`; a `PriceSource`
answers "what does this model cost?" for names a `PricingTable` has no entry of its own
for (`ai.accounting.genai_prices_source` is the packaged one).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ai.core.usage import Usage
from ai.errors import ConfigurationError

__all__ = ["PRICE_KEYS", "SNAPSHOT_SUFFIX", "ModelPrice", "PriceSource", "check_price"]

PER_TOKENS = 1_000_000
PRICE_KEYS = ("input", "output", "cached_input", "cache_creation", "reasoning")
"""The per-token-type prices a model may have (USD per 1M tokens)."""
_OPTIONAL_PRICES = frozenset({"cached_input", "cache_creation", "reasoning"})
SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")
"""A snapshot suffix both name resolvers strip: `gpt-4o-mini-2024-07-18`,
`claude-sonnet-4-20250514`, `gemini-2.0-flash-001`, `mistral-large-latest`."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """List prices of one model in USD per 1M tokens.

    ``cached_input`` (cache reads) and ``cache_creation`` (cache writes) fall back to the
    input price, and ``reasoning`` to the output price, where a provider has no separate
    price. ``source`` says where the price came from (``ai/accounting/pricing.json``, an
    override file, ``genai-prices 0.2.5``); ``note`` what it leaves out.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None
    context_window: int | None = None
    provider: str | None = None
    model: str = ""
    note: str | None = None
    reasoning: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        for key in PRICE_KEYS:
            value = getattr(self, key)
            if value is None and key in _OPTIONAL_PRICES:
                continue
            check_price(self.model, key, value)
        if self.context_window is not None and (
            isinstance(self.context_window, bool)
            or not isinstance(self.context_window, int)
            or self.context_window <= 0
        ):
            raise ConfigurationError(
                f"pricing for {self.model!r}: 'context_window' must be a positive integer, "
                f"got {self.context_window!r}"
            )

    @property
    def cached_input_price(self) -> float:
        """Price of a cache read, the input price where none is published."""
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_creation_price(self) -> float:
        """Price of a cache write, the input price where none is published."""
        return self.input if self.cache_creation is None else self.cache_creation

    @property
    def reasoning_price(self) -> float:
        """Price of a reasoning token, the output price where none is published."""
        return self.output if self.reasoning is None else self.reasoning

    def cost(self, usage: Usage) -> float:
        """USD cost of `usage`, each token billed once at its own type's price.

        Reasoning tokens are part of the output tokens: with a separate reasoning price they
        are billed at it instead of the output price, never on top of it.
        """
        per_million = (
            usage.uncached_input_tokens * self.input
            + usage.cached_input_tokens * self.cached_input_price
            + usage.cache_creation_tokens * self.cache_creation_price
            + usage.output_tokens * self.output
        )
        if self.reasoning is not None and usage.reasoning_tokens:
            per_million += usage.reasoning_tokens * (self.reasoning - self.output)
        return per_million / PER_TOKENS


class PriceSource(ABC):
    """Prices for models a `PricingTable` has no entry of its own for.

    One method: `lookup`. A source resolves names its own way and must never reach the
    network; the table caches its answers per name.
    """

    @abstractmethod
    def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
        """The price of `model` (as a user wrote it), or None when the source has none.

        `provider` names who serves the call (a price-source provider id such as
        ``groq``), for hosts whose prices differ from the model vendor's.
        """


def check_price(model: str, key: str, value: Any, *, origin: str = "pricing") -> float:
    """`value` as a float, or a `ConfigurationError` naming `key` and `model`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"{origin}: {key!r} for {model!r} must be a number (USD per 1M tokens), got {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(
            f"{origin}: {key!r} for {model!r} must be a finite price >= 0, got {value!r}"
        )
    return float(value)
