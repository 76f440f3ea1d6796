"""Virtual keys for the tour's cast, created through the gateway's key admin API
(`POST /admin/keys` with the admin key), as an operator would hand them out.

Each key carries its member's user, team and agent, so the gateway labels every record
with them. The keys live in the tour's key store (SQLite, beside the event store), stored
as HMACs only; the tour keeps the clear keys in memory to make its calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from ai.errors import ConfigurationError
from ml_ops.demo.cast import Member


async def create_keys(base_url: str, admin_key: str, cast: Sequence[Member]) -> dict[str, str]:
    """One key per member: user -> `sk-dvr-...` (shown by the API this once)."""
    keys: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as http:
        for member in cast:
            body = {
                "user": member.user,
                "team": member.team,
                "agent": member.agent,
                "name": f"demo {member.does}",
            }
            response = await http.post("/admin/keys", json=body)
            if response.status_code != 201:
                raise ConfigurationError(
                    f"the gateway refused to create a key for {member.user}: "
                    f"HTTP {response.status_code} {response.text}"
                )
            keys[member.user] = str(response.json()["key"])
    return keys


__all__ = ["create_keys"]
