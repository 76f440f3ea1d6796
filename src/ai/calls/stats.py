"""Per-call statistics and the `RequestRecord` built from them: usage, cost, timings."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field

from ai.accounting.pricing import PricingTable
from ai.accounting.tokens import count_message_tokens, count_tokens
from ai.cache.entry import CachedResponse
from ai.calls.resilience import CallProgress
from ai.core.clock import Clock
from ai.core.frozen import direct_constructor
from ai.core.records import SCHEMA_VERSION, CallLabels, CostSource, Operation, RequestRecord
from ai.core.usage import Usage
from ai.errors import describe_failure
from ai.providers.base import ChatRequest, ChatResult, ToolCall

#: The usage of a call served by the cache (immutable, so one object serves them all).
_NO_TOKENS = Usage()


@dataclass(frozen=True, slots=True)
class CompletionStats:
    """What one call cost and how it went.

    Token counts follow the OpenTelemetry GenAI conventions: `cached_input_tokens` and
    `cache_creation_tokens` are part of `input_tokens`, `reasoning_tokens` part of
    `output_tokens`. `tokens_estimated` is True when the provider reported no usage and
    we counted ourselves. `estimated_cost` is None when the model has no known price
    (a warning says so) or cost tracking is off; `cost_source` says where it came from.
    """

    request_id: str
    provider: str
    model: str
    model_requested: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    tokens_estimated: bool
    estimated_cost: float | None
    cost_source: CostSource | None
    latency_ms: float
    time_to_first_token_ms: float | None
    attempts: int
    cached: bool = False
    fallback_used: bool = False
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    saved_cost: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def usage(self) -> Usage:
        return Usage(
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_creation_tokens,
            self.reasoning_tokens,
            self.tokens_estimated,
        )

    @property
    def tokens_per_second(self) -> float | None:
        """Output throughput over the whole call (None for an empty or instant answer)."""
        if self.output_tokens == 0 or self.latency_ms <= 0:
            return None
        return self.output_tokens / (self.latency_ms / 1000)


#: `CompletionStats(...)` and `RequestRecord(...)` from every field's value in order, without
#: the generated `__init__` of a frozen dataclass (`ai.core.frozen`): built on every call.
_new_stats = direct_constructor(CompletionStats)
_new_record = direct_constructor(RequestRecord)


@dataclass(slots=True)
class StatsBuilder:
    """Internal: turns a finished (or failed) call into `CompletionStats` and its
    `RequestRecord`. `model_requested` is what the caller asked for, before any guard
    rewrote the request."""

    request: ChatRequest
    progress: CallProgress
    clock: Clock
    pricing: PricingTable | None
    labels: CallLabels = field(default_factory=lambda: CallLabels())
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    model_requested: str = ""

    def __post_init__(self) -> None:
        self.model_requested = self.model_requested or self.request.model

    def elapsed_ms(self) -> float:
        return (self.clock.monotonic() - self.progress.started) * 1000

    def build(self, result: ChatResult, *, time_to_first_token_ms: float | None) -> CompletionStats:
        """Stats of a successful call; provider-reported usage wins over our count."""
        route = self.progress.route
        provider = route.provider if route else "unknown"
        model_used = result.model or (route.model if route else self.request.model)
        usage = self.with_reasoning(
            result, result.usage or self.estimate_usage(result.text, model_used), model_used
        )
        cost, source = self.cost(result, usage, model_used)
        return CompletionStats(
            request_id=self.request_id,
            provider=provider,
            model=model_used,
            model_requested=self.model_requested,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_creation_tokens=usage.cache_creation_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            tokens_estimated=usage.estimated,
            estimated_cost=cost,
            cost_source=source,
            latency_ms=self.elapsed_ms(),
            time_to_first_token_ms=time_to_first_token_ms,
            attempts=self.progress.attempts,
            fallback_used=self.progress.fallback_used,
            finish_reason=result.finish_reason,
            tool_calls=result.tool_calls,
        )

    def from_cache(self, hit: CachedResponse, *, streamed: bool = False) -> CompletionStats:
        """Stats of a call served by the cache: no tokens used, nothing spent.

        `saved_cost` is what the original call cost; the answer's own size stays in the
        cache entry, not in the token counts, so token consumption is never double counted.
        Built with `_new_stats` (every field, in order): a hit is meant to cost little.
        """
        elapsed = self.elapsed_ms()
        return _new_stats(
            self.request_id,
            hit.provider,
            hit.model or self.request.model,  # model
            self.model_requested,
            0,  # input_tokens
            0,  # output_tokens
            0,  # cached_input_tokens
            0,  # cache_creation_tokens
            0,  # reasoning_tokens
            False,  # tokens_estimated
            0.0 if self.pricing is not None else None,  # estimated_cost
            CostSource.CACHE,
            elapsed,  # latency_ms
            elapsed if streamed else None,  # time_to_first_token_ms
            0,  # attempts
            True,  # cached
            False,  # fallback_used
            hit.finish_reason,
            list(hit.tool_calls),
            hit.cost,  # saved_cost
        )

    @staticmethod
    def with_reasoning(result: ChatResult, usage: Usage, model: str) -> Usage:
        """Reasoning tokens counted from the reasoning the model showed, when the provider
        bills them inside the output without saying how many (Anthropic's thinking)."""
        if not result.reasoning_text or usage.reasoning_tokens:
            return usage
        counted = count_tokens(result.reasoning_text, model).tokens
        return dataclasses.replace(usage, reasoning_tokens=min(counted, usage.output_tokens))

    def estimate_usage(self, output_text: str, model: str) -> Usage:
        """Our own count, used only when the provider reported none."""
        prompt = count_message_tokens(self.request.messages, model)
        completion = count_tokens(output_text, model) if output_text else None
        return Usage(
            input_tokens=prompt.tokens,
            output_tokens=completion.tokens if completion else 0,
            estimated=True,
        )

    def cost(
        self, result: ChatResult, usage: Usage, model_used: str
    ) -> tuple[float | None, CostSource | None]:
        """Provider-reported cost first (OpenRouter), else the pricing table."""
        if self.pricing is None:
            return None, None
        if result.provider_cost is not None:
            return result.provider_cost, CostSource.PROVIDER
        route = self.progress.route
        host = route.spec.price_source if route else None  # the host's own price list
        for candidate in (model_used, route.model if route else None):
            if candidate and self.pricing.get(candidate, provider=host) is not None:
                return self.pricing.cost(candidate, usage, provider=host), CostSource.PRICING
        return self.pricing.cost(model_used, usage, provider=host), None

    def record(self, stats: CompletionStats, *, streamed: bool) -> RequestRecord:
        """The record of a successful call, built with `_new_record` (every field, in
        order): it is built on every call, cache hits included."""
        labels = self.labels
        return _new_record(
            stats.request_id,
            self.clock.now(),  # timestamp
            stats.provider,
            stats.model_requested,
            stats.model,
            _NO_TOKENS if stats.cached else stats.usage,  # a hit used no tokens
            stats.estimated_cost,
            stats.latency_ms,
            stats.time_to_first_token_ms,
            stats.attempts,
            True,  # success
            None,  # error_type
            None,  # error_message
            stats.cached,
            streamed,
            stats.fallback_used,
            stats.cost_source,
            stats.saved_cost,
            labels.user,
            labels.agent,
            labels.tags,
            Operation.CHAT,
            (),  # guard_decisions
            SCHEMA_VERSION,
        )

    def failure_record(
        self,
        error: BaseException,
        *,
        streamed: bool,
        partial: ChatResult | None = None,
        time_to_first_token_ms: float | None = None,
    ) -> RequestRecord:
        """The record of a call that ended without an answer: failed, cancelled or refused.
        A stream cut mid-way still carries the usage and cost of what arrived."""
        error_type, message = describe_failure(error)
        route = self.progress.route
        usage: Usage | None = None
        cost: float | None = None
        source: CostSource | None = None
        model_used = route.model if route else None
        if partial is not None and model_used is not None:
            model_used = partial.model or model_used
            usage = partial.usage or self.estimate_usage(partial.text, model_used)
            cost, source = self.cost(partial, usage, model_used)
        return RequestRecord(
            request_id=self.request_id,
            timestamp=self.clock.now(),
            provider=route.provider if route else "unknown",
            model_requested=self.model_requested,
            model=model_used,
            usage=usage,
            estimated_cost=cost,
            latency_ms=self.elapsed_ms(),
            time_to_first_token_ms=time_to_first_token_ms,
            attempts=self.progress.attempts,
            success=False,
            error_type=error_type,
            error_message=message[:500],
            streamed=streamed,
            fallback_used=self.progress.fallback_used,
            cost_source=source,
            user=self.labels.user,
            agent=self.labels.agent,
            tags=self.labels.tags,
            operation=Operation.CHAT,
        )
