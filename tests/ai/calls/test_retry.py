"""Retry policy: backoff sequence and jitter bounds, Retry-After, and header parsing."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.calls.retry import ExponentialBackoff, RetryPolicy, parse_retry_after
from ai.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)  # a Thursday


class FixedRandom(random.Random):
    """A Random whose `random()` always returns `value`, to pin jitter at its extremes."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# --- ExponentialBackoff ---------------------------------------------------------------


def test_backoff_without_jitter_doubles_then_caps() -> None:
    backoff = ExponentialBackoff(initial=1.0, multiplier=2.0, maximum=30.0, jitter=0)
    rng = random.Random(1)
    assert [backoff.delay(n, rng) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_backoff_with_multiplier_one_is_constant() -> None:
    backoff = ExponentialBackoff(initial=0.5, multiplier=1.0, maximum=30.0, jitter=0)
    assert {backoff.delay(n, random.Random(0)) for n in range(1, 20)} == {0.5}


def test_backoff_defaults_match_the_spec() -> None:
    backoff = ExponentialBackoff()
    assert (backoff.initial, backoff.multiplier, backoff.maximum) == (1.0, 2.0, 30.0)
    assert 0 <= backoff.jitter <= 1


@given(
    initial=st.floats(min_value=0, max_value=100, allow_nan=False),
    multiplier=st.floats(min_value=1, max_value=10, allow_nan=False),
    maximum=st.floats(min_value=0, max_value=1000, allow_nan=False),
    retry_number=st.integers(min_value=1, max_value=40),
)
def test_backoff_without_jitter_is_exact(
    initial: float, multiplier: float, maximum: float, retry_number: int
) -> None:
    backoff = ExponentialBackoff(initial, multiplier, maximum, jitter=0)
    expected = min(maximum, initial * multiplier ** (retry_number - 1))
    assert backoff.delay(retry_number, random.Random(0)) == pytest.approx(expected)


@given(
    initial=st.floats(min_value=0, max_value=100, allow_nan=False),
    multiplier=st.floats(min_value=1, max_value=10, allow_nan=False),
    maximum=st.floats(min_value=0, max_value=1000, allow_nan=False),
    jitter=st.floats(min_value=0, max_value=1, allow_nan=False),
    retry_number=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_with_jitter_stays_within_bounds(
    initial: float,
    multiplier: float,
    maximum: float,
    jitter: float,
    retry_number: int,
    seed: int,
) -> None:
    backoff = ExponentialBackoff(initial, multiplier, maximum, jitter)
    nominal = min(maximum, initial * multiplier ** (retry_number - 1))
    delay = backoff.delay(retry_number, random.Random(seed))
    assert nominal * (1 - jitter) - 1e-9 <= delay <= nominal + 1e-9
    assert delay >= 0


def test_jitter_reaches_both_ends_of_its_range() -> None:
    backoff = ExponentialBackoff(initial=8.0, multiplier=2.0, maximum=100.0, jitter=0.25)
    assert backoff.delay(1, FixedRandom(0.0)) == 8.0
    assert backoff.delay(1, FixedRandom(0.999999)) == pytest.approx(6.0, abs=1e-5)
    assert backoff.delay(2, FixedRandom(0.5)) == pytest.approx(16 * (1 - 0.125))


def test_jitter_spreads_waits_and_is_reproducible_with_a_seed() -> None:
    backoff = ExponentialBackoff(initial=10.0, jitter=0.5)
    rng_a, rng_b = random.Random(7), random.Random(7)
    first = [backoff.delay(1, rng_a) for _ in range(20)]
    second = [backoff.delay(1, rng_b) for _ in range(20)]
    assert first == second
    assert len(set(first)) > 10
    assert all(5.0 <= d <= 10.0 for d in first)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": -0.1},
        {"multiplier": 0.5},
        {"maximum": -1.0},
        {"jitter": -0.01},
        {"jitter": 1.01},
    ],
)
def test_backoff_rejects_invalid_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        ExponentialBackoff(**kwargs)


# --- RetryPolicy ------------------------------------------------------------------------


def test_retryable_error_is_retried_up_to_max_retries() -> None:
    policy = RetryPolicy(max_retries=3)
    error = RateLimitError("slow down")
    assert [policy.should_retry(error, done) for done in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_zero_max_retries_never_retries() -> None:
    assert not RetryPolicy(max_retries=0).should_retry(RateLimitError("x"), 0)


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("bad key"),
        ModelNotFoundError("no such model"),
        ContextLengthError("too long"),
        ProviderError("bad request", status=400, retryable=False),
        RateLimitError("429 but told not to", retryable=False),
    ],
)
def test_non_retryable_errors_are_never_retried(error: ProviderError) -> None:
    policy = RetryPolicy(max_retries=100)
    assert not any(policy.should_retry(error, done) for done in range(100))


