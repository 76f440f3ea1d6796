"""How fast each fake model answers: time to first token and tokens per second.

A real upstream is not instant: gpt-4o takes a few hundred milliseconds before its first
token and then streams tens of tokens a second, and a cheaper model is faster at both. A
`ModelLatency` per model makes the fake behave so (`upstream_pacing` does the waiting):

* a stream sends its headers and the events before the answer at once, its first content
  event after `ttft` seconds, and every later one when the tokens before it have been
  "generated" at `tokens_per_second`; the closing events follow the last token;
* a non-stream answer arrives whole after `ttft + output_tokens / tokens_per_second`.

Events due within `min_gap` seconds of each other go out in one write, as a real
connection coalesces them, so a fast model or a time-compressed benchmark does not cost a
socket write per token. Models without an entry answer at once, as before.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelLatency:
    """One model's speed: `ModelLatency(ttft=0.45, tokens_per_second=60)`."""

    ttft: float
    tokens_per_second: float
    min_gap: float = 0.02

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ttft) and self.ttft >= 0):
            raise ValueError(f"ttft must be a finite number >= 0 seconds, got {self.ttft}")
        if not (math.isfinite(self.tokens_per_second) and self.tokens_per_second > 0):
            raise ValueError(
                f"tokens_per_second must be a finite number > 0, got {self.tokens_per_second}"
            )
        if not (math.isfinite(self.min_gap) and self.min_gap >= 0):
            raise ValueError(f"min_gap must be a finite number >= 0 seconds, got {self.min_gap}")

    def answer_time(self, output_tokens: int) -> float:
        """Seconds until a whole answer of `output_tokens` tokens is out."""
        return self.ttft + max(0, output_tokens) / self.tokens_per_second

    def describe(self) -> dict[str, float]:
        """JSON form for `GET /_fake/latency`."""
        return {
            "ttft": self.ttft,
            "tokens_per_second": self.tokens_per_second,
            "min_gap": self.min_gap,
        }


_LATENCY_KEYS = frozenset({"model", "ttft", "tokens_per_second", "min_gap"})


def latency_from_json(data: object) -> tuple[str, ModelLatency]:
    """Parse the body of `POST /_fake/latency`; raises ValueError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(
            'the body must be {"model": "...", "ttft": seconds, "tokens_per_second": n}'
        )
    unknown = set(data) - _LATENCY_KEYS
    if unknown:
        raise ValueError(
            f"unknown latency fields {sorted(unknown)}; known: {sorted(_LATENCY_KEYS)}"
        )
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("'model' must be a non-empty string")
    numbers: dict[str, Any] = {}
    for name in ("ttft", "tokens_per_second", "min_gap"):
        if name not in data:
            if name == "min_gap":
                continue
            raise ValueError(f"'{name}' is required")
        value = data[name]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"'{name}' must be a number")
        numbers[name] = float(value)
    return model, ModelLatency(**numbers)


class LatencyTable:
    """The latency of each model the fake serves; thread-safe (tests change it while the
    server thread reads it)."""

    def __init__(self, latencies: Mapping[str, ModelLatency] | None = None) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[str, ModelLatency] = {}
        for model, latency in (latencies or {}).items():
            self.set(model, latency)

    def set(self, model: str, latency: ModelLatency) -> None:
        """Answers of `model` now take this long."""
        if not isinstance(latency, ModelLatency):
            raise TypeError(f"latency must be a ModelLatency, got {type(latency).__name__}")
        with self._lock:
            self._by_model[model] = latency

    def get(self, model: str | None) -> ModelLatency | None:
        """The latency of `model`, or None when it answers at once."""
        if model is None:
            return None
        with self._lock:
            return self._by_model.get(model)

    def remove(self, model: str) -> bool:
        """Make `model` instant again; False if it had no latency."""
        with self._lock:
            return self._by_model.pop(model, None) is not None

    def clear(self) -> int:
        """Make every model instant again; returns how many had a latency."""
        with self._lock:
            count = len(self._by_model)
            self._by_model.clear()
        return count

    def describe(self) -> dict[str, dict[str, float]]:
        """Snapshot as JSON-ready dicts, by model."""
        with self._lock:
            return {model: latency.describe() for model, latency in self._by_model.items()}

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_model)
