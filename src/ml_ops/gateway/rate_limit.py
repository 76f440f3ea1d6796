"""Requests and tokens per minute, per key: a token bucket (GCRA) in Redis, shared by
every gateway process, or in memory when there is no Redis.

The algorithm is GCRA, the token bucket kept as one number per bucket: the theoretical
arrival time `tat` at which the bucket would be full again. A bucket holds a minute's
worth (`rpm` requests, `tpm` tokens) and refills continuously, so a key may burst its
whole minute and then goes at the steady rate; `Retry-After` is exactly when the next
request fits, and the `x-ratelimit-reset-*` headers when the bucket is full again.

* Requests: each request takes one from the requests bucket, or is refused with 429.
* Tokens: a request is admitted while the tokens bucket is not empty; when it ends, the
  tokens it used (prompt and completion, as the provider reported) are taken. One large
  request may overdraw the bucket; the key then waits until the debt is paid.

One Lua script checks both buckets atomically and takes the request (`ADMIT`); it also
charges the tokens of the key's requests that ended since its last request in this
process, so a request costs one Redis round trip. Tokens of a key that sends nothing more
are charged by a flush every `flush_interval` seconds (`CHARGE`), so other processes see
them at most that much later. Both scripts read Redis's own clock, so hosts with skewed
clocks agree. `gcra_admit` / `gcra_charge` are the same arithmetic in Python: the per-process
limiter, and the reference the tests hold the scripts to.

If Redis fails, `SharedRateLimiter` logs once and falls back to per-process buckets for
`redis_retry_after` seconds, then tries Redis again: limits keep applying (per process)
rather than every request failing (closed) or none being limited (open).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ai.errors import StoreError

if TYPE_CHECKING:
    from ai.db.redis import RedisConnection

logger = logging.getLogger("ml_ops.gateway")

PERIOD_MS = 60_000.0


class LimitKind(StrEnum):
    """Which bucket refused a request (OpenAI's error `type` for a 429)."""

    REQUESTS = "requests"
    TOKENS = "tokens"


@dataclass(frozen=True, slots=True)
class Bucket:
    """What a bucket looks like after a decision: what is left and when it is full."""

    limit: int
    remaining: int
    reset_ms: float


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Admitted or not; `refused` names the bucket, `retry_after` is in seconds."""

    allowed: bool
    requests: Bucket | None = None
    tokens: Bucket | None = None
    refused: LimitKind | None = None
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        """OpenAI's x-ratelimit-* headers for the limited buckets."""
        headers: dict[str, str] = {}
        for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is not None:
                headers[f"x-ratelimit-limit-{name}"] = str(bucket.limit)
                headers[f"x-ratelimit-remaining-{name}"] = str(max(bucket.remaining, 0))
                headers[f"x-ratelimit-reset-{name}"] = format_reset(bucket.reset_ms)
        return headers


UNLIMITED = RateDecision(True)


def format_reset(milliseconds: float) -> str:
    """A wait as OpenAI writes it: `20ms`, `1s`, `6m0s`, `1h2m3s`."""
    if milliseconds < 1000:
        return f"{max(0, math.ceil(milliseconds))}ms"
    seconds = math.ceil(milliseconds / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


# --- the arithmetic (Python reference; the Lua scripts below mirror it) ------------------


def _bucket(limit: int, tat: float, now: float) -> Bucket:
    interval = PERIOD_MS / limit
    level = max(tat - now, 0.0)
    return Bucket(limit, math.floor((PERIOD_MS - level) / interval), level)


def gcra_admit(
    req_tat: float, tok_tat: float, now: float, rpm: int | None, tpm: int | None
) -> tuple[RateDecision, float]:
    """Decide one request; returns the decision and the requests bucket's new `tat`."""
    requests = tokens = None
    new_req_tat = req_tat
    if tpm:
        interval = PERIOD_MS / tpm
        level = max(tok_tat, now) + interval - now
        tokens = _bucket(tpm, tok_tat, now)
        if level > PERIOD_MS:
            wait = (level - PERIOD_MS) / 1000
            requests = _bucket(rpm, req_tat, now) if rpm else None
            return RateDecision(False, requests, tokens, LimitKind.TOKENS, wait), req_tat
    if rpm:
        interval = PERIOD_MS / rpm
        candidate = max(req_tat, now) + interval
        if candidate - now > PERIOD_MS:
            wait = (candidate - now - PERIOD_MS) / 1000
            requests = _bucket(rpm, req_tat, now)
            return RateDecision(False, requests, tokens, LimitKind.REQUESTS, wait), req_tat
        new_req_tat = candidate
        requests = _bucket(rpm, candidate, now)
    return RateDecision(True, requests, tokens), new_req_tat


def gcra_charge(tok_tat: float, now: float, tpm: int, tokens: int) -> float:
    """The tokens bucket's `tat` after taking `tokens` (it may go into debt)."""
    return max(tok_tat, now) + tokens * (PERIOD_MS / tpm)


ADMIT_SCRIPT = """
local period = 60000.0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000.0 + tonumber(t[2]) / 1000.0
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local charge = tonumber(ARGV[3])
local req_tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local tok_tat = tonumber(redis.call('GET', KEYS[2]) or '0')
local function level(tat) return math.max(tat - now, 0.0) end
if tpm > 0 and charge > 0 then
  tok_tat = math.max(tok_tat, now) + charge * (period / tpm)
  redis.call('SET', KEYS[2], tostring(tok_tat), 'PX', math.ceil(tok_tat - now) + 1000)
end
if tpm > 0 then
  local interval = period / tpm
  local after = math.max(tok_tat, now) + interval - now
  if after > period then
    return {0, 2, tostring(after - period), tostring(level(req_tat)), tostring(level(tok_tat))}
  end
end
if rpm > 0 then
  local interval = period / rpm
  local candidate = math.max(req_tat, now) + interval
  if candidate - now > period then
    return {0, 1, tostring(candidate - now - period), tostring(level(req_tat)),
            tostring(level(tok_tat))}
  end
  redis.call('SET', KEYS[1], tostring(candidate), 'PX', math.ceil(candidate - now) + 1000)
  req_tat = candidate
end
return {1, 0, '0', tostring(level(req_tat)), tostring(level(tok_tat))}
"""

CHARGE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000.0 + tonumber(t[2]) / 1000.0
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new_tat = math.max(tat, now) + tonumber(ARGV[2]) * (60000.0 / tonumber(ARGV[1]))
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return tostring(new_tat - now)
"""


def decision_from_levels(reply: list[Any], rpm: int | None, tpm: int | None) -> RateDecision:
    """A `RateDecision` from the admit script's reply (levels are ms until full)."""
    allowed, which, wait = int(reply[0]), int(reply[1]), float(reply[2])
    req_level, tok_level = float(reply[3]), float(reply[4])
    requests = _bucket(rpm, req_level, 0.0) if rpm else None
    tokens = _bucket(tpm, tok_level, 0.0) if tpm else None
    if allowed:
        return RateDecision(True, requests, tokens)
    kind = LimitKind.TOKENS if which == 2 else LimitKind.REQUESTS
    return RateDecision(False, requests, tokens, kind, wait / 1000)


# --- limiters -----------------------------------------------------------------------------


class LocalRateLimiter:
    """Buckets in this process's memory (`clock` in milliseconds, injectable)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or (lambda: time.time() * 1000)
        self._requests: dict[str, float] = {}
        self._tokens: dict[str, float] = {}

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> RateDecision:
        if not rpm and not tpm:
            return UNLIMITED
        now = self._clock()
        decision, tat = gcra_admit(
            self._requests.get(key_id, 0.0), self._tokens.get(key_id, 0.0), now, rpm, tpm
        )
        if decision.allowed and rpm:
            self._requests[key_id] = tat
        return decision

    async def charge(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if tpm and tokens > 0:
            now = self._clock()
            self._tokens[key_id] = gcra_charge(self._tokens.get(key_id, 0.0), now, tpm, tokens)


class RedisRateLimiter:
    """Buckets in Redis, shared by every process using the same server and prefix.

    Token charges wait in memory for the key's next `admit` (one round trip for both) or
    the next flush, at most `flush_interval` seconds later (see the module docstring)."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        prefix: str = "devora:gw:",
        flush_interval: float = 0.25,
    ) -> None:
        self._connection = connection
        self._prefix = prefix
        self._flush_interval = flush_interval
        client = connection.client
        self._admit = client.register_script(ADMIT_SCRIPT)
        self._charge = client.register_script(CHARGE_SCRIPT)
        self._pending: dict[str, tuple[int, int]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def _keys(self, key_id: str) -> list[str]:
        # One hash tag per key: both buckets live in the same Redis Cluster slot.
        return [f"{self._prefix}rl:{{{key_id}}}:req", f"{self._prefix}rl:{{{key_id}}}:tok"]

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> RateDecision:
        if not rpm and not tpm:
            return UNLIMITED
        owed = self._pending.pop(key_id, (0, 0))[1] if tpm else 0
        script = self._admit(keys=self._keys(key_id), args=[rpm or 0, tpm or 0, owed])
        try:
            reply = await self._connection.run("rate limit", script)
        except BaseException:
            if owed:
                self._owe(key_id, tpm or 0, owed)
            raise
        return decision_from_levels(reply, rpm, tpm)

    async def charge(self, key_id: str, tpm: int | None, tokens: int) -> None:
        """Owe `tokens` to the key's bucket (charged by its next `admit` or flush)."""
        if tpm and tokens > 0:
            self._owe(key_id, tpm, tokens)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.ensure_future(self._flush_later())

    def _owe(self, key_id: str, tpm: int, tokens: int) -> None:
        self._pending[key_id] = (tpm, self._pending.get(key_id, (tpm, 0))[1] + tokens)

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_interval)
        try:
            await self.flush()
        except StoreError as error:  # kept owed; retried with the next charge or admit
            logger.debug("token charges not written to Redis yet: %s", error)

    async def flush(self) -> None:
        """Charge every owed token now."""
        while self._pending:
            key_id, (tpm, tokens) = self._pending.popitem()
            try:
                await self._connection.run(
                    "token charge", self._charge(keys=self._keys(key_id)[1:], args=[tpm, tokens])
                )
            except BaseException:
                self._owe(key_id, tpm, tokens)
                raise

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        try:
            await self.flush()
        except StoreError as error:
            logger.warning("token charges lost at shut-down: %s", error)
        await self._connection.aclose()


class SharedRateLimiter:
    """Redis when it answers; per-process buckets for `retry_after` seconds when it does
    not (logged once per outage). `shared` is None without Redis: per process only."""

    def __init__(
        self,
        shared: RedisRateLimiter | None,
        *,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = LocalRateLimiter()
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    @property
    def distributed(self) -> bool:
        """Whether limits are currently shared between processes."""
        return self.shared is not None and self._clock() >= self._down_until

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> RateDecision:
        if not rpm and not tpm:
            return UNLIMITED
        if self.shared is not None and self._clock() >= self._down_until:
            try:
                return await self.shared.admit(key_id, rpm, tpm)
            except StoreError as error:
                self._went_down(error)
        return await self.local.admit(key_id, rpm, tpm)

    async def charge(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm or tokens <= 0:
            return
        if self.shared is not None and self._clock() >= self._down_until:
            try:
                await self.shared.charge(key_id, tpm, tokens)
                return
            except StoreError as error:
                self._went_down(error)
        await self.local.charge(key_id, tpm, tokens)

    def _went_down(self, error: StoreError) -> None:
        if self._down_until == 0.0 or self._clock() >= self._down_until + self._retry_after:
            logger.warning(
                "rate limits fall back to per-process buckets for %.0fs: %s",
                self._retry_after,
                error,
            )
        self._down_until = self._clock() + self._retry_after

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()
