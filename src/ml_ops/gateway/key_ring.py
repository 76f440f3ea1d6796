"""Authentication on the request path: a presented key -> its `VirtualKey`, from memory.

The key is hashed once (HMAC-SHA-256, ~1 µs) and the digest looked up in a dictionary.
A digest not seen for `ttl` seconds is read from the store once (concurrent requests
with the same key share that read), and unknown digests are remembered too, for a shorter
time and in bounded number, so a wrong key sent again and again reaches the database once
every 2 s; each different wrong key still costs one lookup by digest. A key
revoked through this process is dropped at once; other processes notice within `ttl`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ml_ops.gateway.errors import invalid_key, key_expired, key_revoked, no_key
from ml_ops.gateway.key_store import KeyStore
from ml_ops.gateway.keys import KeyHasher, VirtualKey

_MISSING_TTL_S = 2.0
_MAX_MISSING = 10_000


@dataclass(slots=True)
class _Entry:
    key: VirtualKey | None
    until: float


class KeyRing:
    """Cached key lookups over a `KeyStore` (see the module docstring).

    `on_load` is called with each key the first time it is loaded (the budgets module
    registers its budget then). `clock` is monotonic seconds, injectable for tests.
    """

    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        *,
        ttl: float = 10.0,
        on_load: Callable[[VirtualKey], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.ttl = ttl
        self._on_load = on_load
        self._clock = clock
        self._known: dict[str, _Entry] = {}
        self._missing: OrderedDict[str, float] = OrderedDict()
        self._loading: dict[str, asyncio.Future[VirtualKey | None]] = {}
        self._seen: set[str] = set()

    async def authenticate(self, presented: str | None) -> VirtualKey:
        """The active key behind `presented`, or the `GatewayError` (401) to answer."""
        if not presented:
            raise no_key()
        digest = self.hasher.digest(presented)
        now = self._clock()
        entry = self._known.get(digest)
        key = entry.key if entry is not None and entry.until > now else await self._load(digest)
        if key is None:
            raise invalid_key()
        if key.revoked_at is not None:
            raise key_revoked(key.id)
        if key.expires_at is not None and key.expired(datetime.now(UTC)):
            raise key_expired(key.id, key.expires_at)
        return key

    def forget(self, key_id: str) -> None:
        """Drop a key from memory (after it was revoked here)."""
        for digest, entry in list(self._known.items()):
            if entry.key is not None and entry.key.id == key_id:
                del self._known[digest]

    def remember(self, key: VirtualKey) -> None:
        """Put a key just created here into memory."""
        self._missing.pop(key.digest, None)
        self._store_entry(key.digest, key)

    async def _load(self, digest: str) -> VirtualKey | None:
        missing_until = self._missing.get(digest)
        if missing_until is not None and missing_until > self._clock():
            return None
        pending = self._loading.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[VirtualKey | None] = asyncio.get_running_loop().create_future()
        self._loading[digest] = future
        try:
            key = await self.store.by_digest(digest)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._loading.pop(digest, None)
        future.set_result(key)
        if key is None:
            self._note_missing(digest)
        else:
            self._store_entry(digest, key)
        return key

    def _store_entry(self, digest: str, key: VirtualKey) -> None:
        self._known[digest] = _Entry(key, self._clock() + self.ttl)
        if key.id not in self._seen:
            self._seen.add(key.id)
            if self._on_load is not None:
                self._on_load(key)

    def _note_missing(self, digest: str) -> None:
        self._missing[digest] = self._clock() + min(self.ttl, _MISSING_TTL_S)
        self._missing.move_to_end(digest)
        while len(self._missing) > _MAX_MISSING:
            self._missing.popitem(last=False)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None when absent)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
