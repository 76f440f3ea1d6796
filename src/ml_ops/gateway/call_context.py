"""What the gateway learns from inside an `LLMService` or `EmbeddingService` call.

`CallWatcher` is the first guard of every service the gateway builds. It passes every
call through unchanged and notes, in the request's `CallContext`, the call's request id
(so the answer's `id`, the `x-request-id` header, the access log and the record share one
id) and, when the call ends, its `RequestRecord` (tokens and cost for the access log and
the tokens-per-minute bucket, partial usage of a cancelled stream included).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ai.core.guards import PlannedCall
from ai.core.records import RequestRecord

if TYPE_CHECKING:
    from ml_ops.gateway.router_alias import RoutedCall


@dataclass(slots=True)
class CallContext:
    """One gateway request's view of the service calls it made (and, for a router
    alias, the decision its call is to carry: `routed`)."""

    request_id: str = ""
    record: RequestRecord | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    routed: RoutedCall | None = None

    def ensure_id(self) -> str:
        """The request id: the service call's, else a new one (no call was made)."""
        if not self.request_id:
            self.request_id = uuid.uuid4().hex
        return self.request_id

    def add(self, record: RequestRecord) -> None:
        self.record = record
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cost += record.estimated_cost or 0.0


CURRENT: ContextVar[CallContext | None] = ContextVar("devora_gateway_call", default=None)


class CallWatcher:
    """The guard described in the module docstring."""

    name = "gateway"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        context = CURRENT.get()
        if context is not None:
            context.request_id = call.request_id
        return None

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        context = CURRENT.get()
        if context is not None:
            context.add(record)
