"""The cache wired into LLMService, against the fakes and a real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import UTC

import pytest

from ai.cache import ResponseCache
from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import SCHEMA_VERSION, CostSource, Operation, Outcome, RequestRecord
from ai.errors import ConfigurationError, ProviderError, ProviderTimeoutError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import anthropic_config, openai_config

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


async def test_a_repeated_deterministic_call_is_served_from_cache(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    cache = ResponseCache.memory()
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        llm.subscribe(records.append)
        first_text, first = await llm.complete(messages=QUESTION)
        second_text, second = await llm.complete(messages=QUESTION)
    assert fake.request_count() == 1
    assert second_text == first_text
    assert not first.cached and second.cached
    assert second.estimated_cost == 0.0 and second.cost_source == "cache"
    assert first.estimated_cost is not None and second.saved_cost == pytest.approx(
        first.estimated_cost
    )
    assert second.input_tokens == 0 and second.attempts == 0
    assert [r.cached for r in records] == [False, True]
    assert records[1].saved_cost == pytest.approx(first.estimated_cost)
    assert records[1].estimated_cost == 0.0
    assert cache.get_metrics()["cost_saved"] == pytest.approx(first.estimated_cost)


async def test_a_cache_namespace_shares_answers_only_within_it(
    fake: FakeProviderServer,
) -> None:
    """Two teams behind one gateway: each reads its own answers, never the other's."""
    async with LLMService(openai_config(fake), cache=ResponseCache.memory()) as llm:
        _, red = await llm.complete(messages=QUESTION, cache_namespace="team:red")
        _, blue = await llm.complete(messages=QUESTION, cache_namespace="team:blue")
        _, red_again = await llm.complete(messages=QUESTION, cache_namespace="team:red")
        stream = llm.stream(messages=QUESTION, cache_namespace="team:blue")
        _, blue_streamed = await stream.collect()
        _, shared = await llm.complete(messages=QUESTION)  # the shared namespace: its own
        with pytest.raises(ConfigurationError, match="cache_namespace must be a string"):
            await llm.complete(messages=QUESTION, cache_namespace=7)  # type: ignore[typeddict-item]
    assert [s.cached for s in (red, blue, red_again, blue_streamed, shared)] == [
        False, False, True, True, False,
    ]  # fmt: skip
    assert fake.request_count() == 3


async def test_sampled_calls_are_cached_by_default(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake), cache=ResponseCache.memory()) as llm:  # 0.7
        await llm.complete(messages=QUESTION)
        _, stats = await llm.complete(messages=QUESTION)
        _, other = await llm.complete(messages=QUESTION, temperature=0.2)  # another key
    assert fake.request_count() == 2 and stats.cached and not other.cached


async def test_deterministic_only_sends_sampled_calls_to_the_provider_each_time(
    fake: FakeProviderServer,
) -> None:
    cache = ResponseCache.memory(deterministic_only=True)
    async with LLMService(openai_config(fake), cache=cache) as llm:  # temperature 0.7
        await llm.complete(messages=QUESTION)
        await llm.complete(messages=QUESTION)
        await llm.complete(messages=QUESTION, cache="use")
        _, stats = await llm.complete(messages=QUESTION, cache="use")
    assert fake.request_count() == 3 and stats.cached


async def test_per_call_modes(fake: FakeProviderServer) -> None:
    async with LLMService(
        openai_config(fake, temperature=0.0), cache=ResponseCache.memory()
    ) as llm:
        await llm.complete(messages=QUESTION, cache="no-store")
        assert fake.request_count() == 1
        await llm.complete(messages=QUESTION)
        assert fake.request_count() == 2  # the no-store answer was not kept
        _, bypassed = await llm.complete(messages=QUESTION, cache="bypass")
        fake.replies.push("Paris, refreshed.")
        refreshed_text, _ = await llm.complete(messages=QUESTION, cache="refresh")
        text, stats = await llm.complete(messages=QUESTION)
    assert not bypassed.cached and fake.request_count() == 4
    assert refreshed_text == text == "Paris, refreshed." and stats.cached


