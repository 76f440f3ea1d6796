"""Running totals of one `LLMService`: the spec's latency, throughput and error figures.

Percentiles and alerting live in `ml_ops.monitoring`; this is the cheap in-process view.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ai.core.clock import Clock
from ai.core.records import RequestRecord


class ServiceMetrics:
    """Counts and sums over records; O(1) per record, bounded memory."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._started = clock.monotonic()
        self.requests = 0
        self.failures = 0
        self.cached = 0
        self.attempts = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.unpriced = 0
        self._latency_sum = 0.0
        self._latency_max = 0.0
        self._ttft_sum = 0.0
        self._ttft_count = 0
        self.errors: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()

    def observe(self, record: RequestRecord) -> None:
        """Fold one record in (subscribed to the service's record bus)."""
        self.requests += 1
        self.attempts += record.attempts
        self.cached += record.cached
        latency = record.latency_ms
        self._latency_sum += latency
        if latency > self._latency_max:
            self._latency_max = latency
        if record.time_to_first_token_ms is not None:
            self._ttft_sum += record.time_to_first_token_ms
            self._ttft_count += 1
        if not record.success:
            self.failures += 1
            self.errors[record.error_type or "unknown"] += 1
        usage = record.usage
        if usage is not None:  # what record.input_tokens and output_tokens read
            self.input_tokens += usage.input_tokens
            self.output_tokens += usage.output_tokens
        if record.estimated_cost is not None:
            self.cost += record.estimated_cost
        elif usage is not None:
            self.unpriced += 1
        self.by_model[record.model or record.model_requested] += 1

    def snapshot(self) -> dict[str, Any]:
        """A plain dict for printing or JSON."""
        elapsed = self._clock.monotonic() - self._started
        return {
            "total_requests": self.requests,
            "successful_requests": self.requests - self.failures,
            "failed_requests": self.failures,
            "error_rate": self.failures / self.requests if self.requests else 0.0,
            "errors_by_type": dict(self.errors),
            "cached_requests": self.cached,
            "total_attempts": self.attempts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "total_cost": self.cost,
            "unpriced_requests": self.unpriced,
            "avg_latency_ms": self._latency_sum / self.requests if self.requests else 0.0,
            "max_latency_ms": self._latency_max,
            "avg_time_to_first_token_ms": (
                self._ttft_sum / self._ttft_count if self._ttft_count else None
            ),
            "requests_per_second": self.requests / elapsed if elapsed > 0 else 0.0,
            "requests_by_model": dict(self.by_model),
        }
