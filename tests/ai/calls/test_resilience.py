"""Every injected fault, end to end: attempts, waits on an injected clock, fallback, outcome."""

from __future__ import annotations

import asyncio
import traceback
from datetime import timedelta
from email.utils import format_datetime

import pytest

from ai.calls.circuit import CircuitState
from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    CircuitOpenError,
    InvalidResponseError,
    ModelNotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)
from ai.llm_service import LLMConfig, LLMProvider, LLMService, ModelRoute
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import TEST_KEY, anthropic_config, openai_config
from tests.services.ports import closed_port

HELLO = [{"role": "user", "content": "Hello!"}]


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{closed_port()}/v1"


async def test_rate_limit_retry_after_is_honoured(
    fake: FakeProviderServer, clock: FakeClock, records: list[RequestRecord]
) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=7))
    async with LLMService(openai_config(fake), clock=clock) as llm:
        llm.subscribe(records.append)
        _, stats = await llm.complete(messages=HELLO)
    assert clock.sleeps == [7.0]
    assert stats.attempts == 2
    assert fake.request_count() == 2
    [record] = records
    assert record.success and record.attempts == 2


async def test_retry_after_as_http_date(fake: FakeProviderServer, clock: FakeClock) -> None:
    when = clock.now() + timedelta(seconds=30)
    fake.faults.push(Fault.rate_limit(retry_after=format_datetime(when, usegmt=True)))
    async with LLMService(openai_config(fake), clock=clock) as llm:
        await llm.complete(messages=HELLO)
    assert clock.sleeps == [30.0]


async def test_retry_after_is_capped(fake: FakeProviderServer, clock: FakeClock) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=3600))
    config = openai_config(fake, retry_after_cap=20.0, timeout=600.0)
    async with LLMService(config, clock=clock) as llm:
        await llm.complete(messages=HELLO)
    assert clock.sleeps == [20.0]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_back_off_exponentially(
    fake: FakeProviderServer, clock: FakeClock, status: int
) -> None:
    fake.faults.add(Fault.server_error(status), times=3)
    config = openai_config(fake, max_retries=3, retry_delay=0.5, retry_multiplier=3.0)
    async with LLMService(config, clock=clock) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert clock.sleeps == [0.5, 1.5, 4.5]
    assert stats.attempts == 4


async def test_jitter_keeps_waits_within_bounds(fake: FakeProviderServer, clock: FakeClock) -> None:
    fake.faults.add(Fault.server_error(500), times=3)
    config = openai_config(fake, retry_jitter=0.5, retry_delay=1.0, retry_multiplier=2.0)
    async with LLMService(config, clock=clock) as llm:
        await llm.complete(messages=HELLO)
    for wait, nominal in zip(clock.sleeps, [1.0, 2.0, 4.0], strict=True):
        assert nominal * 0.5 <= wait <= nominal


async def test_retries_exhausted_raise_the_typed_error_and_record_the_failure(
    fake: FakeProviderServer, clock: FakeClock, records: list[RequestRecord]
) -> None:
    fake.faults.add(Fault.rate_limit(retry_after=1), times=None)
    async with LLMService(openai_config(fake, max_retries=2), clock=clock) as llm:
        llm.subscribe(records.append)
        with pytest.raises(RateLimitError) as caught:
            await llm.complete(messages=HELLO)
    assert caught.value.status == 429 and caught.value.provider_message
    assert clock.sleeps == [1.0, 1.0]
    assert fake.request_count() == 3
    [record] = records
    assert not record.success and record.error_type == "rate_limit" and record.attempts == 3


async def test_anthropic_overloaded_529_is_retried(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.overloaded())
    async with LLMService(anthropic_config(fake), clock=clock) as llm:
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.attempts == 2 and clock.sleeps == [1.0]


async def test_authentication_error_is_not_retried_nor_fallen_back(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.auth_error())
    config = openai_config(fake, fallback_models=["gpt-4o"])
    async with LLMService(config, clock=clock) as llm:
        with pytest.raises(AuthenticationError, match="API key"):
            await llm.complete(messages=HELLO)
    assert clock.sleeps == [] and fake.request_count() == 1


async def test_wrong_key_from_the_real_auth_check(fake: FakeProviderServer) -> None:
    config = openai_config(fake, api_key="sk-wrong-key-000000000000")
    async with LLMService(config) as llm:
        with pytest.raises(AuthenticationError) as caught:
            await llm.complete(messages=HELLO)
    assert caught.value.status == 401
    assert "sk-wrong-key-000000000000" not in str(caught.value)


