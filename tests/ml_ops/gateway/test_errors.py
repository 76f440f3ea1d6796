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
    ModelNotFoundError,
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
        (ModelNotFoundError("gone", status=404), 502, "upstream_model_not_found"),
        (ProviderError("conflict", status=409), 502, "upstream_error"),
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


def test_retry_after_and_the_most_telling_error_of_a_fallback_chain() -> None:
    assert error_for(RateLimitError("x", retry_after=6.2), "r").headers["retry-after"] == "7"
    assert error_for(BudgetExceededError("x", retry_after=59.5), "r").headers["retry-after"] == "60"
    assert "req9" in error_for(ValueError("x"), "req9").message


def chain(*errors: ProviderError) -> AllModelsFailedError:
    return AllModelsFailedError("all failed", errors=list(errors))


def model(error: ProviderError, name: str) -> ProviderError:
    error.provider, error.model = "openai", name
    return error


@pytest.mark.parametrize(
    ("failed", "status", "code"),
    [
        # an outage first (the primary first among outages), then configuration, then request
        (chain(ProviderTimeoutError("t"), OverloadedError("o")), 504, "upstream_timeout"),
        (chain(ProviderError("down", status=500), ModelNotFoundError("x")), 502, "upstream_error"),
        (chain(ModelNotFoundError("x"), OverloadedError("o")), 503, "upstream_overloaded"),
        (
            chain(ContextLengthError("long"), ProviderError("down", status=503)),
            502,
            "upstream_error",
        ),
        (
            chain(ModelNotFoundError("x"), ContextLengthError("long")),
            502,
            "upstream_model_not_found",
        ),
        (chain(ContextLengthError("a"), ContextLengthError("b")), 400, "context_length_exceeded"),
        (chain(AuthenticationError("k"), RateLimitError("r", retry_after=3)), 429, None),
    ],
)
def test_the_most_telling_failure_of_a_chain_is_reported(
    failed: AllModelsFailedError, status: int, code: str | None
) -> None:
    answer = error_for(failed, "r")
    assert answer.status == status
    assert code is None or answer.code == code
    assert "Also failed:" in answer.message
    if status == 429:
        assert answer.headers["retry-after"] == "3"


def test_the_message_names_the_alias_and_the_other_failures() -> None:
    failed = chain(
        model(ProviderError("down", status=500, provider_message="Internal error"), "gpt-4o-mini"),
        model(ModelNotFoundError("x", status=404), "gpt-4o"),
    )
    assert error_for(failed, "r", alias="fast").message == (
        "Internal error. Also failed: gpt-4o (openai): model_not_found, HTTP 404."
    )
    alone = error_for(
        model(ModelNotFoundError("x", provider_message="no such model"), "m1"), "r", alias="fast"
    )
    assert alone.message.startswith("The gateway's `fast` is misconfigured: openai does not know")
    assert "`m1` (no such model)" in alone.message


def test_a_missing_key_message_is_readable_and_real_keys_are_still_masked() -> None:
    from ml_ops.gateway.errors import GatewayError, no_key

    assert no_key().message.endswith("(i.e. Authorization: Bearer <key>).")
    masked = GatewayError("sent Bearer sk-dvr-0123456789abcdef0123", status=400).message
    assert "0123456789abcdef" not in masked
