"""One JSON line per request on the `ml_ops.gateway.access` logger.

    {"ts": "...", "request_id": "...", "key_id": "key_...", "user": "ana", "team": "search",
     "method": "POST", "path": "/v1/chat/completions", "model": "fast", "status": 200,
     "latency_ms": 3.1, "input_tokens": 12, "output_tokens": 30, "cost": 0.00002,
     "stream": false, "error": null}

Never the key (only its id). Prompts and completions are added (`messages`, `completion`)
only when content logging is switched on (`gateway.logging.content: true`). Nothing is
built when the logger is not enabled for INFO, so a silent log costs nothing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ai.errors import redact
from ml_ops.gateway.keys import VirtualKey

ACCESS_LOGGER = "ml_ops.gateway.access"


@dataclass(slots=True)
class AccessEntry:
    """What the handler learns about one request as it goes."""

    method: str
    path: str
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    key: VirtualKey | None = None
    model: str | None = None
    status: int = 200
    stream: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    outcome: str | None = None
    messages: Any = None
    completion: str | None = None


class AccessLog:
    """Writes `AccessEntry`s as JSON lines (see the module docstring)."""

    def __init__(self, *, log_content: bool = False, logger: logging.Logger | None = None) -> None:
        self.log_content = log_content
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    def write(self, entry: AccessEntry) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        key = entry.key
        line: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": entry.request_id,
            "key_id": key.id if key else None,
            "user": key.user if key else None,
            "team": key.team if key else None,
            "method": entry.method,
            "path": entry.path,
            "model": entry.model,
            "status": entry.status,
            "latency_ms": round((time.perf_counter() - entry.started) * 1000, 3),
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "cost": entry.cost,
            "stream": entry.stream,
            "outcome": entry.outcome,
            "error": entry.error,
        }
        if self.log_content:
            line["messages"] = entry.messages
            line["completion"] = entry.completion
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
        self._logger.info(redact(text) if self.log_content else text)
