"""SyncLLMService: the same calls, stats and records without await, in a script or inside a
running event loop (a notebook)."""

from __future__ import annotations

import asyncio

import pytest

from ai.core.records import RequestRecord
from ai.errors import AuthenticationError
from ai.llm_service import SyncLLMService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import openai_config

HELLO = [{"role": "user", "content": "Hello!"}]


def test_complete_and_stream_block_and_record(fake: FakeProviderServer) -> None:
    records: list[RequestRecord] = []
    with SyncLLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        text, stats = llm.complete(HELLO, max_tokens=50)
        stream = llm.stream(HELLO)
        streamed = "".join(stream)
    assert text.startswith("Hello from") and stats.output_tokens > 0
    assert streamed == stream.text and stream.stats is not None and stream.stats.output_tokens
    assert [r.streamed for r in records] == [False, True]
    assert llm.get_metrics()["total_requests"] == 2


def test_errors_arrive_as_the_same_typed_errors(fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.auth_error())
    with SyncLLMService(openai_config(fake)) as llm, pytest.raises(AuthenticationError):
        llm.complete(HELLO)


async def test_it_works_inside_a_running_event_loop(fake: FakeProviderServer) -> None:
    assert asyncio.get_running_loop()  # as in Jupyter, where asyncio.run() would fail
    with SyncLLMService(openai_config(fake)) as llm:
        text, _ = llm.complete(HELLO)
        text2, stats = llm.stream(HELLO).collect()
    assert text and text2 and stats.output_tokens > 0


def test_a_stream_closed_early_is_recorded_as_cancelled(fake: FakeProviderServer) -> None:
    records: list[RequestRecord] = []
    fake.replies.push("word " * 200)
    with SyncLLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        stream = llm.stream(HELLO)
        next(stream)
        stream.close()
    assert [r.outcome.value for r in records] == ["cancelled"]


def test_close_is_idempotent(fake: FakeProviderServer) -> None:
    llm = SyncLLMService(openai_config(fake))
    llm.close()
    llm.close()
