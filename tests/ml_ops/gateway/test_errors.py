"""devora's error tree -> OpenAI's error JSON and the status the SDKs expect."""

from __future__ import annotations

import pytest

from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigurationError,
    ContextLengthError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    StoreError,
)
from ml_ops.gateway.errors import error_for


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ContextLengthError("too long", status=400), 400, "context_length_exceeded"),
        (ProviderError("bad", status=422, provider_message="bad field"), 400, "upstream_rejected"),
        (RateLimitError("slow", status=429, retry_after=7), 429, "upstream_rate_limited"),
        (ProviderTimeoutError("late"), 504, "upstream_timeout"),
        (OverloadedError("busy", status=529), 503, "upstream_overloaded"),
        (CircuitOpenError("open"), 503, "upstream_unavailable"),
        (ProviderConnectionError("refused"), 502, "upstream_unreachable"),
        (AuthenticationError("no", status=401), 502, "upstream_auth_failed"),
        (ProviderError("boom", status=500), 502, "upstream_error"),
        (BudgetExceededError("over", retry_after=30), 429, "insufficient_quota"),
        (ConfigurationError("bad option"), 400, None),
        (StoreError("redis away"), 503, "store_unavailable"),
        (RuntimeError("bug with sk-secret-0123456789"), 500, None),
    ],
)
def test_statuses(error: BaseException, status: int, code: str | None) -> None:
    answer = error_for(error, "req1")
    assert (answer.status, answer.code) == (status, code)
    assert "sk-secret" not in answer.message
    body = answer.body()["error"]
    assert set(body) == {"message", "type", "param", "code"}


def test_retry_after_and_last_error_of_a_fallback_chain() -> None:
    assert error_for(RateLimitError("x", retry_after=6.2), "r").headers["retry-after"] == "7"
    assert error_for(BudgetExceededError("x", retry_after=59.5), "r").headers["retry-after"] == "60"
    chain = AllModelsFailedError(
        "all failed", errors=[ProviderTimeoutError("t"), OverloadedError("o")]
    )
    assert error_for(chain, "r").status == 503
    assert "req9" in error_for(ValueError("x"), "req9").message
