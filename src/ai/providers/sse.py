"""Server-sent events, parsed once for every wire format (the WHATWG event-stream rules)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ai.providers.base import MalformedResponse

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its `event:` name (None if absent) and joined `data:` lines."""

    event: str | None
    data: str


DEFAULT_MAX_EVENT_CHARS = 8 * 2**20
"""The largest event (or line) accepted: far above any real token event, far below what
would exhaust memory. A provider answer that exceeds it is malformed, not a big answer."""


class EventTooLarge(MalformedResponse):
    """One SSE line or event is longer than the configured cap."""


async def iter_sse(
    lines: AsyncIterator[str], *, max_event_chars: int = DEFAULT_MAX_EVENT_CHARS
) -> AsyncIterator[ServerSentEvent]:
    """Group lines into events. Comment lines (`: OPENROUTER PROCESSING`) are skipped."""
    event: str | None = None
    data: list[str] = []
    size = 0
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event, "\n".join(data))
            event, data, size = None, [], 0
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            size += len(value) + 1
            if size > max_event_chars:
                raise EventTooLarge(f"a stream event is longer than {max_event_chars:,} characters")
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield ServerSentEvent(event, "\n".join(data))


async def iter_lines(
    chunks: AsyncIterator[str], *, max_line_chars: int = DEFAULT_MAX_EVENT_CHARS
) -> AsyncIterator[str]:
    """Split decoded text into lines at CRLF, LF or CR only, as event streams define lines.

    `httpx.Response.aiter_lines` also splits at U+2028, U+2029, U+0085 and other
    `str.splitlines` breaks, which providers may send raw inside a JSON `data:` line.
    Linear in the input however long a line is (its pieces are joined once, when it ends),
    and a line longer than `max_line_chars` raises `EventTooLarge`. A byte order mark
    opening the stream is dropped, as the event-stream rules' UTF-8 decode does: kept, it
    would hide the first field's name and with it the first event.
    """
    parts: list[str] = []  # the unfinished line, in pieces
    size = 0
    skip_lf = False  # the last chunk ended in CR: a LF starting the next one belongs to it
    started = False
    async for chunk in chunks:
        if not started and chunk:
            started = True
            chunk = chunk.removeprefix("\ufeff")
        if skip_lf and chunk[:1] == "\n":
            chunk = chunk[1:]
        if not chunk:
            continue
        skip_lf = chunk.endswith("\r")
        pieces = _LINE_END.split(chunk[:-1] if skip_lf else chunk)
        if len(pieces) > 1 or skip_lf:
            yield "".join(parts) + pieces[0]
            parts, size = [], 0
            for line in pieces[1:-1]:
                yield line
            if skip_lf:
                if len(pieces) > 1:
                    yield pieces[-1]
                continue
        last = pieces[-1]
        if last:
            parts.append(last)
            size += len(last)
            if size > max_line_chars:
                raise EventTooLarge(f"a stream line is longer than {max_line_chars:,} characters")
    if parts:
        yield "".join(parts)