async def test_a_cache_mode_without_a_cache_is_a_configuration_error(
    fake: FakeProviderServer,
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        with pytest.raises(ConfigurationError, match="no cache"):
            await llm.complete(messages=QUESTION, cache="refresh")
        text, _ = await llm.complete(messages=QUESTION, cache="bypass")
    assert text


async def test_a_hundred_concurrent_identical_calls_make_one_provider_call(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.faults.push(Fault.slow_first_byte(0.2))  # keep the first call in flight
    cache = ResponseCache.memory()
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        llm.subscribe(records.append)
        results = await asyncio.gather(*(llm.complete(messages=QUESTION) for _ in range(100)))
    assert fake.request_count() == 1
    assert len({text for text, _ in results}) == 1
    assert sum(not stats.cached for _, stats in results) == 1
    assert len(records) == 100 and sum(r.estimated_cost or 0 for r in records) == pytest.approx(
        next(s.estimated_cost for _, s in results if not s.cached)
    )
    assert cache.get_metrics()["coalesced_calls"] == 99


async def test_a_failed_shared_call_fails_every_waiter(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.faults.push(Fault.auth_error())
    async with LLMService(
        openai_config(fake, temperature=0.0), cache=ResponseCache.memory()
    ) as llm:
        llm.subscribe(records.append)
        outcomes = await asyncio.gather(
            *(llm.complete(messages=QUESTION) for _ in range(10)), return_exceptions=True
        )
    assert fake.request_count() == 1
    assert all(isinstance(o, ProviderError) and o.status == 401 for o in outcomes)
    assert len(records) == 10 and not any(r.success for r in records)


@pytest.mark.parametrize("make_config", [openai_config, anthropic_config])
async def test_streams_are_stored_and_replayed_from_cache(
    fake: FakeProviderServer, make_config: object, records: list[RequestRecord]
) -> None:
    reply = "Paris is the capital of France, and it has been for a very long time indeed."
    fake.replies.push(reply)
    config = make_config(fake, temperature=0.0)  # type: ignore[operator]
    async with LLMService(config, cache=ResponseCache.memory()) as llm:
        llm.subscribe(records.append)
        fresh = llm.stream(messages=QUESTION)
        fresh_text = "".join([d async for d in fresh])
        replay = llm.stream(messages=QUESTION)
        chunks = [d async for d in replay]
        text, plain = await llm.complete(messages=QUESTION)
    assert fresh_text == reply == "".join(chunks) == text
    assert len(chunks) >= 2  # replayed as several chunks
    assert replay.stats is not None and replay.stats.cached and plain.cached
    assert fake.request_count() == 1
    assert [r.cached for r in records] == [False, True, True]
    assert records[1].streamed


async def test_a_fresh_stream_closed_early_is_recorded_once_with_what_arrived(
    fake: FakeProviderServer, records: list[RequestRecord], caplog: pytest.LogCaptureFixture
) -> None:
    """Through the cache, closing a stream early closed only the cache's layer: the call
    was recorded cancelled without its usage, its connection stayed open, and when the
    inner stream was freed later its own record was dropped with an error logged."""
    fake.replies.push("word " * 500)
    async with LLMService(openai_config(fake), cache=ResponseCache.memory()) as llm:
        llm.subscribe(records.append)
        async with llm.stream(messages=QUESTION) as stream:
            async for _ in stream:
                break
        [record] = records  # recorded at once, before the service closes
    assert record.outcome is Outcome.CANCELLED and record.streamed
    assert record.usage is not None and record.usage.output_tokens > 0
    assert record.time_to_first_token_ms is not None and record.estimated_cost
    assert len(records) == 1
    assert not [r for r in caplog.records if "second record" in r.getMessage()]


async def test_two_services_share_answers_through_redis(
    fake: FakeProviderServer, redis_url: str, redis_key_prefix: str
) -> None:
    first = ResponseCache.redis(redis_url, prefix=redis_key_prefix)
    second = ResponseCache.redis(redis_url, prefix=redis_key_prefix)
    async with LLMService(openai_config(fake, temperature=0.0), cache=first) as llm_a:
        text_a, _ = await llm_a.complete(messages=QUESTION)
    async with LLMService(openai_config(fake, temperature=0.0), cache=second) as llm_b:
        text_b, stats_b = await llm_b.complete(messages=QUESTION)
    await first.aclose()
    await second.aclose()
    assert text_a == text_b and stats_b.cached and fake.request_count() == 1


async def test_a_dead_redis_never_fails_a_call_and_caching_resumes(
    fake: FakeProviderServer,
    redis_server: object,
    records: list[RequestRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = redis_server
    cache = ResponseCache.redis(server.url, prefix="devora-test:outage:", retry_interval=0.0)  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="ai.cache")
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        llm.subscribe(records.append)
        await cache.clear()
        await llm.complete(messages=QUESTION)
        _, warm = await llm.complete(messages=QUESTION)
        assert warm.cached
        server.stop()  # type: ignore[attr-defined]
        for _ in range(3):
            text, stats = await llm.complete(messages=QUESTION)
            assert text and not stats.cached
        assert cache.get_metrics()["available"] is False
        server.start()  # type: ignore[attr-defined]
        await llm.complete(messages=QUESTION)  # a miss (Redis came back empty), then stored
        _, recovered = await llm.complete(messages=QUESTION)
    await cache.aclose()
    assert recovered.cached
    metrics = cache.get_metrics()
    assert metrics["outages"] == 1 and metrics["backend_errors"] >= 3 and metrics["available"]
    outage_warnings = [r for r in caplog.records if "uncached" in r.getMessage()]
    assert len(outage_warnings) == 1
    assert len(records) == 7 and all(r.success for r in records)
    assert fake.request_count() == 5


async def test_every_hit_leaves_one_labelled_priced_record(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """The hit path builds its record with fewer steps than a provider call; it must still
    carry what a record carries: its own request id, labels, zero cost and saved cost."""
    async with LLMService(
        openai_config(fake, temperature=0.0), cache=ResponseCache.memory()
    ) as llm:
        llm.subscribe(records.append)
        _, first = await llm.complete(messages=QUESTION)
        hits = [
            await llm.complete(messages=QUESTION, user="u-1", agent="faq", tags={"n": str(i)})
            for i in range(3)
        ]
        _, plain = await llm.complete(messages=QUESTION)
    assert fake.request_count() == 1 and len(records) == 5
    ids = [stats.request_id for _, stats in hits]
    assert len({*ids, first.request_id, plain.request_id}) == 5
    assert all(uuid.UUID(hex=i).version == 4 for i in ids)
    for (_, stats), record, n in zip(hits, records[1:4], range(3), strict=True):
        assert stats.cached and record.cached and record.request_id == stats.request_id
        assert (record.user, record.agent, dict(record.tags)) == ("u-1", "faq", {"n": str(n)})
        assert record.estimated_cost == 0.0 and stats.estimated_cost == 0.0
        assert record.saved_cost == pytest.approx(first.estimated_cost)
        assert record.usage is not None and record.usage.total_tokens == 0
        assert record.success and record.cost_source == "cache" and record.attempts == 0
    assert records[4].tags == {} and records[4].user is None


async def test_a_hit_leaves_a_complete_record_and_stats(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """The hit's stats and record are built field by field in declaration order (a hit is
    meant to be cheap): every field must hold what the keyword constructor would put there."""
    async with LLMService(
        openai_config(fake, temperature=0.0), cache=ResponseCache.memory()
    ) as llm:
        llm.subscribe(records.append)
        _, first = await llm.complete(messages=QUESTION)
        _, stats = await llm.complete(messages=QUESTION)
    assert len(records) == 2
    record = records[1]
    assert dataclasses.replace(record) == record and dataclasses.replace(stats) == stats
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.cached = False  # type: ignore[misc]
    assert (stats.provider, stats.model, stats.model_requested) == (
        first.provider,
        first.model,
        first.model_requested,
    )
    assert (stats.input_tokens, stats.output_tokens, stats.cached_input_tokens) == (0, 0, 0)
    assert (stats.cache_creation_tokens, stats.reasoning_tokens) == (0, 0)
    assert stats.tokens_estimated is False and stats.estimated_cost == 0.0
    assert stats.cost_source is CostSource.CACHE and stats.time_to_first_token_ms is None
    assert stats.attempts == 0 and stats.cached is True and stats.fallback_used is False
    assert stats.finish_reason == first.finish_reason and stats.tool_calls == []
    assert stats.saved_cost == first.estimated_cost and stats.latency_ms >= 0.0
    assert record.request_id == stats.request_id != first.request_id
    assert record.timestamp.tzinfo is UTC and record.timestamp >= records[0].timestamp
    assert (record.provider, record.model_requested, record.model) == (
        stats.provider,
        stats.model_requested,
        stats.model,
    )
    assert record.usage is not None and record.usage.total_tokens == 0
    assert record.estimated_cost == 0.0 and record.saved_cost == stats.saved_cost
    assert record.latency_ms == stats.latency_ms and record.time_to_first_token_ms is None
    assert record.attempts == 0 and record.outcome is Outcome.SUCCESS
    assert record.error_type is None and record.error_message is None
    assert record.cached is True and record.streamed is False and record.fallback_used is False
    assert record.cost_source is CostSource.CACHE
    assert (record.user, record.agent, record.tags) == (None, None, {})
    assert record.operation is Operation.CHAT and record.guard_decisions == ()
    assert record.schema_version == SCHEMA_VERSION


async def test_a_hit_under_guards_is_recorded_once_and_settled(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    settled: list[RequestRecord] = []

    class Watcher(PassThroughGuard):
        name = "watcher"

        async def after(self, call: PlannedCall, record: RequestRecord) -> None:
            settled.append(record)

    cache = ResponseCache.memory()
    config = openai_config(fake, temperature=0.0)
    async with LLMService(config, cache=cache, guards=[Watcher()]) as llm:
        llm.subscribe(records.append)
        await llm.complete(messages=QUESTION)
        _, stats = await llm.complete(messages=QUESTION)
    assert stats.cached and fake.request_count() == 1
    assert settled == records and len(records) == 2 and records[1].cached


async def first_request(fake: FakeProviderServer) -> None:
    """Wait until the fake has received a request (the leader's call is in flight)."""
    async with asyncio.timeout(5):
        while not fake.requests:  # noqa: ASYNC110 - the fake runs in another thread
            await asyncio.sleep(0.01)


async def test_a_coalesced_waiter_gives_up_at_its_own_deadline(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """Joining an identical call in flight does not make a caller wait past its own
    deadline: it raises its own timeout, recorded once, and the leader goes on."""
    fake.faults.push(Fault.slow_first_byte(1.0))
    async with LLMService(
        openai_config(fake, temperature=0.0), cache=ResponseCache.memory()
    ) as llm:
        llm.subscribe(records.append)
        leader = asyncio.create_task(llm.complete(messages=QUESTION))
        await first_request(fake)
        with pytest.raises(ProviderTimeoutError, match="waiting for an identical call"):
            await llm.complete(messages=QUESTION, timeout=0.2)
        assert not leader.done()
        text, stats = await leader
    assert text and not stats.cached and fake.request_count() == 1
    waiter, led = records
    assert (waiter.error_type, waiter.attempts, waiter.cached) == ("timeout", 0, False)
    assert led.success and not led.cached


async def test_a_leaders_own_timeout_is_not_handed_to_a_waiter_with_time_left(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """The leader's deadline passing is no answer for a caller willing to wait longer:
    that caller makes the call itself (as when a leader is cancelled)."""
    fake.faults.push(Fault.slow_first_byte(1.0))  # the leader's request only
    cache = ResponseCache.memory()
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        llm.subscribe(records.append)
        leader = asyncio.create_task(llm.complete(messages=QUESTION, timeout=0.3))
        await first_request(fake)
        text, stats = await llm.complete(messages=QUESTION, timeout=30.0)
        with pytest.raises(ProviderTimeoutError):
            await leader
        _, again = await llm.complete(messages=QUESTION)
    assert text and not stats.cached and again.cached  # its own call, then stored
    assert fake.request_count() == 2
    assert [r.error_type for r in records] == ["timeout", None, None]
    assert cache.get_metrics()["coalesced_calls"] == 0
