"""The most a call can cost, known before it is made: what the budget guard reserves.

    input tokens  x the dearest input price (cache writes may cost more than plain input)
  + max_tokens    x the dearest output price (reasoning may be priced apart)

Input tokens are counted offline with `ai.accounting.tokens.count_message_tokens` (the
chat messages) plus the JSON of `tools` and `response_format`, which providers bill as
prompt too. Where that count is only an estimate (a model whose tokenizer we lack, such
as Claude, or images and tool calls in the messages) it is raised by `ESTIMATE_MARGIN`,
since another tokenizer may count more. Output tokens are the call's `max_tokens` (or
`max_completion_tokens`), else `default_max_tokens`. An embedding call has no output.

`MessageTokenCache` remembers the count of each plain message (role and text) per
model, so the system prompt and earlier turns a conversation sends again are not
tokenized again on every call; the total is the same as `count_message_tokens` gives,
whose count is the reply priming plus each message's own.

The result is a bound only as good as its inputs: a model the pricing table lacks has no
worst case (None), and a provider that reports a higher cost than the table (OpenRouter's
`usage.cost`) or a fallback model dearer than the planned one can cost more.

Public names: `WorstCase`, `worst_case_cost`, `MessageTokenCache`, `ESTIMATE_MARGIN`,
`DEFAULT_MAX_TOKENS`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.accounting.tokens import REPLY_PRIMING_TOKENS, count_message_tokens, count_tokens
from ai.core.guards import PlannedCall
from ai.core.records import Operation

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ESTIMATE_MARGIN",
    "MessageTokenCache",
    "WorstCase",
    "worst_case_cost",
]

ESTIMATE_MARGIN = 1.25
"""Factor on input counts that are estimates (another model's tokenizer)."""
DEFAULT_MAX_TOKENS = 4096
"""Output tokens assumed for a call that sets no `max_tokens` (LLMConfig's default)."""
_PER_MILLION = 1_000_000
_PROMPT_PARAMETERS = ("tools", "response_format")
_CACHED_TEXT_LIMIT = 16_384  # characters; longer messages are counted each time


class MessageTokenCache:
    """Token counts of plain chat messages (string values only) per model, at most
    `capacity` of them (forgotten all at once when full: a bound, not an LRU)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._counts: dict[tuple[object, ...], tuple[int, bool]] = {}

    def count(self, messages: Sequence[Mapping[str, Any]], model: str) -> tuple[int, bool]:
        """What `count_message_tokens(messages, model)` gives: (tokens, estimated)."""
        total, estimated = REPLY_PRIMING_TOKENS, False
        for message in messages:
            key = _plain_key(message, model)
            found = self._counts.get(key) if key is not None else None
            if found is None:
                counted = count_message_tokens([message], model)
                found = (counted.tokens - REPLY_PRIMING_TOKENS, counted.estimated)
                if key is not None:
                    if len(self._counts) >= self.capacity:
                        self._counts.clear()
                    self._counts[key] = found
            total += found[0]
            estimated = estimated or found[1]
        return total, estimated


def _plain_key(message: Mapping[str, Any], model: str) -> tuple[object, ...] | None:
    if type(message) is not dict or len(message) > 4:
        return None
    size = 0
    for value in message.values():
        if type(value) is not str:
            return None
        size += len(value)
    return None if size > _CACHED_TEXT_LIMIT else (model, *message.items())


@dataclass(frozen=True, slots=True)
class WorstCase:
    """A call's worst-case cost (USD, None when its model has no price) and the token
    counts it was computed from."""

    model: str
    input_tokens: int
    output_tokens: int
    cost: float | None
    estimated: bool = False


def worst_case_cost(
    call: PlannedCall,
    pricing: PricingTable,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    cache: MessageTokenCache | None = None,
) -> WorstCase:
    """The most `call` can cost at `pricing`'s list prices (module doc); `cache` keeps
    message counts between calls."""
    if call.operation is Operation.EMBEDDING:
        input_tokens, estimated = _embedding_tokens(call)
        output_tokens = 0
    else:
        input_tokens, estimated = _chat_tokens(call, cache)
        output_tokens = _max_output(call.parameters, default_max_tokens)
    if estimated:
        input_tokens = math.ceil(input_tokens * ESTIMATE_MARGIN)
    price = pricing.get(call.model)
    if price is None:
        return WorstCase(call.model, input_tokens, output_tokens, None, estimated)
    per_million = input_tokens * max(price.input, price.cache_creation_price) + (
        output_tokens * max(price.output, price.reasoning_price)
    )
    return WorstCase(call.model, input_tokens, output_tokens, per_million / _PER_MILLION, estimated)


def _chat_tokens(call: PlannedCall, cache: MessageTokenCache | None) -> tuple[int, bool]:
    messages = [m for m in call.inputs if isinstance(m, Mapping)]
    if cache is not None:
        tokens, estimated = cache.count(messages, call.model)
    else:
        counted = count_message_tokens(messages, call.model)
        tokens, estimated = counted.tokens, counted.estimated
    estimated = estimated or len(messages) != len(call.inputs)
    for name in _PROMPT_PARAMETERS:
        value = call.parameters.get(name)
        if value:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
            tokens += count_tokens(text, call.model).tokens
            estimated = True
    return tokens, estimated


def _embedding_tokens(call: PlannedCall) -> tuple[int, bool]:
    tokens, estimated = 0, False
    for text in call.inputs:
        counted = count_tokens(text if isinstance(text, str) else str(text), call.model)
        tokens += counted.tokens
        estimated = estimated or counted.estimated
    return tokens, estimated


def _max_output(parameters: Mapping[str, Any], default: int) -> int:
    for name in ("max_tokens", "max_completion_tokens"):
        value = parameters.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default
