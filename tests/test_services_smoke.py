"""Smoke tests of the test harness itself: real Redis, PostgreSQL+pgvector, network guard."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from tests.services.netguard import NetworkAccessBlocked, NetworkGuard, hosts_in_url
from tests.services.policy import missing_service_outcome, service_unavailable
from tests.services.postgres_server import PgSchema, redact_url, with_params
from tests.services.redis_server import RedisServer

# --- policy: skip locally, fail in CI -----------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "skip"),
        ({"CI": ""}, "skip"),
        ({"CI": "false"}, "skip"),
        ({"CI": "0"}, "skip"),
        ({"CI": "true"}, "fail"),
        ({"CI": "True"}, "fail"),
        ({"CI": "1"}, "fail"),
        ({"CI": "yes"}, "fail"),
        ({"DEVORA_REQUIRE_SERVICES": "1"}, "fail"),
        ({"CI": "false", "DEVORA_REQUIRE_SERVICES": "true"}, "fail"),
    ],
)
def test_missing_service_outcome(environ: dict[str, str], expected: str) -> None:
    assert missing_service_outcome(environ) == expected


def test_service_unavailable_fails_in_ci_and_skips_otherwise() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"(?s)Redis is required.*Fix: install it"):
        service_unavailable("Redis", "not found", "install it", {"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match=r"Redis unavailable: not found"):
        service_unavailable("Redis", "not found", "install it", {})


# --- Redis -------------------------------------------------------------------------------


async def test_redis_set_get_ttl(redis_client: object, redis_key_prefix: str) -> None:
    import redis.asyncio as aioredis

    assert isinstance(redis_client, aioredis.Redis)
    key = redis_key_prefix + "greeting"
    assert await redis_client.set(key, "hello", ex=60)
    assert await redis_client.get(key) == b"hello"
    ttl = await redis_client.ttl(key)
    assert 0 < ttl <= 60
    await redis_client.set(redis_key_prefix + "forever", "x")
    assert await redis_client.ttl(redis_key_prefix + "forever") == -1


def test_redis_key_prefix_is_unique_per_test(redis_key_prefix: str) -> None:
    assert redis_key_prefix.startswith("devora-test:test-redis-key-prefix-is-unique")
    assert redis_key_prefix.endswith(":")


async def test_redis_server_stop_and_start(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = aioredis.Redis.from_url(
        redis_server.url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        await client.set("restart-probe", "1")
        assert await client.get("restart-probe") == b"1"
        port = redis_server.port

        redis_server.stop()
        assert not redis_server.running
        with pytest.raises(RedisConnectionError):
            await client.get("restart-probe")

        redis_server.start()
        assert redis_server.running
        assert redis_server.port == port
        assert await client.ping()
        assert await client.get("restart-probe") is None  # nothing is persisted

        redis_server.kill()  # a crash, not a shutdown
        with pytest.raises(RedisConnectionError):
            await client.ping()
        redis_server.restart()
        assert await client.ping()
    finally:
        await client.aclose()


def test_redis_server_is_running_again_for_the_next_test(redis_server: RedisServer) -> None:
    redis_server.stop()  # the fixture's teardown must bring it back


def test_redis_server_was_restarted(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_server.running
    if redis_server.url == redis_url:  # the session server, not a private one
        import redis

        client = redis.Redis.from_url(redis_url)
        assert client.ping()
        client.close()


# --- PostgreSQL + pgvector ------------------------------------------------------------------


async def test_postgres_pgvector_hnsw_nearest_neighbour(postgres_test_url: str) -> None:
    import asyncpg
    import numpy as np
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(postgres_test_url)
    try:
        version = await conn.fetchval(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        )
        assert version is not None
        await register_vector(conn)
        await conn.execute(
            "CREATE TABLE items (id int PRIMARY KEY, label text, embedding vector(3) NOT NULL)"
        )
        await conn.executemany(
            "INSERT INTO items VALUES ($1, $2, $3)",
            [
                (1, "x", np.array([1.0, 0.0, 0.0])),
                (2, "y", np.array([0.0, 1.0, 0.0])),
                (3, "z", np.array([0.0, 0.0, 1.0])),
                (4, "xy", np.array([0.7, 0.7, 0.0])),
            ],
        )
        await conn.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
        await conn.execute("SET enable_seqscan = off")  # make the planner use the index
        query = (
            "SELECT id, embedding <=> $1 AS distance FROM items ORDER BY embedding <=> $1 LIMIT 2"
        )
        plan = "\n".join(
            r[0] for r in await conn.fetch("EXPLAIN " + query, np.array([0.9, 0.1, 0.0]))
        )
        assert "items_embedding_idx" in plan
        rows = await conn.fetch(query, np.array([0.9, 0.1, 0.0]))
        assert [r["id"] for r in rows] == [1, 4]
        assert rows[0]["distance"] < rows[1]["distance"]
        stored = await conn.fetchval("SELECT embedding FROM items WHERE id = 2")
        assert stored.to_list() == [0.0, 1.0, 0.0]
    finally:
        await conn.close()


async def test_pg_schema_isolates_tables(pg_schema: PgSchema, pg_conn: object) -> None:
    import asyncpg

    assert isinstance(pg_conn, asyncpg.Connection)
    assert await pg_conn.fetchval("SELECT current_schema()") == pg_schema.name
    await pg_conn.execute("CREATE TABLE docs (id int, embedding vector(3))")
    where = await pg_conn.fetchval(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'docs'"
        " AND table_schema = $1",
        pg_schema.name,
    )
    assert where == pg_schema.name


def test_pg_schema_is_dropped_after_the_test(postgres_url: str) -> None:
    import asyncpg

    async def leftovers() -> int:
        conn = await asyncpg.connect(postgres_url)
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't_test_pg_schema_isolates%'"
            )
            return count
        finally:
            await conn.close()

    assert asyncio.run(leftovers()) == 0


async def test_postgres_database_url_is_fresh_with_vector(postgres_database_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres_database_url)
    try:
        assert (await conn.fetchval("SELECT current_database()")).startswith("db_test_postgres_")
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
        await conn.execute("CREATE TABLE t (v vector(2))")
    finally:
        await conn.close()


def test_with_params_builds_urls_both_drivers_accept() -> None:
    url = "postgresql://postgres:@/postgres?host=/tmp/x/pgdata"
    out = with_params(url, database="other", options="-csearch_path=a,public", application_name="a")
    assert out.startswith("postgresql://postgres:@/other?host=/tmp/x/pgdata&")
    assert "options=-csearch_path%3Da%2Cpublic" in out
    assert redact_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"


# --- network guard ------------------------------------------------------------------------


def test_network_guard_blocks_non_loopback_connect_immediately(network_guard: NetworkGuard) -> None:
    assert network_guard.active
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        started = time.perf_counter()
        with pytest.raises(NetworkAccessBlocked, match=r"10\.255\.255\.1:80"):
            sock.connect(("10.255.255.1", 80))
        assert time.perf_counter() - started < 0.5
        # Never handed to the kernel: no local port was bound, so no SYN can have left.
        assert sock.getsockname() == ("0.0.0.0", 0)  # noqa: S104
        assert sock.connect_ex(("10.255.255.1", 80)) != 0
    finally:
        sock.close()
    with pytest.raises(OSError, match="network access blocked"):
        socket.create_connection(("10.255.255.1", 80), timeout=5)
    with pytest.raises(NetworkAccessBlocked, match=r"DNS lookup of 'example\.com'"):
        socket.getaddrinfo("example.com", 443)
    assert len(network_guard.take_blocked()) == 4  # acknowledged: the test must not fail


async def test_network_guard_blocks_asyncio_connections(network_guard: NetworkGuard) -> None:
    with pytest.raises(OSError, match="network access blocked"):
        await asyncio.wait_for(asyncio.open_connection("10.255.255.1", 80), 2)
    with pytest.raises(OSError, match="network access blocked"):
        await asyncio.wait_for(asyncio.open_connection("api.openai.com", 443), 2)
    assert network_guard.take_blocked()


async def test_network_guard_allows_loopback_and_unix_sockets(tmp_path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = str(tmp_path / "s.sock")
    unix_server = await asyncio.start_unix_server(echo, path)
    try:
        for connection in (
            asyncio.open_connection("127.0.0.1", port),
            asyncio.open_connection("localhost", port),
            asyncio.open_unix_connection(path),
        ):
            reader, writer = await connection
            writer.write(b"ping\n")
            assert await reader.readline() == b"ping\n"
            writer.close()
            await writer.wait_closed()
    finally:
        server.close()
        unix_server.close()


@pytest.mark.allow_network
def test_allow_network_marker_suspends_the_guard(network_guard: NetworkGuard) -> None:
    assert network_guard.installed
    assert not network_guard.active


def test_network_guard_allowlist_and_url_hosts() -> None:
    guard = NetworkGuard(allowed_hosts=["10.1.2.3", "redis.internal"])
    guard.install()
    try:
        guard.check_address(socket.AF_INET, ("10.1.2.3", 6379))
        guard.check_address(socket.AF_INET6, ("::1", 80, 0, 0))
        guard.check_address(socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0))
        guard.check_address(socket.AF_UNIX, "/tmp/x.sock")
        assert guard.check_lookup("redis.internal") is True
        with pytest.raises(NetworkAccessBlocked):
            guard.check_address(socket.AF_INET, ("10.1.2.4", 6379))
        with pytest.raises(NetworkAccessBlocked):
            guard.check_address(socket.AF_INET6, ("2001:db8::1", 443, 0, 0))
    finally:
        guard.uninstall()
    assert not guard.installed
    assert hosts_in_url("redis://:pw@cache.example:6380/0") == {"cache.example"}
    assert hosts_in_url("postgresql://u:p@db1:5432,db2:5433/x") == {"db1", "db2"}
    assert hosts_in_url("postgresql://postgres:@/postgres?host=/tmp/pg") == set()
    assert hosts_in_url("redis://[::1]:6379") == {"::1"}
