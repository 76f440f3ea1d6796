"""RedisBackend against a real Redis: round trips, Redis-kept TTLs, prefix isolation,
typed errors without passwords, and recovery of the same object after an outage.

Every backend here writes under the test's `redis_key_prefix` (cleaned up afterwards);
nothing flushes the database, so an external REDIS_URL may be shared.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from ai.cache.backend import BackendStats
from ai.cache.entry import CachedResponse, CacheValueError
from ai.cache.redis_backend import RedisBackend, mask_url
from ai.core.usage import Usage
from ai.errors import ConfigurationError, StoreError

if TYPE_CHECKING:
    import redis.asyncio

    from tests.services.redis_server import RedisServer

PASSWORD = "s3cret-Pa55word-do-not-leak"
VALUE = CachedResponse(
    text="Paris is the capital of France.",
    model="gpt-4o-mini",
    provider="openai",
    usage=Usage(input_tokens=12, output_tokens=8),
    cost=0.000_01,
    finish_reason="stop",
    created_at=1_764_000_000.5,
)


@pytest.fixture
async def backend(redis_url: str, redis_key_prefix: str) -> AsyncIterator[RedisBackend]:
    cache = RedisBackend(redis_url, prefix=redis_key_prefix)
    yield cache
    await cache.aclose()


async def _eventually(check: Callable[[], Any], within: float = 5.0) -> None:
    """Poll an async check until it is true (used for real TTLs only)."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_round_trip_stores_the_wire_form_under_the_prefix(
    backend: RedisBackend, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    await backend.set("k1", VALUE, None)
    assert await backend.get("k1") == VALUE
    assert await backend.get("missing") is None
    assert await redis_client.get(redis_key_prefix + "k1") == VALUE.to_bytes()
    large = CachedResponse(text="long answer " * 2000, model=None, provider="anthropic")
    await backend.set("large", large, None)
    assert await backend.get("large") == large


