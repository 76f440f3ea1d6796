"""`RedisSpendCounters`: budget counters shared by every process that uses one Redis.

Layout: one hash per budget and period, `<prefix><budget>|<period key>`, with fields
`s` (spent) and `r` (reserved) in nano-dollar units (`counters.UNITS_PER_USD`), expiring
(`EXPIREAT`) a margin after the period ends (and never sooner than an hour from Redis's
own clock); alert markers are plain keys `<hash key>|<marker>` set with `SET NX` and
the same expiry.

Each operation is one Lua script, run atomically by Redis:

- reserve: raise each counter to its seed, then, if every limited claim has
  spent + reserved + amount <= limit, add `amount` to every counter's `r`; else change
  nothing but the seeds. One round trip for all the budgets a call falls under.
- settle: raise to the seed, subtract the reservation from `r` (never below zero) and
  add the actual cost to `s`.
- merge: raise to the seed and read.

Connections come from `ai.db.redis.connect_redis` (redis-py imported on first use; its
failures become `ai.errors.StoreError`, never showing the password). A counter object
belongs to the event loop that first uses it, as redis-py's asyncio client does. In a
Redis Cluster every key of one call must share a slot: give a `prefix` with a hash tag,
such as `"{devora-budget}:"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ai.db.redis import DEFAULT_MAX_CONNECTIONS, DEFAULT_SOCKET_TIMEOUT_S, connect_redis
from ai.errors import ConfigurationError, StoreError
from ml_ops.cost_tracker.counters import (
    Claim,
    CounterKey,
    CounterState,
    ReserveOutcome,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["DEFAULT_PREFIX", "RedisSpendCounters"]

DEFAULT_PREFIX = "devora:budget:"
_PEEK_LIMIT = 10_000

# Shared by the scripts: raise KEYS[i] to its seed, refresh its expiry, return s and r.
# Numbers are written with %.0f: Lua would print 1e+14 for large ones, which HINCRBY
# then refuses as "not an integer". An expiry is never less than an hour from Redis's own
# clock, so a host whose clock runs far behind cannot make a counter vanish at once.
_LOAD = """
local clock = tonumber(redis.call('TIME')[1])
local function expire(key, expire_at)
  local at = tonumber(expire_at)
  if at < clock + 3600 then at = clock + 3600 end
  redis.call('EXPIREAT', key, at)
end
local function load(i, seed, expire_at)
  local key = KEYS[i]
  local s = tonumber(redis.call('HGET', key, 's') or '0')
  local r = tonumber(redis.call('HGET', key, 'r') or '0')
  if s < seed then
    s = seed
    redis.call('HSET', key, 's', string.format('%.0f', s))
  end
  if r == 0 then redis.call('HSETNX', key, 'r', 0) end
  expire(key, expire_at)
  return s, r
end
"""

# ARGV: amount, then per key: limit (-1: none), seed, expire_at.
_RESERVE = (
    _LOAD
    + """
local amount = tonumber(ARGV[1])
local spent, reserved, out = {}, {}, {}
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 3
  spent[i], reserved[i] = load(i, tonumber(ARGV[base + 1]), ARGV[base + 2])
end
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 + (i - 1) * 3])
  if limit >= 0 and spent[i] + reserved[i] + amount > limit then
    out = {0, i}
    for j = 1, #KEYS do out[#out + 1] = spent[j]; out[#out + 1] = reserved[j] end
    return out
  end
