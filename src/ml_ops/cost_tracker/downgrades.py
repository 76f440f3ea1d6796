"""Which cheaper model of the same family can stand in for an expensive one.

A cost recommendation ("move short calls from gpt-4o to gpt-4o-mini") and a budget that
downgrades calls when it runs low both need the same answer: the next tier down *in the
same family*, so the prompt format, tool calling and tone stay the same. The cheapest
model of a provider is not that answer (gpt-4 to a text-embedding model is cheaper, and
useless), so the tiers are data, a mapping any caller can replace, rather than derived
from prices.

Names follow the pricing table's resolution: case-insensitive, a dated snapshot suffix
ignored (``gpt-4o-2024-08-06`` is ``gpt-4o``), and a vendor prefix kept
(``openai/gpt-4o`` gives ``openai/gpt-4o-mini``, which is how OpenRouter names it).

Public names: `DEFAULT_DOWNGRADES`, `cheaper_model`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ai.accounting.model_price import SNAPSHOT_SUFFIX

__all__ = ["DEFAULT_DOWNGRADES", "cheaper_model"]

DEFAULT_DOWNGRADES: Mapping[str, str] = MappingProxyType(
    {
        # OpenAI: each tier to the next smaller one of its generation.
        "gpt-5": "gpt-5-mini",
        "gpt-5-mini": "gpt-5-nano",
        "gpt-4.1": "gpt-4.1-mini",
        "gpt-4.1-mini": "gpt-4.1-nano",
        "gpt-4o": "gpt-4o-mini",
        "gpt-4o-2024-05-13": "gpt-4o-mini",
        "gpt-4-turbo": "gpt-4o-mini",
        "gpt-4": "gpt-4o-mini",
        "gpt-4-32k": "gpt-4o-mini",
        "o1-pro": "o3",
        "o3-pro": "o3",
        "o1": "o4-mini",
        "o1-preview": "o4-mini",
        "o3": "o4-mini",
        # Anthropic: Opus to Sonnet, Sonnet to Haiku.
        "claude-opus-4-1": "claude-sonnet-4-5",
        "claude-opus-4": "claude-sonnet-4",
        "claude-3-opus": "claude-3-5-sonnet",
        "claude-sonnet-4-5": "claude-haiku-4-5",
        "claude-sonnet-4": "claude-haiku-4-5",
        "claude-3-7-sonnet": "claude-3-5-haiku",
        "claude-3-5-sonnet": "claude-3-5-haiku",
        "claude-3-5-haiku": "claude-3-haiku",
        # Google: Pro to Flash, Flash to Flash-Lite.
        "gemini-2.5-pro": "gemini-2.5-flash",
        "gemini-2.5-flash": "gemini-2.5-flash-lite",
        "gemini-2.0-flash": "gemini-2.0-flash-lite",
        "gemini-1.5-pro": "gemini-1.5-flash",
        # OpenRouter spells Anthropic versions with dots.
        "anthropic/claude-opus-4.1": "anthropic/claude-sonnet-4.5",
        "anthropic/claude-opus-4": "anthropic/claude-sonnet-4",
        "anthropic/claude-sonnet-4.5": "anthropic/claude-haiku-4.5",
        "anthropic/claude-sonnet-4": "anthropic/claude-haiku-4.5",
        "anthropic/claude-3.7-sonnet": "anthropic/claude-3.5-haiku",
        "anthropic/claude-3.5-sonnet": "anthropic/claude-3.5-haiku",
        "anthropic/claude-3.5-haiku": "anthropic/claude-3-haiku",
        "meta-llama/llama-3.1-70b-instruct": "meta-llama/llama-3.1-8b-instruct",
    }
)
"""Expensive model to the next cheaper tier of its family (lower-case, no snapshots)."""


def cheaper_model(model: str, downgrades: Mapping[str, str] = DEFAULT_DOWNGRADES) -> str | None:
    """The next cheaper model of `model`'s family per `downgrades`, or None.

    The answer is a name, not a promise that it is priced or cheaper for every call;
    callers that need that check it against a `PricingTable`.
    """
    table = {key.strip().lower(): value for key, value in downgrades.items()}
    name = model.strip().lower()
    for candidate in _names(name):
        if candidate in table:
            return table[candidate]
    if "/" in name:
        prefix, bare = name.rsplit("/", 1)
        for candidate in _names(bare):
            target = table.get(candidate)
            if target is not None:
                return target if "/" in target else f"{prefix}/{target}"
    return None


def _names(name: str) -> Iterator[str]:
    yield name
    stripped = SNAPSHOT_SUFFIX.sub("", name)
    if stripped != name:
        yield stripped
