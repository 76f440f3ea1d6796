"""The admin key that guards the dashboard, its API and the gateway's admin endpoints.

`DEVORA_ADMIN_KEY` when set; otherwise a random key generated at start and printed once
(the server binds to loopback by default, so only someone on this machine sees it).
The key is compared in constant time and kept only as a SHA-256 digest in memory; it is
accepted as `Authorization: Bearer <key>` or `X-Admin-Key: <key>`. The browser instead
carries the `devora_admin` cookie that the dashboard's `/login` sets: not the key, but a
session (its expiry and an HMAC of it under the key's digest), so a copied cookie neither
reveals the key nor outlives its expiry, which the server checks. Endpoints that a browser
never calls (the gateway's key administration) take the key in a header only
(`require_admin(..., cookie=False)`), so no other page can act through a login cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ai.errors import ConfigurationError

ADMIN_KEY_ENV = "DEVORA_ADMIN_KEY"
COOKIE_NAME = "devora_admin"
MIN_KEY_LENGTH = 16


@dataclass(frozen=True, slots=True)
class AdminKey:
    """A digest of the admin key; `generated` says whether it was made up at start."""

    digest: bytes
    generated: bool = False

    @classmethod
    def of(cls, key: str, *, generated: bool = False) -> AdminKey:
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"The admin key must be at least {MIN_KEY_LENGTH} characters; set "
                f"{ADMIN_KEY_ENV} to a long random value (e.g. `openssl rand -hex 24`)."
            )
        return cls(hashlib.sha256(key.encode()).digest(), generated)

    def matches(self, candidate: str | None) -> bool:
        """Whether `candidate` is the key (constant time)."""
        if not candidate:
            return False
        return hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), self.digest)

    def session(self, max_age: int, *, now: float | None = None) -> str:
        """A login cookie's value, valid for `max_age` seconds: `<expiry>.<signature>`
        (Unix seconds, and an HMAC of them under the key's digest)."""
        expires = int(time.time() if now is None else now) + max_age
        return f"{expires}.{self._signature(expires)}"

    def accepts_session(self, value: str | None, *, now: float | None = None) -> bool:
        """Whether `value` is a session made by `session()` that has not expired."""
        expires_text, _, signature = (value or "").partition(".")
        if not (expires_text.isascii() and expires_text.isdigit()):
            return False
        expires = int(expires_text)
        expected = self._signature(expires).encode()
        if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
            return False
        return (time.time() if now is None else now) < expires

    def _signature(self, expires: int) -> str:
        message = f"devora-admin-session:{expires}".encode()
        return hmac.new(self.digest, message, hashlib.sha256).hexdigest()


def admin_key_from_env(environ: Mapping[str, str] | None = None) -> tuple[AdminKey, str | None]:
    """The admin key from `DEVORA_ADMIN_KEY`, or a new random one; the second value is the
    generated key itself (to print once), None when it came from the environment."""
    env = os.environ if environ is None else environ
    configured = env.get(ADMIN_KEY_ENV)
    if configured:
        return AdminKey.of(configured), None
    key = "dvr-admin-" + secrets.token_urlsafe(24)
    return AdminKey.of(key, generated=True), key


def presented_key(connection: HTTPConnection) -> str | None:
    """The key a request presents in a header (never by query string: URLs end up in logs
    and browser history)."""
    authorization = connection.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return connection.headers.get("x-admin-key")


def require_admin(connection: HTTPConnection, key: AdminKey, *, cookie: bool = True) -> bool:
    """Whether the request carries the admin key in a header or, when `cookie`, a login
    session (`AdminKey.session`) that has not expired."""
    if key.matches(presented_key(connection)):
        return True
    return cookie and key.accepts_session(connection.cookies.get(COOKIE_NAME))