end
out = {1, 0}
for i = 1, #KEYS do
  out[#out + 1] = spent[i]
  out[#out + 1] = redis.call('HINCRBY', KEYS[i], 'r', amount)
end
return out
"""
)

# ARGV: reserved, actual, then per key: seed, expire_at.
_SETTLE = (
    _LOAD
    + """
local release, actual = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 2
  local s, r = load(i, tonumber(ARGV[base]), ARGV[base + 1])
  r = r - release
  if r < 0 then r = 0 end
  redis.call('HSET', KEYS[i], 'r', string.format('%.0f', r))
  out[#out + 1] = redis.call('HINCRBY', KEYS[i], 's', actual)
  out[#out + 1] = r
end
return out
"""
)

# ARGV: per key: seed, expire_at.
_MERGE = (
    _LOAD
    + """
local out = {}
for i = 1, #KEYS do
  local s, r = load(i, tonumber(ARGV[1 + (i - 1) * 2]), ARGV[2 + (i - 1) * 2])
  out[#out + 1] = s
  out[#out + 1] = r
end
return out
"""
)

# KEYS[1]: the marker; ARGV[1]: expire_at.
_CLAIM = (
    _LOAD
    + """
if redis.call('SET', KEYS[1], '1', 'NX') then
  expire(KEYS[1], ARGV[1])
  return 1
end
return 0
"""
)


class RedisSpendCounters:
    """Budget counters in Redis (module doc), shared by every process using `url`.

    Give `url` (default `$REDIS_URL`, else `redis://localhost:6379/0`) or an existing
    `client` (bytes replies; not closed by `aclose`). `prefix` namespaces the keys, so
    several deployments or tests can share one server. `socket_timeout` bounds each
    command: when Redis is away a call waits at most that long before the budget guard
    falls back to local counters.
    """

    shared = True

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
    ) -> None:
        if not isinstance(prefix, str):
            raise ConfigurationError(f"RedisSpendCounters prefix must be a str, got {prefix!r}")
        self._redis = connect_redis(
            url,
            client=client,
            owner="RedisSpendCounters",
            label="Redis budget counters",
            max_connections=max_connections,
            socket_timeout=socket_timeout,
        )
        self.prefix = prefix
        self._reserve = self._redis.client.register_script(_RESERVE)
        self._settle = self._redis.client.register_script(_SETTLE)
        self._merge = self._redis.client.register_script(_MERGE)
        self._claim = self._redis.client.register_script(_CLAIM)
        self._seen: dict[tuple[str, str], CounterState] = {}

    @property
    def description(self) -> str:
        """The server, without its password."""
        return self._redis.where

    def __repr__(self) -> str:
        return f"RedisSpendCounters({self._redis.where!r}, prefix={self.prefix!r})"

    def key_of(self, key: CounterKey) -> str:
        """The Redis key of a counter."""
        return f"{self.prefix}{key.budget}|{key.period_key}"

    async def reserve(self, claims: Sequence[Claim], amount: int) -> ReserveOutcome:
        args: list[Any] = [amount]
        for claim in claims:
            args += [-1 if claim.limit is None else claim.limit, claim.seed, _expiry(claim.key)]
        reply = await self._run("reserve", self._reserve, claims, args)
        admitted, refused = int(reply[0]), int(reply[1])
        states = self._remember(claims, reply[2:])
        return ReserveOutcome(bool(admitted), states, None if admitted else refused - 1)

    async def settle(
        self, claims: Sequence[Claim], reserved: int, actual: int
    ) -> tuple[CounterState, ...]:
        args: list[Any] = [reserved, actual]
        for claim in claims:
            args += [claim.seed, _expiry(claim.key)]
        return self._remember(claims, await self._run("settle", self._settle, claims, args))

    async def merge(self, claims: Sequence[Claim]) -> tuple[CounterState, ...]:
        args: list[Any] = []
        for claim in claims:
            args += [claim.seed, _expiry(claim.key)]
        return self._remember(claims, await self._run("merge", self._merge, claims, args))

    async def claim_once(self, key: CounterKey, marker: str) -> bool:
        name = f"{self.key_of(key)}|{marker}"
        done = await self._redis.run("claim", self._claim(keys=[name], args=[_expiry(key)]))
        return bool(done)

    def peek(self, key: CounterKey) -> CounterState | None:
        return self._seen.get(key.ident)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _run(
        self, operation: str, script: Any, claims: Sequence[Claim], args: list[Any]
    ) -> list[Any]:
        if not claims:
            return [1, 0] if operation == "reserve" else []
        keys = [self.key_of(claim.key) for claim in claims]
        reply = await self._redis.run(operation, script(keys=keys, args=args))
        if not isinstance(reply, list):
            raise StoreError(f"Redis budget counters {operation}: unexpected reply {reply!r}")
        return reply

    def _remember(self, claims: Sequence[Claim], flat: Sequence[Any]) -> tuple[CounterState, ...]:
        states = tuple(
            CounterState(int(flat[2 * i]), int(flat[2 * i + 1])) for i in range(len(claims))
        )
        if len(self._seen) > _PEEK_LIMIT:
            self._seen.clear()
        for claim, state in zip(claims, states, strict=True):
            self._seen[claim.key.ident] = state
        return states


def _expiry(key: CounterKey) -> int:
    return int(key.expires_at.timestamp()) + 1
