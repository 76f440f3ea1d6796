"""The bottom layer every other part of devora-ai builds on: time, lifecycle, token usage,
the per-call `RequestRecord` and its bus, guards, and the embedding protocol.

Nothing here does I/O or imports a driver; `ai.errors` is the only package module below it.
"""

from ai.core.clock import Clock, FakeClock, SystemClock
from ai.core.embedder import TextEmbedder
from ai.core.guards import (
    Admission,
    CallGuard,
    GuardChain,
    PassThroughGuard,
    PlannedCall,
    RecordSlot,
)
from ai.core.lifecycle import AsyncClosing
from ai.core.records import (
    SCHEMA_VERSION,
    CallLabels,
    CostSource,
    GuardAction,
    GuardDecision,
    Operation,
    Outcome,
    RecordBus,
    RequestRecord,
    Subscriber,
    TagKey,
)
from ai.core.usage import Usage

__all__ = [
    "SCHEMA_VERSION",
    "Admission",
    "AsyncClosing",
    "CallGuard",
    "CallLabels",
    "Clock",
    "CostSource",
    "FakeClock",
    "GuardAction",
    "GuardChain",
    "GuardDecision",
    "Operation",
    "Outcome",
    "PassThroughGuard",
    "PlannedCall",
    "RecordBus",
    "RecordSlot",
    "RequestRecord",
    "Subscriber",
    "SystemClock",
    "TagKey",
    "TextEmbedder",
    "Usage",
]