@pytest.mark.parametrize(
    "error",
    [RateLimitError("x"), OverloadedError("x"), ProviderError("x", status=503, retryable=True)],
)
def test_retryable_errors_are_retried(error: ProviderError) -> None:
    assert RetryPolicy(max_retries=1).should_retry(error, 0)


def test_negative_max_retries_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        RetryPolicy(max_retries=-1)


def test_wait_uses_backoff_when_no_retry_after() -> None:
    policy = RetryPolicy(backoff=ExponentialBackoff(initial=1.5, multiplier=3.0, jitter=0))
    error = ProviderError("boom", status=500, retryable=True)
    assert [policy.wait(error, n, random.Random(0)) for n in (1, 2, 3)] == [1.5, 4.5, 13.5]


def test_retry_after_wins_over_backoff() -> None:
    policy = RetryPolicy(backoff=ExponentialBackoff(initial=1.0, jitter=0.5))
    error = RateLimitError("slow down", retry_after=7.0)
    assert policy.wait(error, 1, random.Random(0)) == 7.0
    assert policy.wait(error, 5, random.Random(0)) == 7.0


def test_retry_after_shorter_than_backoff_still_wins() -> None:
    policy = RetryPolicy(backoff=ExponentialBackoff(initial=20.0, jitter=0))
    assert policy.wait(RateLimitError("x", retry_after=0.0), 1, random.Random(0)) == 0.0


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=60.0)
    assert policy.wait(RateLimitError("x", retry_after=3600.0), 1, random.Random(0)) == 60.0
    assert policy.wait(RateLimitError("x", retry_after=math.inf), 1, random.Random(0)) == 60.0


def test_negative_retry_after_waits_zero() -> None:
    policy = RetryPolicy()
    assert policy.wait(RateLimitError("x", retry_after=-5.0), 1, random.Random(0)) == 0.0


@given(
    retry_after=st.floats(allow_nan=False),
    cap=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_wait_with_retry_after_is_within_zero_and_cap(retry_after: float, cap: float) -> None:
    policy = RetryPolicy(retry_after_cap=cap)
    wait = policy.wait(RateLimitError("x", retry_after=retry_after), 1, random.Random(0))
    assert 0.0 <= wait <= cap


# --- parse_retry_after ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "5"}, 5.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": " 2 "}, 2.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "1500.5"}, 1.5005),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "-3"}, 0.0),
    ],
)
def test_parse_retry_after_numbers(headers: dict[str, str], expected: float) -> None:
    assert parse_retry_after(headers, NOW) == pytest.approx(expected)


def test_parse_retry_after_http_date_in_the_future() -> None:
    headers = {"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}
    assert parse_retry_after(headers, NOW) == 30.0


def test_parse_retry_after_http_date_depends_on_injected_now() -> None:
    headers = {"retry-after": "Thu, 01 Jan 2026 12:02:00 GMT"}
    assert parse_retry_after(headers, NOW + timedelta(seconds=90)) == 30.0
    assert parse_retry_after(headers, NOW - timedelta(hours=1)) == 3720.0


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    headers = {"retry-after": "Wed, 31 Dec 2025 23:59:00 GMT"}
    assert parse_retry_after(headers, NOW) == 0.0


def test_parse_retry_after_http_date_with_offset() -> None:
    # 13:00:10 at +01:00 is 12:00:10 UTC.
    headers = {"retry-after": "Thu, 01 Jan 2026 13:00:10 +0100"}
    assert parse_retry_after(headers, NOW) == 10.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "application/json"},
        {"retry-after": ""},
        {"retry-after": "soon"},
        {"retry-after": "Thursday afternoon"},
        {"retry-after-ms": "later"},
    ],
)
def test_parse_retry_after_absent_or_garbage_is_none(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers, NOW) is None


def test_parse_retry_after_reads_httpx_headers_case_insensitively() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "12"}), NOW) == 12.0
    assert parse_retry_after(httpx.Headers({"Retry-After-Ms": "40"}), NOW) == 0.04


@given(
    seconds=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_parse_retry_after_round_trips_http_dates(seconds: int) -> None:
    when = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after({"retry-after": when}, NOW) == max(0.0, float(seconds))


@given(ms=st.text(), seconds=st.text())
def test_parse_retry_after_never_raises_and_is_never_negative(ms: str, seconds: str) -> None:
    for headers in (
        {"retry-after": seconds},
        {"retry-after-ms": ms},
        {"retry-after-ms": ms, "retry-after": seconds},
    ):
        value = parse_retry_after(headers, NOW)
        assert value is None or value >= 0


@given(value=st.floats() | st.integers(min_value=-(10**12), max_value=10**12))
def test_parse_retry_after_numeric_text_is_never_negative(value: float) -> None:
    for name in ("retry-after", "retry-after-ms"):
        parsed = parse_retry_after({name: str(value)}, NOW)
        assert parsed is not None
        assert parsed >= 0  # also rules out NaN