async def test_disconnect_is_a_connection_error_and_retried(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.disconnect())
    async with LLMService(openai_config(fake), clock=clock) as llm:
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.attempts == 2 and clock.sleeps == [1.0]


async def test_refused_connection_falls_back_to_another_provider(
    fake: FakeProviderServer, clock: FakeClock, records: list[RequestRecord]
) -> None:
    config = openai_config(
        fake,
        base_url=closed_port_url(),
        max_retries=1,
        fallback_models=[
            ModelRoute("anthropic", "claude-3-5-haiku-20241022", TEST_KEY, fake.anthropic_base_url)
        ],
    )
    async with LLMService(config, clock=clock) as llm:
        llm.subscribe(records.append)
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.provider == "anthropic" and stats.fallback_used
    assert stats.attempts == 3  # two refused tries on the primary, one on the fallback
    assert records[0].model_requested == "gpt-4o-mini"
    assert records[0].model is not None and records[0].model.startswith("claude")


async def test_refused_connection_without_fallback(clock: FakeClock) -> None:
    config = LLMConfig(
        provider=LLMProvider.OPENAI,
        api_key=TEST_KEY,
        model="gpt-4o-mini",
        base_url=closed_port_url(),
        max_retries=2,
        retry_jitter=0.0,
    )
    async with LLMService(config, clock=clock) as llm:
        with pytest.raises(ProviderConnectionError, match="Could not reach"):
            await llm.complete(messages=HELLO)
    assert clock.sleeps == [1.0, 2.0]


async def test_slow_first_byte_hits_the_deadline(fake: FakeProviderServer) -> None:
    fake.faults.add(Fault.slow_first_byte(2.0), times=None)
    config = openai_config(fake, timeout=0.3, max_retries=3)
    async with LLMService(config) as llm:
        with pytest.raises(ProviderTimeoutError):
            await llm.complete(messages=HELLO)
    assert fake.request_count() == 1  # the deadline covers every attempt


async def test_read_timeout_is_retried_while_the_deadline_allows(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.slow_first_byte(2.0))
    config = openai_config(fake, timeout=0.4, retry_delay=0.0)
    async with LLMService(config, clock=clock) as llm:
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.attempts == 2


async def test_waits_beyond_the_deadline_are_not_taken(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=30))
    async with LLMService(openai_config(fake, timeout=10.0), clock=clock) as llm:
        with pytest.raises(RateLimitError):
            await llm.complete(messages=HELLO)
    assert clock.sleeps == [] and fake.request_count() == 1


async def test_malformed_json_is_an_invalid_response(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.faults.push(Fault.malformed_json())
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        with pytest.raises(InvalidResponseError, match="documented format"):
            await llm.complete(messages=HELLO)
    assert records[0].error_type == "invalid_response" and not records[0].success


async def test_unknown_model_falls_back_to_the_next_model(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    config = openai_config(fake, model="gpt-9-imaginary", fallback_models=["gpt-4o-mini"])
    async with LLMService(config, clock=clock) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert stats.model.startswith("gpt-4o-mini") and stats.fallback_used
    assert stats.attempts == 2 and clock.sleeps == []


async def test_unknown_model_without_fallback(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake, model="gpt-9-imaginary")) as llm:
        with pytest.raises(ModelNotFoundError, match="gpt-9-imaginary"):
            await llm.complete(messages=HELLO)


async def test_unknown_model_fault_on_a_known_model(fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.unknown_model())
    config = openai_config(fake, fallback_models=["gpt-4o"])
    async with LLMService(config) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert stats.model.startswith("gpt-4o") and stats.fallback_used


@pytest.mark.parametrize(
    ("retry_before_fallback", "attempts", "sleeps"),
    [
        # The primary's first failure is isolated, so it is retried; its second makes a
        # streak and goes to gpt-4o; gpt-4o's first is isolated too; the last model is
        # retried up to max_retries whatever happened.
        (False, 6, [1.0, 1.0, 1.0]),
        (True, 6, [1.0, 1.0, 1.0]),
    ],
)
async def test_exhausted_retries_fall_back_then_all_fail(
    fake: FakeProviderServer,
    clock: FakeClock,
    records: list[RequestRecord],
    retry_before_fallback: bool,
    attempts: int,
    sleeps: list[float],
) -> None:
    fake.faults.add(Fault.server_error(503), times=None)
    config = openai_config(
        fake,
        max_retries=1,
        fallback_models=["gpt-4o", "gpt-4.1-mini"],
        retry_before_fallback=retry_before_fallback,
        retry_jitter=0.0,
    )
    async with LLMService(config, clock=clock) as llm:
        llm.subscribe(records.append)
        with pytest.raises(AllModelsFailedError) as caught:
            await llm.complete(messages=HELLO)
    assert [e.model for e in caught.value.errors] == ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]
    assert all(isinstance(e, ProviderError) and e.status == 503 for e in caught.value.errors)
    assert fake.request_count() == attempts
    assert clock.sleeps == sleeps
    [record] = records
    assert record.attempts == attempts and record.fallback_used and not record.success


