"""A real LLMService and EmbeddingService against the loopback provider fake, sharing one
RecordBus with the monitor and the OpenTelemetry exporter: every call is counted."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ai.core.records import RecordBus
from ai.errors import AuthenticationError
from ai.llm_service import LLMService
from ai.rag import EmbeddingService
from ai.testing import FakeProviderServer, Fault
from ml_ops.monitoring import MLMonitor, OTelExporter
from tests.ai.provider_configs import TEST_KEY, openai_config

HELLO = [{"role": "user", "content": "Hello!"}]


async def test_service_records_feed_the_monitor_and_the_exporter(
    provider_fake: FakeProviderServer,
) -> None:
    bus = RecordBus()
    monitor = MLMonitor()
    monitor.attach(bus)
    memory = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(memory))
    OTelExporter(tracing).attach(bus)
    async with (
        LLMService(openai_config(provider_fake, max_retries=0), bus=bus) as llm,
        EmbeddingService(
            api_key=TEST_KEY, base_url=provider_fake.openai_base_url, bus=bus, cache=False
        ) as embeddings,
    ):
        await llm.complete(messages=HELLO, user="ann", agent="coder")
        await llm.complete(messages=HELLO, user="bob", agent="coder")
        provider_fake.faults.push(Fault.auth_error())
        with pytest.raises(AuthenticationError):
            await llm.complete(messages=HELLO, user="ann")
        await embeddings.embed(["alpha", "beta"], user="carol")
    await monitor.aclose()

    stats = monitor.get_real_time_stats("1m")
    assert stats["total_requests"] == 4
    assert stats["failed_requests"] == 1
    assert stats["error_types"] == {"authentication": 1}
    assert set(stats["by_operation"]) == {"chat", "embedding"}
    assert stats["by_operation"]["chat"]["total_requests"] == 3
    assert stats["by_user"]["ann"]["total_requests"] == 2
    assert stats["by_agent"]["coder"]["successful_requests"] == 2
    assert stats["tokens"]["input"] > 0 and stats["tokens"]["output"] > 0
    assert stats["total_cost"] > 0
    assert stats["latency_ms"]["p50"] is not None
    assert stats["cost_by_provider"].keys() == {"openai"}

    names = sorted(span.name for span in memory.get_finished_spans())
    assert len(names) == 4 and names[0].startswith("chat gpt-4o-mini")
    assert any(name.startswith("embeddings ") for name in names)
    tracing.shutdown()
