"""The shared Redis factory against a real Redis: pooled clients, capped connections, the
error boundary without passwords, the bytes check, and the install hint.

Keys are written under the test's `redis_key_prefix` (cleaned up afterwards); the dead
server is a loopback port nobody listens on.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

import ai.db
from ai.db.redis import (
    RedisConnection,
    connect_redis,
    create_redis_client,
    require_bytes_replies,
    resolve_redis_url,
)
from ai.errors import ConfigurationError, StoreError
from tests.services.ports import closed_port

if TYPE_CHECKING:
    import redis.asyncio

    from tests.services.redis_server import RedisServer

PASSWORD = "s3cret-Pa55word-do-not-leak"


async def test_a_built_client_round_trips_bytes_with_its_limits(
    redis_url: str, redis_key_prefix: str
) -> None:
    client = create_redis_client(
        redis_url, max_connections=3, socket_timeout=0.7, connect_timeout=1.5
    )
    try:
        await client.set(redis_key_prefix + "k", b"\x00\xffbinary")
        assert await client.get(redis_key_prefix + "k") == b"\x00\xffbinary"
        pool = client.connection_pool
        assert pool.max_connections == 3
        assert pool.connection_kwargs["socket_timeout"] == 0.7
        assert pool.connection_kwargs["socket_connect_timeout"] == 1.5
    finally:
        await client.aclose()


async def test_run_converts_driver_errors(
    redis_url: str, redis_key_prefix: str, redis_client: redis.asyncio.Redis
) -> None:
    async with connect_redis(redis_url, label="A/B assignment") as conn:
        assert await conn.run("incr", conn.client.incr(redis_key_prefix + "n")) == 1
        await redis_client.rpush(redis_key_prefix + "list", b"x")
        with pytest.raises(StoreError, match=r"^A/B assignment incr failed at .*WRONGTYPE"):
            await conn.run("incr", conn.client.incr(redis_key_prefix + "list"))


async def test_a_dead_server_fails_fast_with_the_password_masked() -> None:
    url = f"redis://devora:{PASSWORD}@127.0.0.1:{closed_port()}/0"
    conn = connect_redis(url, label="budget counters")
    assert PASSWORD not in repr(conn)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        await conn.run("incr", conn.client.incr("k"))
    assert time.monotonic() - started < 5  # refused at once, no backoff
    message = str(caught.value)
    assert PASSWORD not in message
    assert "devora:***@127.0.0.1" in message
    assert message.startswith("budget counters incr failed at redis://devora:***@")
    assert "Check that Redis is running" in message
    await conn.aclose()


def test_an_invalid_url_is_a_configuration_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_redis_client(f"http://user:{PASSWORD}@host:1/0", owner="RateLimiter")
    message = str(caught.value)
    assert PASSWORD not in message
    assert "user:***@host" in message and "RateLimiter" in message


@pytest.mark.parametrize(
    ("query", "max_connections", "cap"),
    [("", 2, 2), ("&max_connections=2", 50, 2)],  # a limit in the URL wins inside redis-py
)
async def test_connections_are_capped(
    redis_server: RedisServer, redis_key_prefix: str, query: str, max_connections: int, cap: int
) -> None:
    import redis.asyncio as aioredis

    name = "devora-db-test-" + redis_key_prefix.rsplit(":", 2)[-2]
    conn = connect_redis(
        f"{redis_server.url}?client_name={name}{query}",
        max_connections=max_connections,
        socket_timeout=3,
    )
    assert conn.max_connections == cap
    await conn.run("set", conn.client.set(redis_key_prefix + "k", b"v"))
    admin = aioredis.Redis.from_url(redis_server.url)
    # Every command is held 300 ms, so all 20 are in flight together: they queue for the
    # capped connections instead of opening more (or failing with "Too many connections").
    await admin.execute_command("CLIENT", "PAUSE", 300, "ALL")
    key = redis_key_prefix + "k"
    results = await asyncio.gather(*(conn.run("get", conn.client.get(key)) for _ in range(20)))
    assert results == [b"v"] * 20
    ours = [c for c in await admin.client_list() if c.get("name") == name]
    assert 1 <= len(ours) <= cap
    await admin.aclose()
    await conn.aclose()


async def test_a_client_with_text_replies_is_refused(redis_url: str) -> None:
    import redis.asyncio as aioredis

    text_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ConfigurationError, match="decode_responses=False"):
            require_bytes_replies(text_client, owner="ABTester")
        with pytest.raises(ConfigurationError, match="given to ABTester must return bytes"):
            connect_redis(client=text_client, owner="ABTester")
        with pytest.raises(ConfigurationError, match="either url or client"):
            connect_redis(redis_url, client=text_client)
    finally:
        await text_client.aclose()


async def test_a_given_client_is_used_and_left_open(
    redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    conn = connect_redis(client=redis_client, max_connections=4)
    assert isinstance(conn, RedisConnection) and not conn.owns_client
    assert conn.where.startswith("redis://127.0.0.1:")
    await conn.run("set", conn.client.set(redis_key_prefix + "k", b"v"))
    await conn.aclose()
    assert await redis_client.get(redis_key_prefix + "k") == b"v"  # still open


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"max_connections": True}, "max_connections"),
        ({"socket_timeout": 0}, "socket_timeout"),
        ({"socket_timeout": float("inf")}, "socket_timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
    ],
)
def test_invalid_limits_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        create_redis_client("redis://localhost:6379/0", **options)


def test_the_url_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", " redis://cache.internal:6380/2 ")
    assert resolve_redis_url() == "redis://cache.internal:6380/2"
    assert resolve_redis_url("redis://given:1/0") == "redis://given:1/0"
    monkeypatch.delenv("REDIS_URL")
    assert resolve_redis_url() == "redis://localhost:6379/0"


def test_missing_redis_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if redis-py were not installed\n"
        "import ai.db\n"
        "from ai.db.redis import create_redis_client\n"
        "try:\n"
        "    create_redis_client('redis://localhost:6379/0', owner='BudgetGuard')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert (
        out.stdout.strip() == "BudgetGuard needs the redis package: pip install 'devora-ai[redis]'"
    )


def test_importing_ai_db_imports_no_driver() -> None:
    code = (
        "import sys, ai.db, ai.db.redis, ai.db.sqlite; ai.db.connect_redis; ai.db.open_sqlite;"
        "print([m for m in ('redis', 'asyncpg') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_ai_db_exports_the_redis_names() -> None:
    assert ai.db.connect_redis is connect_redis
    assert ai.db.create_redis_client is create_redis_client
    assert {"RedisConnection", "connect_redis", "create_redis_client"} <= set(ai.db.__all__)


async def _connections_received(admin: redis.asyncio.Redis) -> int:
    return int((await admin.info("stats"))["total_connections_received"])


@pytest.mark.parametrize("pooled", [False, True], ids=["first-command", "pooled-connection"])
async def test_a_hung_server_is_not_asked_twice(
    redis_server: RedisServer, redis_key_prefix: str, pooled: bool
) -> None:
    """A timeout is not retried (only a dropped connection is): a retry reconnects and
    waits a second timeout, so a hung Redis would cost every caller twice the timeout.
    Counted in connections the server accepted, whether the command needed a new
    connection (first command) or had a live one (pooled)."""
    import redis.asyncio as aioredis

    admin = aioredis.Redis.from_url(redis_server.url)
    conn = connect_redis(redis_server.url, socket_timeout=0.2)
    key = redis_key_prefix + "k"
    if pooled:
        await conn.run("get", conn.client.get(key))
    before = await _connections_received(admin)
    # Every command is held for a second: the server accepts connections, answers nothing.
    await admin.execute_command("CLIENT", "PAUSE", 1000, "ALL")
    with pytest.raises(StoreError, match="Timeout"):
        await conn.run("get", conn.client.get(key))
    assert await _connections_received(admin) - before == (0 if pooled else 1)
    await admin.aclose()
    await conn.aclose()


async def test_a_dropped_connection_is_retried_once(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    """The first command after a restart finds its pooled connection dead and succeeds on
    a fresh one."""
    conn = connect_redis(redis_server.url)
    key = redis_key_prefix + "k"
    await conn.run("set", conn.client.set(key, b"v"))
    redis_server.restart()  # empties the server; the pooled connection is now dead
    assert await conn.run("get", conn.client.get(key)) is None
    await conn.aclose()