@pytest.mark.parametrize("retry_before_fallback", [False, True])
async def test_a_model_failing_in_a_row_hands_calls_to_the_fallback_at_once(
    fake: FakeProviderServer, clock: FakeClock, retry_before_fallback: bool
) -> None:
    """An isolated failure is retried on the same model after the backoff; once the
    model's attempts fail in a row (an outage), each call's first failure goes straight
    to the fallback, with no wait: unless `retry_before_fallback`."""
    config = openai_config(
        fake,
        fallback_models=["gpt-4o"],
        max_retries=3,
        retry_jitter=0.0,
        retry_before_fallback=retry_before_fallback,
    )
    async with LLMService(config, clock=clock) as llm:
        fake.faults.push(Fault.server_error(500))  # one blip
        _, stats = await llm.complete(messages=HELLO)
        assert stats.model.startswith("gpt-4o-mini") and stats.attempts == 2
        assert clock.sleeps == [1.0] and not stats.fallback_used
        fake.faults.add(Fault.server_error(503), times=None, model="gpt-4o-mini")  # down
        clock.sleeps.clear()
        first = await llm.complete(messages=HELLO)
        second = await llm.complete(messages=HELLO)
    if retry_before_fallback:  # the call waits out the primary's retries, which open
        assert first[1].attempts == 5 and clock.sleeps == [1.0, 2.0, 4.0]  # its circuit
        assert second[1].attempts == 1  # skipped while open
    else:  # the first call retries once (an isolated failure), then the streak hands over
        assert first[1].attempts == 3 and clock.sleeps == [1.0]
        assert second[1].attempts == 2  # one failed try, straight to the fallback
    assert first[1].fallback_used and second[1].fallback_used
    assert second[1].model.startswith("gpt-4o") and not second[1].model.startswith("gpt-4o-m")


