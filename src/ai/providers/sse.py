"""Server-sent events, parsed once for every wire format (the WHATWG event-stream rules)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its `event:` name (None if absent) and joined `data:` lines."""

    event: str | None
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """Group lines into events. Comment lines (`: OPENROUTER PROCESSING`) are skipped."""
    event: str | None = None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield ServerSentEvent(event, "\n".join(data))


async def iter_lines(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Split decoded text into lines at CRLF, LF or CR only, as event streams define lines.

    `httpx.Response.aiter_lines` also splits at U+2028, U+2029, U+0085 and other
    `str.splitlines` breaks, which providers may send raw inside a JSON `data:` line.
    """
    pending = ""
    skip_lf = False  # the last chunk ended in CR: a LF starting the next one belongs to it
    async for chunk in chunks:
        if not chunk:
            continue
        if skip_lf and chunk[0] == "\n":
            chunk = chunk[1:]
        text = pending + chunk
        skip_lf = text.endswith("\r")
        lines = _LINE_END.split(text[:-1] if skip_lf else text)
        pending = "" if skip_lf else lines.pop()
        for line in lines:
            yield line
    if pending:
        yield pending
