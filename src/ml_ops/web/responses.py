"""JSON responses for the dashboard API: compact, UTF-8, datetimes as ISO 8601, and
passed through `ai.errors.redact` so nothing shaped like a key ever leaves the server."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ai.errors import redact
from ml_ops.store.base import json_ready


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`data` as a JSON response (masked: a key that slipped into a message is shown as
    `sk-...abc`)."""
    body = json.dumps(json_ready(data), ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(
        redact(body).encode(), status_code=status, media_type="application/json", headers=headers
    )