async def test_a_fallback_behind_an_open_circuit_does_not_stop_retries(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    """Handing over at once only pays when the next model may take the call: with its
    circuit open, the failing primary is retried as if it were the last model."""
    fake.faults.add(Fault.server_error(500), times=None, model="gpt-4o")
    config = openai_config(
        fake, fallback_models=["gpt-4o"], circuit_failure_threshold=3, retry_jitter=0.0
    )
    async with LLMService(config, clock=clock) as llm:
        with pytest.raises(ProviderError):
            await llm.complete(messages=HELLO, model="gpt-4o")
        assert llm.circuit_state("gpt-4o") is CircuitState.OPEN
        for _ in range(2):  # the primary fails twice in a row: a streak
            fake.faults.push(Fault.server_error(500))
        clock.sleeps.clear()
        _, stats = await llm.complete(messages=HELLO)
    assert stats.model.startswith("gpt-4o-mini") and not stats.fallback_used
    assert stats.attempts == 3 and clock.sleeps == [1.0, 2.0]


async def test_fallback_after_model_specific_outage(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.add(Fault.overloaded(), times=None, model="claude-3-5-haiku-20241022")
    config = anthropic_config(fake, max_retries=1, fallback_models=["claude-3-haiku-20240307"])
    async with LLMService(config, clock=clock) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert stats.model == "claude-3-haiku-20240307" and stats.attempts == 3


async def test_circuit_breaker_skips_a_failing_model_and_half_opens(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.add(Fault.server_error(500), times=None, model="gpt-4o-mini")
    config = openai_config(
        fake,
        max_retries=0,
        fallback_models=["gpt-4o"],
        circuit_failure_threshold=2,
        circuit_cooldown=30.0,
    )
    async with LLMService(config, clock=clock) as llm:
        for _ in range(2):
            _, stats = await llm.complete(messages=HELLO)
            assert stats.fallback_used
        assert fake.request_count(model="gpt-4o-mini") == 2
        assert llm.circuit_state("gpt-4o-mini") is CircuitState.OPEN
        assert llm.circuit_state("gpt-4o") is CircuitState.CLOSED
        _, stats = await llm.complete(messages=HELLO)
        assert stats.fallback_used and stats.attempts == 1
        assert fake.request_count(model="gpt-4o-mini") == 2  # skipped while open
        fake.faults.clear()
        clock.advance(30.0)
        _, stats = await llm.complete(messages=HELLO)
        assert not stats.fallback_used  # the half-open trial succeeded
        assert fake.request_count(model="gpt-4o-mini") == 3
        assert llm.circuit_state("gpt-4o-mini") is CircuitState.CLOSED


async def test_open_circuit_without_fallback_raises_circuit_open(
    fake: FakeProviderServer, clock: FakeClock, records: list[RequestRecord]
) -> None:
    fake.faults.add(Fault.overloaded(), times=None)
    config = openai_config(fake, max_retries=0, circuit_failure_threshold=1)
    async with LLMService(config, clock=clock) as llm:
        llm.subscribe(records.append)
        with pytest.raises(OverloadedError):
            await llm.complete(messages=HELLO)
        with pytest.raises(ProviderError, match="circuit breaker is open"):
            await llm.complete(messages=HELLO)
    assert fake.request_count() == 1
    assert [r.error_type for r in records] == ["overloaded", "circuit_open"]


async def test_a_callers_own_short_deadline_is_not_held_against_the_model(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """Impatient callers (timeout below the configured one) time out on a healthy but
    slowish model; that says nothing about the model, so a patient call still gets it."""
    fake.faults.add(Fault.slow_first_byte(1.0), times=3)
    config = openai_config(fake, timeout=30.0, max_retries=0, circuit_failure_threshold=2)
    async with LLMService(config) as llm:
        llm.subscribe(records.append)
        outcomes = await asyncio.gather(
            *(llm.complete(messages=HELLO, timeout=0.2) for _ in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(o, ProviderTimeoutError) for o in outcomes)
        assert llm.circuit_state("gpt-4o-mini") is CircuitState.CLOSED
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.attempts == 1
    assert [r.error_type for r in records].count("timeout") == 3 and records[-1].success


async def test_timeouts_at_the_configured_deadline_still_open_the_circuit(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """A model that does not answer within the service's own deadline is down: a hung
    upstream still trips the breaker (and hands calls to a fallback)."""
    fake.faults.add(Fault.slow_first_byte(2.0), times=2)
    config = openai_config(fake, timeout=0.2, max_retries=0, circuit_failure_threshold=2)
    async with LLMService(config) as llm:
        for _ in range(2):
            with pytest.raises(ProviderTimeoutError):
                await llm.complete(messages=HELLO)
        assert llm.circuit_state("gpt-4o-mini") is CircuitState.OPEN
        with pytest.raises(CircuitOpenError):
            await llm.complete(messages=HELLO)
    assert fake.request_count() == 2


async def test_a_second_account_on_the_same_model_serves_when_the_first_key_fails(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """The same model and URL under another key is a route of its own (a second account):
    a refused key hands the call to it, while routes on the refused key are skipped."""
    config = openai_config(
        fake,
        api_key="sk-first-account-000000000000",
        fallback_models=[
            "gpt-4o",  # same (refused) account: skipped
            ModelRoute("openai", "gpt-4o-mini", api_key=TEST_KEY, base_url=fake.openai_base_url),
        ],
    )
    async with LLMService(config) as llm:
        llm.subscribe(records.append)
        assert len(llm.routes) == 3
        text, stats = await llm.complete(messages=HELLO)
    assert text and stats.fallback_used and stats.attempts == 2
    assert [r.model for r in fake.requests] == ["gpt-4o-mini", "gpt-4o-mini"]
    [record] = records
    assert record.success and "sk-first-account" not in repr(llm.routes)


async def test_a_refused_key_without_another_account_is_not_fallen_back(
    fake: FakeProviderServer,
) -> None:
    config = openai_config(fake, api_key="sk-wrong-key-000000000000", fallback_models=["gpt-4o"])
    async with LLMService(config) as llm:
        with pytest.raises(AuthenticationError):
            await llm.complete(messages=HELLO)
    assert fake.request_count() == 1


async def test_a_password_in_the_base_url_never_shows(records: list[RequestRecord]) -> None:
    secret = "URLPASSWORD99"
    base_url = closed_port_url().replace("http://", f"http://user:{secret}@")
    config = LLMConfig(
        provider=LLMProvider.OPENAI, api_key=TEST_KEY, base_url=base_url, max_retries=0
    )
    async with LLMService(config) as llm:
        llm.subscribe(records.append)
        with pytest.raises(ProviderConnectionError, match="Could not reach") as caught:
            await llm.complete(messages=HELLO)
        shown = [repr(config), repr(llm), repr(llm.routes), str(caught.value)]
    shown += ["".join(traceback.format_exception(caught.value)), records[0].error_message or ""]
    assert all(secret not in text for text in shown)
    assert "user:***@" in str(caught.value) and "user:***@" in repr(config)
