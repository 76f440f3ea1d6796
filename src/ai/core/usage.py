"""Token usage per token type, following the OpenTelemetry GenAI conventions.

`input_tokens` counts every prompt token; `cached_input_tokens` (cache reads) and
`cache_creation_tokens` are subsets of it, never added on top. `reasoning_tokens` is a
subset of `output_tokens`. Providers disagree here (Anthropic reports cache reads and
writes *beside* `input_tokens`), so each wire format normalises into this shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call, by type. `estimated` is True when we counted, not the provider."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    def __post_init__(self) -> None:
        for name in (
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cache_creation_tokens",
            "reasoning_tokens",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.cached_input_tokens + self.cache_creation_tokens > self.input_tokens:
            raise ValueError("cached and cache-creation tokens are subsets of input_tokens")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens is a subset of output_tokens")

    @property
    def total_tokens(self) -> int:
        """Input plus output; cached and reasoning tokens are already inside them."""
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the full input price."""
        return self.input_tokens - self.cached_input_tokens - self.cache_creation_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_creation_tokens=self.cache_creation_tokens + other.cache_creation_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            estimated=self.estimated or other.estimated,
        )
