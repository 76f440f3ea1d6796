"""What the cache stores: a finished answer and what it cost, in a compact wire form."""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Final

from ai.core.usage import Usage
from ai.errors import StoreError

_FORMAT_VERSION = 1
_COMPRESS_ABOVE = 2048
_RAW, _ZLIB = b"j", b"z"


class CacheValueError(StoreError):
    """A value cannot be cached (not serialisable, or larger than the limit)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A completed answer as served from the cache.

    `cost` is what the original call cost, so a hit can report the money it saved.
    """

    text: str
    model: str | None
    provider: str
    usage: Usage | None = None
    cost: float | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0

    def size_hint(self) -> int:
        """Approximate bytes held in memory: text and tool calls dominate."""
        size = 200 + len(self.text) * 2
        for call in self.tool_calls:
            size += len(str(call))
        return size

    def to_bytes(self) -> bytes:
        """Compact JSON with short keys, zlib-compressed when large."""
        usage = self.usage
        payload = {
            "v": _FORMAT_VERSION,
            "t": self.text,
            "m": self.model,
            "p": self.provider,
            "u": None
            if usage is None
            else [
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_input_tokens,
                usage.cache_creation_tokens,
                usage.reasoning_tokens,
                usage.estimated,
            ],
            "c": self.cost,
            "f": self.finish_reason,
            "k": self.tool_calls,
            "a": self.created_at,
        }
        try:
            _check_numbers(self)
            raw = json.dumps(
                payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode()
        except (TypeError, ValueError) as exc:
            raise CacheValueError(
                f"The response cannot be cached: {exc}", reason="unserialisable"
            ) from exc
        if len(raw) > _COMPRESS_ABOVE:
            return _ZLIB + zlib.compress(raw, 6)
        return _RAW + raw

    @classmethod
    def from_bytes(cls, data: bytes) -> CachedResponse:
        """Inverse of `to_bytes`; a damaged value raises `CacheValueError`."""
        try:
            marker, body = data[:1], data[1:]
            raw = zlib.decompress(body) if marker == _ZLIB else body
            payload = json.loads(raw, parse_constant=_refuse_constant)
            version = payload.get("v")
            if version != _FORMAT_VERSION or isinstance(version, bool):
                raise ValueError(f"format version {version!r}")
            usage = payload["u"]
            response = cls(
                text=payload["t"],
                model=payload["m"],
                provider=payload["p"],
                usage=None if usage is None else Usage(*_checked_usage(usage)),
                cost=payload["c"],
                finish_reason=payload["f"],
                tool_calls=payload["k"],
                created_at=payload["a"],
            )
            _check_types(response)
            _check_numbers(response)
            return response
        # RecursionError: deeply nested JSON in a damaged value.
        except (
            ValueError,
            KeyError,
            TypeError,
            zlib.error,
            AttributeError,
            RecursionError,
        ) as exc:
            raise CacheValueError(
                f"A cached value could not be read ({exc}); it is ignored.", reason="corrupt"
            ) from exc


def _checked_usage(usage: Any) -> list[Any]:
    """The six `Usage` fields as `to_bytes` writes them: five ints and a bool."""
    if not (
        isinstance(usage, list)
        and len(usage) == 6
        and all(type(count) is int and count >= 0 for count in usage[:5])
        and type(usage[5]) is bool
    ):
        raise TypeError(f"usage {usage!r:.80}")
    return usage


def _check_types(response: CachedResponse) -> None:
    """Refuse a decoded value whose fields have the wrong JSON types (a damaged value must
    fail here, as a `CacheValueError`, not later in the caller)."""
    if not isinstance(response.text, str) or not isinstance(response.provider, str):
        raise TypeError("text and provider must be strings")
    if not all(isinstance(item, str | None) for item in (response.model, response.finish_reason)):
        raise TypeError("model and finish_reason must be strings or null")
    cost, created_at = response.cost, response.created_at
    if isinstance(cost, bool) or not isinstance(cost, int | float | None):
        raise TypeError("cost must be a number or null")
    if isinstance(created_at, bool) or not isinstance(created_at, int | float):
        raise TypeError("created_at must be a number")
    calls = response.tool_calls
    if not isinstance(calls, list) or not all(isinstance(call, dict) for call in calls):
        raise TypeError("tool_calls must be a list of objects")


def _refuse_constant(name: str) -> float:
    """`json.loads` hook for NaN and Infinity: `to_bytes` never writes them, and a NaN
    cost served from a damaged value would make the saved-cost totals NaN for good."""
    raise ValueError(f"non-finite number {name}")


def _finite(value: float) -> float:
    """`value` as a float; ValueError when it is not finite (an int too big for a float too)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"non-finite number {value!r:.40}")
    return number


#: Dollars no single call comes near (a million tokens each way at the dearest list
#: prices is a few hundred): a bigger cost in a cached value is damage, not a price.
MAX_CALL_COST: Final = 1e6


def _check_numbers(response: CachedResponse) -> None:
    """Refuse a cost that is not an amount from 0 to `MAX_CALL_COST` and a non-finite
    time: the caller adds costs up, and one NaN, negative or absurd cost would spoil every
    later total."""
    if response.cost is not None and not 0 <= _finite(response.cost) <= MAX_CALL_COST:
        raise ValueError(f"cost {response.cost!r:.40} outside 0 to {MAX_CALL_COST:g} dollars")
    _finite(response.created_at)
