"""The bottom layer every other part of devora-ai builds on: time, lifecycle, token usage,
the per-call `RequestRecord` and its bus, and the embedding protocol.

Nothing here does I/O or imports a driver; `ai.errors` is the only package module below it.
"""

from ai.core.clock import Clock, FakeClock, SystemClock
from ai.core.embedder import TextEmbedder
from ai.core.lifecycle import AsyncClosing
from ai.core.records import CallLabels, RecordBus, RequestRecord, Subscriber
from ai.core.usage import Usage

__all__ = [
    "AsyncClosing",
    "CallLabels",
    "Clock",
    "FakeClock",
    "RecordBus",
    "RequestRecord",
    "Subscriber",
    "SystemClock",
    "TextEmbedder",
    "Usage",
]
