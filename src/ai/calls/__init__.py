"""The call machinery behind `LLMService`: configuration and routes, one attempt over
HTTP (`attempts`, `transport`), retries and backoff (`retry`), circuit breakers
(`circuit`), the fallback loop with its deadline (`resilience`), guards run before and
after each call (`guards`), statistics and records (`stats`), streaming (`streaming`)
and per-service totals (`metrics`).

Users meet it through `ai.llm_service`; the names below are the ones worth importing
directly (policies and breakers are value objects a test or a larger app may build).
"""

from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.calls.config import LLMConfig, LLMProvider, ModelRoute, ResolvedRoute
from ai.calls.metrics import ServiceMetrics
from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.calls.stats import CompletionStats
from ai.calls.streaming import CompletionStream

__all__ = [
    "CircuitBreaker",
    "CircuitState",
    "CompletionStats",
    "CompletionStream",
    "ExponentialBackoff",
    "LLMConfig",
    "LLMProvider",
    "ModelRoute",
    "ResolvedRoute",
    "RetryPolicy",
    "ServiceMetrics",
]
