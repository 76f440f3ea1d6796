"""OpenTelemetry export: one span per `RequestRecord`, with GenAI semantic-convention
attributes. Needs the `otel` extra (`pip install 'devora-ai[otel]'`); nothing else in
devora-ai imports OpenTelemetry.

    exporter = OTelExporter(tracer_provider)   # None: the global provider
    exporter.attach(bus)                       # every LLMService / EmbeddingService record

A record is made when its call ends, so the span ends at `record.timestamp` and starts
`latency_ms` earlier. It is a CLIENT span named `"{operation} {model}"` ("chat gpt-4o-mini",
"embeddings text-embedding-3-small") carrying

    gen_ai.operation.name        chat | embeddings
    gen_ai.provider.name         openai, anthropic, openrouter...
    gen_ai.request.model         the model asked for
    gen_ai.response.model        the model that answered (when one did)
    gen_ai.usage.input_tokens    when the call reported usage
    gen_ai.usage.output_tokens
    error.type                   on failures (span status ERROR, redacted message)

and devora's own attributes under `devora.*`: request_id, outcome, cost_usd, cost_source,
cached, streamed, attempts, fallback_used, time_to_first_token_ms, agent,
usage.cached_input_tokens, usage.reasoning_tokens, and `devora.user` only with
`include_user=True` (user ids are personal data; keep them out of traces by default).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

try:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
    from opentelemetry.util.types import AttributeValue
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "ml_ops.monitoring.OTelExporter needs OpenTelemetry: pip install 'devora-ai[otel]'"
    ) from error

from ai.core.records import Operation, RecordBus, RequestRecord
from ai.errors import redact

_OPERATION_NAMES = {Operation.CHAT: "chat", Operation.EMBEDDING: "embeddings"}


def _library_version() -> str:
    try:
        return version("devora-ai")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


class OTelExporter:
    """Turns each record into a span (see the module docstring for its attributes)."""

    def __init__(
        self, tracer_provider: TracerProvider | None = None, *, include_user: bool = False
    ) -> None:
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer("devora-ai", _library_version())
        self._include_user = include_user
        self._detach: list[Callable[[], None]] = []

    def attach(self, bus: RecordBus) -> Callable[[], None]:
        """Export every record emitted on `bus`; returns a function that detaches."""
        unsubscribe = bus.subscribe(self.export)
        self._detach.append(unsubscribe)
        return unsubscribe

    def detach(self) -> None:
        """Stop exporting from every bus attached so far."""
        for unsubscribe in self._detach:
            unsubscribe()
        self._detach.clear()

    def export(self, record: RequestRecord) -> None:
        """Record one span for `record`."""
        end = record.timestamp
        start = end - timedelta(milliseconds=max(record.latency_ms, 0.0))
        operation = _OPERATION_NAMES.get(record.operation, str(record.operation))
        span = self._tracer.start_span(
            f"{operation} {record.model_requested}",
            kind=SpanKind.CLIENT,
            start_time=_nanoseconds(start.timestamp()),
            attributes=self.attributes(record),
        )
        if not record.success:
            description = redact(record.error_message or str(record.outcome))
            span.set_status(Status(StatusCode.ERROR, description))
        span.end(end_time=_nanoseconds(end.timestamp()))

    def attributes(self, record: RequestRecord) -> dict[str, AttributeValue]:
        """The span attributes of `record`."""
        operation = _OPERATION_NAMES.get(record.operation, str(record.operation))
        found: dict[str, AttributeValue | None] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": record.provider,
            "gen_ai.request.model": record.model_requested,
            "gen_ai.response.model": record.model,
            "devora.request_id": record.request_id,
            "devora.outcome": str(record.outcome),
            "devora.cost_usd": record.estimated_cost,
            "devora.cost_source": None if record.cost_source is None else str(record.cost_source),
            "devora.cached": record.cached,
            "devora.streamed": record.streamed,
            "devora.attempts": record.attempts,
            "devora.fallback_used": record.fallback_used,
            "devora.time_to_first_token_ms": record.time_to_first_token_ms,
            "devora.agent": record.agent,
        }
        if record.usage is not None:
            found["gen_ai.usage.input_tokens"] = record.usage.input_tokens
            found["gen_ai.usage.output_tokens"] = record.usage.output_tokens
            found["devora.usage.cached_input_tokens"] = record.usage.cached_input_tokens
            found["devora.usage.reasoning_tokens"] = record.usage.reasoning_tokens
        if not record.success:
            found["error.type"] = str(record.error_type) if record.error_type else "unknown"
        if self._include_user:
            found["devora.user"] = record.user
        return {key: value for key, value in found.items() if value is not None}


def _nanoseconds(seconds: float) -> int:
    return round(seconds * 1e9)
