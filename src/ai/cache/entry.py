"""What the cache stores: a finished answer and what it cost, in a compact wire form."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from ai.errors import StoreError
from ai.usage import Usage

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
            raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
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
            payload = json.loads(raw)
            if payload.get("v") != _FORMAT_VERSION:
                raise ValueError(f"format version {payload.get('v')!r}")
            usage = payload["u"]
            return cls(
                text=payload["t"],
                model=payload["m"],
                provider=payload["p"],
                usage=None if usage is None else Usage(*usage),
                cost=payload["c"],
                finish_reason=payload["f"],
                tool_calls=payload["k"],
                created_at=payload["a"],
            )
        except (ValueError, KeyError, TypeError, zlib.error, AttributeError) as exc:
            raise CacheValueError(
                f"A cached value could not be read ({exc}); it is ignored.", reason="corrupt"
            ) from exc
