"""Virtual keys: what a key may do, how it is made, and how it is stored (as a hash only).

A key is `sk-dvr-` and 43 URL-safe characters (256 random bits); it is shown once, when
created. The store keeps `HMAC-SHA-256(secret, key)`: one microsecond to compute, so a
request is authenticated with one digest and one dictionary lookup. A slow password hash
(scrypt, argon2) protects guessable passwords; a 256-bit random key cannot be guessed, so
slowness would only cost every request its milliseconds. The server secret (`$DEVORA_KEY_
SECRET`, else a generated file readable by its owner only) means a copy of the database
alone does not even let anyone test a candidate key. The `sk-` prefix also lets
`ai.errors.redact` mask a key that slips into a message.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ai.errors import ConfigurationError
from ml_ops.cost_tracker.periods import BudgetPeriod

KEY_PREFIX = "sk-dvr-"
SECRET_ENV = "DEVORA_KEY_SECRET"  # noqa: S105 - a variable name, not a secret
DEFAULT_SECRET_FILE = Path(".devora") / "gateway.secret"
_MIN_SECRET_CHARS = 32
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_LIFETIME = timedelta(days=100 * 365)
"""The longest `expires` a key may have (dates past year 9999 cannot even be stored)."""
MAX_PER_MINUTE = 2**31 - 1
"""The largest `rpm` / `tpm`: the key table's INTEGER columns hold no more."""


_PERIOD_WORDS = {
    "day": BudgetPeriod.DAILY,
    "daily": BudgetPeriod.DAILY,
    "d": BudgetPeriod.DAILY,
    "week": BudgetPeriod.WEEKLY,
    "weekly": BudgetPeriod.WEEKLY,
    "w": BudgetPeriod.WEEKLY,
    "month": BudgetPeriod.MONTHLY,
    "monthly": BudgetPeriod.MONTHLY,
    "mo": BudgetPeriod.MONTHLY,
}


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A spending limit in USD per calendar period."""

    limit: float
    period: BudgetPeriod

    def __str__(self) -> str:
        return f"{self.limit:g}/{self.period.value}"


def parse_budget(text: str) -> BudgetSpec:
    """`"10/day"`, `"250/month"`, `"$5/week"` as a `BudgetSpec`."""
    amount, _, period = text.strip().lstrip("$").partition("/")
    try:
        limit = float(amount)
    except ValueError:
        limit = -1.0
    word = _PERIOD_WORDS.get(period.strip().lower())
    if not (0 < limit < math.inf) or word is None:
        raise ConfigurationError(
            f"Budget {text!r} should read like 10/day, 50/week or 200/month (USD > 0)."
        )
    return BudgetSpec(limit, word)


def parse_duration(text: str) -> timedelta:
    """`"30d"`, `"12h"`, `"2w"`, `"90m"` as a `timedelta`."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigurationError(
            f"Duration {text!r} should read like 30d, 12h, 2w or 90m (a positive number)."
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_LIFETIME.total_seconds():
        raise ConfigurationError(_bad_lifetime(repr(text)))
    return timedelta(seconds=seconds)


def _bad_lifetime(what: str) -> str:
    days = MAX_LIFETIME.days
    return f"A key's lifetime must be above 0 and at most {days}d (100 years), got {what}."


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """Everything the gateway knows about a key, except the key itself.

    `id` is public (`key_...`: in logs, records and the admin API); `digest` is the HMAC
    of the key. `models` empty means every configured model. `rpm` and `tpm` are None
    when unlimited.
    """

    id: str
    digest: str
    user: str
    team: str | None = None
    agent: str | None = None
    name: str | None = None
    budget: BudgetSpec | None = None
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, model: str) -> bool:
        """Whether this key may call `model` (an alias name)."""
        return not self.models or model in self.models

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def tags(self) -> dict[str, str]:
        """The tags every record of this key carries."""
        tags = {"key_id": self.id}
        if self.team:
            tags["team"] = self.team
        return tags

    def describe(self) -> dict[str, object]:
        """The admin API's and CLI's view: no digest, no key."""
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "team": self.team,
            "agent": self.agent,
            "budget": None if self.budget is None else str(self.budget),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "models": list(self.models),
            "created_at": self.created_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "status": self.status(datetime.now(UTC)),
        }

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired(now) else "active"


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """What `devora keys create` and `POST /admin/keys` ask for."""

    user: str
    team: str | None = None
    agent: str | None = None
    name: str | None = None
    budget: BudgetSpec | None = None
    rpm: int | None = None
    tpm: int | None = None
    models: Sequence[str] = ()
    expires_in: timedelta | None = None

    def __post_init__(self) -> None:
        if not self.user or not self.user.strip():
            raise ConfigurationError("A key needs a user (--user NAME).")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 < value <= MAX_PER_MINUTE):
                raise ConfigurationError(
                    f"{name} must be a whole number from 1 to {MAX_PER_MINUTE}, got {value!r}."
                )
        lifetime = self.expires_in
        if lifetime is not None and not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ConfigurationError(_bad_lifetime(str(lifetime)))


class KeyHasher:
    """HMAC-SHA-256 of keys under the server secret (see the module docstring)."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET_CHARS:
            raise ConfigurationError(
                f"The key-hashing secret must be at least {_MIN_SECRET_CHARS} bytes; set "
                f"{SECRET_ENV} to e.g. the output of `openssl rand -hex 32`."
            )
        self._secret = secret

    def __repr__(self) -> str:
        return "KeyHasher(<secret>)"

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    def new_key(
        self, request: KeyRequest, *, now: datetime | None = None
    ) -> tuple[str, VirtualKey]:
        """A fresh key (shown once) and its record."""
        created = now or datetime.now(UTC)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = VirtualKey(
            id="key_" + secrets.token_hex(8),
            digest=self.digest(key),
            user=request.user.strip(),
            team=request.team,
            agent=request.agent,
            name=request.name,
            budget=request.budget,
            rpm=request.rpm,
            tpm=request.tpm,
            models=tuple(request.models),
            created_at=created,
            expires_at=None if request.expires_in is None else created + request.expires_in,
        )
        return key, record


def load_secret(
    secret_file: str | os.PathLike[str] | None = None, *, environ: dict[str, str] | None = None
) -> bytes:
    """`$DEVORA_KEY_SECRET`, else the secret file (created with 0600 permissions on first
    use; every process of a deployment must see the same one, or the same variable)."""
    env = os.environ if environ is None else environ
    configured = env.get(SECRET_ENV, "").strip()
    if configured:
        return configured.encode()
    path = Path(secret_file) if secret_file else DEFAULT_SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise ConfigurationError(
            f"The key secret file {path} is readable by others; run `chmod 600 {path}`."
        )
    for _ in range(100):  # another process may be writing it right now
        text = path.read_text().strip()
        if len(text) >= _MIN_SECRET_CHARS:
            return text.encode()
        time.sleep(0.01)
    raise ConfigurationError(f"The key secret file {path} is empty or too short.")
