"""OpenTelemetry: one span per record with GenAI semantic-convention attributes, tested
with the SDK's in-memory exporter; a clear ImportError without the `otel` extra."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ai.core.clock import FakeClock
from ai.core.records import CostSource, Operation, RecordBus
from ai.core.usage import Usage
from ai.errors import ErrorType
from ml_ops.monitoring import OTelExporter
from tests.ml_ops.monitoring.records import make_record


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    provider.shutdown()


def test_a_successful_chat_becomes_a_client_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = spans
    clock = FakeClock()
    record = make_record(
        clock, model_requested="gpt-4o-mini", model="gpt-4o-mini-2024-07-18",
        latency_ms=1500, time_to_first_token_ms=300.0, user="ann", agent="coder",
        usage=Usage(input_tokens=120, output_tokens=30, cached_input_tokens=100),
        cost_source=CostSource.PRICING, attempts=2,
    )  # fmt: skip
    OTelExporter(provider).export(record)
    (span,) = memory.get_finished_spans()
    assert span.name == "chat gpt-4o-mini" and span.kind is SpanKind.CLIENT
    end_ns = round(clock.now().timestamp() * 1e9)
    assert span.end_time == end_ns
    assert span.start_time == round((clock.now() - timedelta(seconds=1.5)).timestamp() * 1e9)
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "devora.request_id": record.request_id,
        "devora.outcome": "success",
        "devora.cost_usd": 0.001,
        "devora.cost_source": "pricing",
        "devora.cached": False,
        "devora.streamed": False,
        "devora.attempts": 2,
        "devora.fallback_used": False,
        "devora.time_to_first_token_ms": 300.0,
        "devora.agent": "coder",
        "devora.usage.cached_input_tokens": 100,
        "devora.usage.reasoning_tokens": 0,
    }


def test_failures_set_error_type_and_status_and_users_are_opt_in(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = spans
    bus = RecordBus()
    exporter = OTelExporter(provider, include_user=True)
    exporter.attach(bus)
    bus.emit(make_record(success=False, error_type=ErrorType.RATE_LIMIT, usage=None,
                         error_message="429 from sk-abcdef0123456789", user="ann"))  # fmt: skip
    bus.emit(make_record(operation=Operation.EMBEDDING, model_requested="text-embedding-3-small"))
    exporter.detach()
    bus.emit(make_record())  # no longer exported
    failed, embedded = memory.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description is not None
    assert "sk-abcdef0123456789" not in failed.status.description
    attributes = dict(failed.attributes or {})
    assert attributes["error.type"] == "rate_limit" and attributes["devora.user"] == "ann"
    assert "gen_ai.usage.input_tokens" not in attributes
    assert embedded.name == "embeddings text-embedding-3-small"
    assert dict(embedded.attributes or {})["gen_ai.operation.name"] == "embeddings"


def test_without_opentelemetry_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "ml_ops.monitoring.otel")
    with pytest.raises(ImportError, match=r"devora-ai\[otel\]"):
        importlib.import_module("ml_ops.monitoring.otel")


def test_importing_monitoring_loads_neither_exporter_library() -> None:
    code = (
        "import sys, ml_ops.monitoring\n"
        "print('opentelemetry' in sys.modules, 'prometheus_client' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
