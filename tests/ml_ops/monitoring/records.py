"""Records for the monitoring tests: one factory with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.core.usage import Usage
from ai.errors import ErrorType

_ids = itertools.count(1)


def make_record(clock: FakeClock | None = None, **overrides: Any) -> RequestRecord:
    """A successful 100 ms chat call to openai/gpt-4o-mini, stamped with `clock`'s now."""
    when: datetime = overrides.pop("timestamp", None) or (clock or FakeClock()).now()
    success = overrides.pop("success", True)
    fields: dict[str, Any] = {
        "request_id": f"req-{next(_ids)}",
        "timestamp": when,
        "provider": "openai",
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "usage": Usage(input_tokens=100, output_tokens=20),
        "estimated_cost": 0.001,
        "latency_ms": 100.0,
        "time_to_first_token_ms": None,
        "attempts": 1,
        "success": success,
        "error_type": None if success else ErrorType.RATE_LIMIT,
    }
    fields.update(overrides)
    return RequestRecord(**fields)
