"""Splitting inputs into API requests that respect a provider's per-request limits.

Kept as a pure function over token counts so a property test can show that every input
lands in exactly one request, order is kept, and no request breaks a limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from ai.errors import ConfigurationError


def plan_batches(token_counts: Sequence[int], max_inputs: int, max_tokens: int) -> list[range]:
    """Contiguous index ranges, greedily filled, each within `max_inputs` and `max_tokens`.

    An input larger than `max_tokens` on its own cannot be sent at all: the caller must
    reject or truncate it first, so it is a `ConfigurationError` here.
    """
    if max_inputs < 1 or max_tokens < 1:
        raise ConfigurationError(
            f"batch limits must be >= 1, got max_inputs={max_inputs}, max_tokens={max_tokens}."
        )
    batches: list[range] = []
    start = 0
    tokens = 0
    for index, count in enumerate(token_counts):
        if count > max_tokens:
            raise ConfigurationError(
                f"input {index} has {count} tokens, more than the {max_tokens} allowed in one "
                "request; truncate or chunk it first."
            )
        if index - start >= max_inputs or tokens + count > max_tokens:
            batches.append(range(start, index))
            start, tokens = index, 0
        tokens += count
    if start < len(token_counts):
        batches.append(range(start, len(token_counts)))
    return batches
