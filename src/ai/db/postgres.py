"""An asyncpg pool and the one boundary where its errors become devora-ai errors.

The PostgreSQL-backed stores (pgvector's `PgVectorBackend`, the prompt
`PostgresTemplateStore`) each hold one `PostgresPool`, so opening the pool, closing it and
converting driver errors are written once. Needs asyncpg; only those stores' modules import
this one (inside their guarded import, so a missing driver names the extra to install), and
importing `ai` never imports asyncpg.

Errors, all raised from `PostgresPool.connection`:

- any asyncpg error, `OSError` or time-out while connecting or using a connection becomes
  `StoreError`, whose message names the store, the operation, what it worked on and the
  server (password masked), and says what to check;
- a connection string asyncpg cannot parse becomes `ConfigurationError`;
- use after `aclose()` is a `StoreError` that says to create a new object.

A failed connection attempt leaves no pool behind, so the next call tries again and the
store recovers by itself once the server is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from ai.errors import ConfigurationError, StoreError, mask_url, redact

#: Runs on one asyncpg connection (`init` when it opens, `reset` when it goes back).
ConnectionHook = Callable[[Any], Awaitable[None]]

_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@dataclass(frozen=True)
class PoolOptions:
    """How big the pool is, how long a connection attempt and one statement may take, and
    connection hooks.

    `command_timeout_s` bounds every statement (and the wait for a pooled connection), so a
    frozen or overloaded server fails the operation with `StoreError` instead of holding
    the caller until it recovers. `init` and `reset` go to `asyncpg.create_pool`
    unchanged; None keeps asyncpg's default (no set-up; `RESET ALL` and friends on every
    release).
    """

    min_size: int = 1
    max_size: int = 10
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 10.0
    init: ConnectionHook | None = None
    reset: ConnectionHook | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.min_size <= self.max_size or self.max_size < 1:
            raise ConfigurationError(
                f"pool sizes must satisfy 0 <= min_size <= max_size and max_size >= 1, got "
                f"min_size={self.min_size}, max_size={self.max_size}"
            )
        if self.connect_timeout_s <= 0 or self.command_timeout_s <= 0:
            raise ConfigurationError(
                "connect_timeout_s and command_timeout_s must be positive, got "
                f"{self.connect_timeout_s} and {self.command_timeout_s}"
            )


class PostgresPool:
    """A lazily opened asyncpg pool whose `connection()` is the store's one error boundary.

    `name` starts every message ("pgvector"), `subject` follows the operation and says what
    it worked on (" on table 'docs'"), `owner` is what to create anew after `aclose()`.
    `hints` adds store-specific advice by exception type, checked in order after the
    connection and password cases. `on_undefined_table` is called when a statement meets
    a missing table, so the store knows to create its tables again next time.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        owner: str,
        subject: str = "",
        options: PoolOptions | None = None,
        hints: Mapping[type[BaseException], str] | None = None,
        on_undefined_table: Callable[[], None] | None = None,
    ) -> None:
        self._url = url
        self._secrets = _url_password(url)
        self._name = name
        self._owner = owner
        self._subject = subject
        self._options = options or PoolOptions()
        self._hints = dict(hints or {})
        self._on_undefined_table = on_undefined_table
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def connection(self, operation: str) -> AsyncIterator[Any]:
        """A pooled connection for `operation`; driver and network errors leave as
        `StoreError`, raised from here only."""
        if self._closed:
            raise StoreError(
                f"{self._name} {operation}: the store is closed; create a new {self._owner}."
            )
        try:
            pool = await self._open()
            async with pool.acquire(timeout=self._options.command_timeout_s) as conn:
                yield conn
        except _DRIVER_ERRORS as exc:
            if isinstance(exc, asyncpg.UndefinedTableError) and self._on_undefined_table:
                self._on_undefined_table()
            raise StoreError(self._error_message(operation, exc)) from exc

    async def aclose(self) -> None:
        """Close the pool; later `connection()` calls raise `StoreError`. Idempotent."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _open(self) -> Any:
        async with self._lock:
            if self._pool is None:
                options = self._options
                try:
                    self._pool = await asyncpg.create_pool(
                        self._url,
                        min_size=options.min_size,
                        max_size=options.max_size,
                        timeout=options.connect_timeout_s,
                        command_timeout=options.command_timeout_s,
                        init=options.init,
                        reset=options.reset,
                    )
                except (ValueError, TypeError) as exc:  # a malformed URL or option
                    raise ConfigurationError(
                        f"{self._name}: the connection string {mask_url(self._url)} is not "
                        f"usable: {redact(str(exc), self._secrets)}"
                    ) from exc
            return self._pool

    def _error_message(self, operation: str, exc: BaseException) -> str:
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)
        return (
            f"{self._name} {operation}{self._subject} at {mask_url(self._url)} failed: "
            f"{detail}. {self._hint(exc)}"
        )

    def _hint(self, exc: BaseException) -> str:
        """What to do next, for the errors people actually meet."""
        if isinstance(exc, TimeoutError):
            return (
                "PostgreSQL did not answer within the command timeout; check that it is "
                "running and not overloaded, or raise PoolOptions(command_timeout_s=...)."
            )
        if isinstance(exc, OSError | asyncpg.ConnectionDoesNotExistError):
            return "Check that PostgreSQL is running and reachable at that address."
        if isinstance(
            exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
        ):
            return "Check the user and password in the connection string."
        for kind, hint in self._hints.items():
            if isinstance(exc, kind):
                return hint
        return "See the PostgreSQL server log for details."


def _url_password(url: str) -> list[str]:
    """The URL's password as a list of secrets for `redact` (empty when there is none)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password else []


__all__ = ["ConnectionHook", "PoolOptions", "PostgresPool"]