async def test_ttl_is_kept_by_redis(
    backend: RedisBackend, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    await backend.set("short", VALUE, 0.2)
    assert 0 < await redis_client.pttl(redis_key_prefix + "short") <= 200
    await backend.set("default", VALUE, None)  # default_ttl: one hour
    assert 3_590_000 < await redis_client.pttl(redis_key_prefix + "default") <= 3_600_000

    async def gone() -> bool:
        return await backend.get("short") is None

    await _eventually(gone)
    assert await backend.get("default") == VALUE


async def test_no_default_ttl_means_no_expiry(
    redis_url: str, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    backend = RedisBackend(redis_url, prefix=redis_key_prefix, default_ttl=None)
    await backend.set("a", VALUE, None)
    await backend.set("b", VALUE, math.inf)
    await backend.set("c", VALUE, 0.0001)  # rounds up to 1 ms, never to "no expiry"
    assert await redis_client.pttl(redis_key_prefix + "a") == -1
    assert await redis_client.pttl(redis_key_prefix + "b") == -1
    assert await redis_client.pttl(redis_key_prefix + "c") in (-2, 0, 1)
    await backend.aclose()


@pytest.mark.parametrize("ttl", [0, -1, math.nan])
async def test_invalid_ttl_is_refused(backend: RedisBackend, ttl: float) -> None:
    with pytest.raises(ConfigurationError, match="ttl"):
        await backend.set("k", VALUE, ttl)


async def test_delete(backend: RedisBackend) -> None:
    await backend.set("k", VALUE, None)
    assert await backend.delete("k") is True
    assert await backend.delete("k") is False
    assert await backend.get("k") is None


async def test_prefixes_isolate_caches_and_clear_only_its_own(
    redis_url: str, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    # A prefix with glob characters: unescaped, its SCAN pattern would match `x1:...` too.
    first = RedisBackend(redis_url, prefix=redis_key_prefix + "x[1]*:")
    second = RedisBackend(redis_url, prefix=redis_key_prefix + "x1:")
    other = CachedResponse(text="another answer", model=None, provider="p")
    await first.set("same-key", VALUE, None)
    await second.set("same-key", other, None)
    assert await first.get("same-key") == VALUE
    assert await second.get("same-key") == other
    await first.clear()
    assert await first.get("same-key") is None
    assert await second.get("same-key") == other
    assert await redis_client.exists(redis_key_prefix + "x1:same-key") == 1
    await first.aclose()
    await second.aclose()


async def test_clear_removes_more_than_one_batch(
    backend: RedisBackend, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    data = VALUE.to_bytes()
    async with redis_client.pipeline(transaction=False) as pipe:
        for index in range(2_500):
            pipe.set(f"{redis_key_prefix}k{index}", data)
        await pipe.execute()
    await redis_client.set(redis_key_prefix.rstrip(":") + "-sibling", data)  # not under it
    unlinks_before = await _unlink_calls(redis_client)
    await backend.clear()
    # In batches: several UNLINKs, not one command with every key (others may add more).
    assert await _unlink_calls(redis_client) - unlinks_before >= 3
    assert [key async for key in redis_client.scan_iter(match=redis_key_prefix + "*")] == []
    assert await redis_client.exists(redis_key_prefix.rstrip(":") + "-sibling") == 1
    await redis_client.delete(redis_key_prefix.rstrip(":") + "-sibling")


async def _unlink_calls(client: redis.asyncio.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_unlink", {}).get("calls", 0))


async def test_two_instances_share_entries(backend: RedisBackend, redis_url: str) -> None:
    other_process_view = RedisBackend(redis_url, prefix=backend.prefix)
    await backend.set("shared", VALUE, None)
    assert await other_process_view.get("shared") == VALUE
    assert await other_process_view.delete("shared") is True
    assert await backend.get("shared") is None
    await other_process_view.aclose()


@pytest.mark.parametrize("damage", [b"garbage", b"", b"z\x00\x01", b'j{"v":1}'])
async def test_corrupt_value_raises_cache_value_error(
    backend: RedisBackend, redis_client: redis.asyncio.Redis, redis_key_prefix: str, damage: bytes
) -> None:
    await redis_client.set(redis_key_prefix + "bad", damage)
    with pytest.raises(CacheValueError) as caught:
        await backend.get("bad")
    assert caught.value.reason == "corrupt"


async def test_stats_are_unknown_or_zero(backend: RedisBackend) -> None:
    await backend.set("k", VALUE, None)
    assert backend.stats() == BackendStats(entries=None, bytes=None, evictions=0, expirations=0)


async def test_injected_client_is_shared_and_left_open(
    redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    backend = RedisBackend(client=redis_client, prefix=redis_key_prefix)
    await backend.set("k", VALUE, None)
    assert await backend.get("k") == VALUE
    connection = await redis_client.client_id()
    await backend.aclose()
    assert await redis_client.client_id() == connection  # same connection: nothing closed


async def test_aclose_closes_its_own_pool(
    redis_url: str, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    backend = RedisBackend(redis_url, prefix=redis_key_prefix)
    await backend.set("k", VALUE, None)
    name = f"{redis_key_prefix}probe"
    await backend._client.client_setname(name)
    await backend.aclose()
    clients = await redis_client.client_list()
    assert name not in {client.get("name") for client in clients}


async def test_dead_redis_fails_fast_without_the_password(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    url = f"redis://devora:{PASSWORD}@{redis_server.host}:{redis_server.port}/0"
    backend = RedisBackend(url, prefix=redis_key_prefix)
    assert PASSWORD not in repr(backend)
    redis_server.stop()
    for operation in (backend.get("k"), backend.set("k", VALUE, None), backend.clear()):
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            await operation
        assert time.monotonic() - started < 5  # refused connections fail at once, no backoff
        message = str(caught.value)
        assert PASSWORD not in message
        assert "devora:***@" in message
        assert type(caught.value) is StoreError
    await backend.aclose()


async def test_wrong_password_is_a_store_error_without_the_password(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    url = f"redis://devora:{PASSWORD}@{redis_server.host}:{redis_server.port}/0"
    backend = RedisBackend(url, prefix=redis_key_prefix)  # the server has no such user
    with pytest.raises(StoreError) as caught:
        await backend.get("k")
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in str(caught.value.__cause__)
    await backend.aclose()


async def test_a_key_of_another_type_is_a_corrupt_value_not_a_store_error(
    backend: RedisBackend, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    """GET on a list is WRONGTYPE: a bad value under the prefix, not a failing server (as
    a StoreError it would take the whole cache down and never be deleted)."""
    await redis_client.rpush(redis_key_prefix + "list", b"x")
    with pytest.raises(CacheValueError) as caught:
        await backend.get("list")
    assert caught.value.reason == "corrupt"
    assert await redis_client.exists(redis_key_prefix + "list") == 1  # the cache deletes it
    assert await backend.delete("list") is True


async def test_other_redis_errors_become_store_errors(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    import redis.asyncio as aioredis

    user = "devora-test-" + redis_key_prefix.rsplit(":", 2)[-2]
    admin = aioredis.Redis.from_url(redis_server.url)
    await admin.acl_setuser(
        user, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+@all", "-get"]
    )
    backend = RedisBackend(
        f"redis://{user}:{PASSWORD}@{redis_server.host}:{redis_server.port}/0",
        prefix=redis_key_prefix,
    )
    try:
        with pytest.raises(StoreError, match="NoPermissionError") as caught:
            await backend.get("k")  # this user may not GET
        assert type(caught.value) is StoreError
        assert PASSWORD not in str(caught.value)
    finally:
        await backend.aclose()
        await admin.acl_deluser(user)
        await admin.aclose()


async def test_hung_redis_times_out_then_recovers(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    backend = RedisBackend(redis_server.url, prefix=redis_key_prefix, socket_timeout=0.2)
    await backend.set("k", VALUE, None)
    assert redis_server.pid is not None
    os.kill(redis_server.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="Timeout"):
            await backend.get("k")
        assert time.monotonic() - started < 5  # bounded by socket_timeout, not by the OS
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    assert await backend.get("k") == VALUE
    await backend.clear()
    await backend.aclose()


@pytest.mark.parametrize(
    ("query", "max_connections"),
    [("", 2), ("&max_connections=2", 50)],  # a limit in the URL wins inside redis-py
)
async def test_concurrent_calls_queue_for_at_most_max_connections(
    redis_server: RedisServer, redis_key_prefix: str, query: str, max_connections: int
) -> None:
    import redis.asyncio as aioredis

    name = "devora-test-" + redis_key_prefix.rsplit(":", 2)[-2]
    backend = RedisBackend(
        f"{redis_server.url}?client_name={name}{query}",
        prefix=redis_key_prefix,
        max_connections=max_connections,
        socket_timeout=3,
    )
    await backend.set("k", VALUE, None)
    admin = aioredis.Redis.from_url(redis_server.url)
    # Redis holds every command for 300 ms, so all 20 gets are in flight together: a plain
    # pool of 2 would refuse 18 of them ("Too many connections"); these wait their turn.
    await admin.execute_command("CLIENT", "PAUSE", 300, "ALL")
    results = await asyncio.gather(*(backend.get("k") for _ in range(20)))
    assert results == [VALUE] * 20
    ours = [c for c in await admin.client_list() if c.get("name") == name]
    assert 1 <= len(ours) <= 2
    await admin.aclose()
    await backend.clear()
    await backend.aclose()


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a command left "never awaited"
async def test_waiting_for_a_busy_connection_is_bounded(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    backend = RedisBackend(
        redis_server.url, prefix=redis_key_prefix, max_connections=1, socket_timeout=0.2
    )
    await backend.set("k", VALUE, None)
    assert redis_server.pid is not None
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        first, second = await asyncio.gather(
            backend.get("k"), backend.get("k"), return_exceptions=True
        )
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    assert isinstance(first, StoreError)
    assert "Timeout" in str(first)
    assert isinstance(second, StoreError)
    assert "all 1 connections" in str(second)
    assert "max_connections" in str(second)
    assert await backend.get("k") == VALUE  # the slot was given back
    await backend.clear()
    await backend.aclose()


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_same_backend_works_again_after_redis_comes_back(
    redis_server: RedisServer, redis_key_prefix: str, outage: str
) -> None:
    backend = RedisBackend(redis_server.url, prefix=redis_key_prefix)
    await backend.set("before", VALUE, None)
    assert await backend.get("before") == VALUE  # the pool now holds a live connection
    getattr(redis_server, outage)()
    with pytest.raises(StoreError):
        await backend.get("before")
    with pytest.raises(StoreError):
        await backend.set("during", VALUE, None)
    redis_server.start()
    # The same object, not rebuilt: the pool reconnects (a restart empties the server).
    assert await backend.get("before") is None
    await backend.set("after", VALUE, None)
    assert await backend.get("after") == VALUE
    await backend.clear()
    await backend.aclose()


async def test_recovers_when_redis_restarts_between_calls(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    backend = RedisBackend(redis_server.url, prefix=redis_key_prefix)
    await backend.set("k", VALUE, None)
    redis_server.restart()  # no call sees the outage; the pooled connection is dead, though
    assert await backend.get("k") is None
    await backend.set("k", VALUE, None)
    assert await backend.get("k") == VALUE
    await backend.clear()
    await backend.aclose()


def test_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:{PASSWORD}@cache.internal:6380/2")
    backend = RedisBackend()
    assert (
        repr(backend)
        == "RedisBackend('redis://:***@cache.internal:6380/2', prefix='devora:cache:')"
    )
    monkeypatch.delenv("REDIS_URL")
    assert "redis://localhost:6379/0" in repr(RedisBackend())


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        (f"redis://user:{PASSWORD}@h:1/0", "redis://user:***@h:1/0"),
        (f"rediss://:{PASSWORD}@h/0?ssl_cert_reqs=none", "rediss://:***@h/0?ssl_cert_reqs=none"),
        ("redis://p%40ss:w%3Ard@h:1", "redis://p%40ss:***@h:1"),
        ("redis://only-user@h:1", "redis://only-user@h:1"),
        (
            f"unix:///run/redis.sock?db=1&password={PASSWORD}",
            "unix:///run/redis.sock?db=1&password=***",
        ),
        (f"redis://h?Password={PASSWORD}&db=2", "redis://h?Password=***&db=2"),
        ("redis://h?mypassword=x", "redis://h?mypassword=x"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"prefix": ""}, "prefix"),
        ({"default_ttl": 0}, "default_ttl"),
        ({"socket_timeout": 0}, "socket_timeout"),
        ({"socket_timeout": math.inf}, "socket_timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
    ],
)
def test_invalid_arguments_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        RedisBackend("redis://localhost:6379/0", **options)


def test_invalid_url_is_a_configuration_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisBackend(f"http://user:{PASSWORD}@host:1/0")
    assert PASSWORD not in str(caught.value)


async def test_client_must_return_bytes_and_excludes_url(redis_url: str) -> None:
    import redis.asyncio as aioredis

    text_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisBackend(client=text_client)
    with pytest.raises(ConfigurationError, match="either url or client"):
        RedisBackend(redis_url, client=text_client)
    await text_client.aclose()


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'devora-ai\[redis\]'"):
        RedisBackend()


def test_importing_the_cache_does_not_import_redis() -> None:
    code = (
        "import sys, ai.cache, ai.cache.redis_backend; "
        "assert 'redis' not in sys.modules, 'redis imported'; "
        "ai.cache.RedisBackend; assert 'redis' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
