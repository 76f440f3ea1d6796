"""Creating, listing and revoking keys: shared by `devora keys` and the admin endpoints."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

from ai.errors import ConfigurationError
from ml_ops.gateway.key_ring import KeyRing
from ml_ops.gateway.key_store import KeyStore
from ml_ops.gateway.keys import (
    KeyHasher,
    KeyRequest,
    VirtualKey,
    parse_budget,
    parse_duration,
)

_FIELDS = {"user", "team", "agent", "name", "budget", "rpm", "tpm", "models", "expires"}


class KeyManager:
    """Key administration over a store; `ring`, when given, learns of changes at once.
    Only `create` hashes: without a `hasher` the manager lists and revokes (the command
    line does so without reading, or creating, the hashing secret)."""

    def __init__(
        self, store: KeyStore, hasher: KeyHasher | None = None, ring: KeyRing | None = None
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.ring = ring

    async def create(self, request: KeyRequest) -> tuple[str, VirtualKey]:
        """A new key (the only time it is ever seen) and its record."""
        if self.hasher is None:
            raise ConfigurationError("creating a key needs the hashing secret (a KeyHasher).")
        key, record = self.hasher.new_key(request)
        await self.store.add(record)
        if self.ring is not None:
            self.ring.remember(record)
        return key, record

    async def list(self) -> list[VirtualKey]:
        return await self.store.list()

    async def revoke(self, key_id: str, when: datetime | None = None) -> VirtualKey:
        record = await self.store.revoke(key_id, when)
        if record is None:
            raise ConfigurationError(f"No key with id {key_id!r}; `devora keys list` shows them.")
        if self.ring is not None:
            self.ring.forget(key_id)
        return record


def key_request(
    *,
    user: str,
    team: str | None = None,
    agent: str | None = None,
    name: str | None = None,
    budget: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    models: str | Sequence[str] | None = None,
    expires: str | None = None,
) -> KeyRequest:
    """A `KeyRequest` from the CLI's and the admin API's spellings (`budget="10/day"`,
    `models="a,b"` or a list, `expires="30d"`)."""
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    for model in models or ():
        _check_label("models", model)
    _check_label("user", user)
    return KeyRequest(
        user=user,
        team=_check_label("team", team or None),
        agent=_check_label("agent", agent or None),
        name=_check_label("name", name or None),
        budget=parse_budget(budget) if budget else None,
        rpm=rpm,
        tpm=tpm,
        models=tuple(models or ()),
        expires_in=parse_duration(expires) if expires else None,
    )


#: The longest label (user, team, agent, name, model) a key may carry: labels go into
#: every record, the dashboard's tables and the stores' text columns.
MAX_LABEL_CHARS = 200


def _check_label(field: str, value: str | None) -> str | None:
    """`value` unless it is empty, longer than `MAX_LABEL_CHARS` or holds a control
    character (a NUL, which PostgreSQL refuses to store, a newline that splits log lines)."""
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_LABEL_CHARS:
        raise ConfigurationError(
            f"'{field}' must be 1 to {MAX_LABEL_CHARS} characters, got {len(value)}."
        )
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ConfigurationError(f"'{field}' must not contain control characters.")
    return value


def key_request_from_json(data: object) -> KeyRequest:
    """`key_request` from a JSON object, refusing unknown fields and wrong types."""
    if not isinstance(data, Mapping):
        raise ConfigurationError('The body must be a JSON object like {"user": "ana"}.')
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigurationError(
            f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}."
        )
    user = data.get("user")
    if not isinstance(user, str):
        raise ConfigurationError("'user' is required and must be a string.")
    for field in ("team", "agent", "name", "budget", "expires"):
        if data.get(field) is not None and not isinstance(data[field], str):
            raise ConfigurationError(f"'{field}' must be a string.")
    for field in ("rpm", "tpm"):
        value = data.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigurationError(f"'{field}' must be an integer.")
    models = data.get("models")
    if models is not None and not (
        isinstance(models, str)
        or (isinstance(models, list) and all(isinstance(m, str) for m in models))
    ):
        raise ConfigurationError("'models' must be a list of model names.")
    return key_request(
        user=user,
        team=data.get("team"),
        agent=data.get("agent"),
        name=data.get("name"),
        budget=data.get("budget"),
        rpm=data.get("rpm"),
        tpm=data.get("tpm"),
        models=models,
        expires=data.get("expires"),
    )
