"""`devora keys`: create, list and revoke the gateway's virtual keys.

    devora keys create --user ana --team search --budget 10/day --rpm 60 --tpm 100000 \\
        --models fast,embed --expires 30d
    devora keys list [--json]
    devora keys revoke key_0123abcd

Works on the key store directly, found as the gateway finds it: `--store`, else
`keys.store` of the gateway's config (`--config`, else `$DEVORA_CONFIG`, else
`devora.yaml`), else beside the event store (`--event-store`, what `devora serve --store`
was given; else the environment's); see docs/gateway.md. The hashing secret likewise:
`DEVORA_KEY_SECRET`, else `--secret-file`, else the config's `keys.secret_file`. The key
is printed once, by `create`; nothing ever prints it again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

from ai.core.command_line import fail, one_line_errors
from ai.errors import DevoraError

if TYPE_CHECKING:
    from ml_ops.gateway.key_manager import KeyManager

T = TypeVar("T")

keys_app = typer.Typer(
    name="keys",
    help="Virtual keys of the OpenAI-compatible gateway: create, list, revoke.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_STORE = typer.Option(
    None, "--store", help="Key store: a SQLite file or postgresql:// URL (default: as the gateway)."
)
_SECRET = typer.Option(
    None, "--secret-file", help="Key-hashing secret file (or set DEVORA_KEY_SECRET)."
)
_CONFIG = typer.Option(
    None, "--config", help="The gateway's config file; default $DEVORA_CONFIG, else devora.yaml."
)
_EVENT_STORE = typer.Option(
    None, "--event-store", help="The event store `devora serve --store` uses; keys live beside it."
)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the keys and the hashing secret are, as given on the command line."""

    store: str | None = None
    secret_file: str | None = None
    config: str | None = None
    event_store: str | None = None


def _run(where: _Where, work: Callable[[KeyManager], Awaitable[T]], *, creates: bool = False) -> T:
    """`work` on the key store the gateway reads: the options given, else the config's
    `keys:` section, else the gateway's defaults. Only a command that `creates` a key
    reads the hashing secret (creating its file if need be) and may create the store; the
    others refuse a store that is not there."""
    from ml_ops.gateway.config import load_gateway_config
    from ml_ops.gateway.key_manager import KeyManager
    from ml_ops.gateway.key_store import open_key_store
    from ml_ops.gateway.keys import KeyHasher, load_secret

    async def go() -> T:
        settings = load_gateway_config(where.config).keys
        secret = where.secret_file or settings.secret_file
        hasher = KeyHasher(load_secret(secret)) if creates else None
        key_store = open_key_store(
            where.store or settings.store, event_store=where.event_store, must_exist=not creates
        )
        try:
            return await work(KeyManager(key_store, hasher))
        finally:
            await key_store.aclose()

    with one_line_errors():
        return asyncio.run(go())


@keys_app.command()
def create(
    user: str = typer.Option(..., "--user", help="Who the key is for (labels every record)."),
    team: str | None = typer.Option(None, "--team", help="Team label (tag team=...)."),
    agent: str | None = typer.Option(None, "--agent", help="Agent label of its records."),
    name: str | None = typer.Option(None, "--name", help="A note to recognise the key by."),
    budget: str | None = typer.Option(None, "--budget", help="USD per period: 10/day, 200/month."),
    rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute."),
    tpm: int | None = typer.Option(None, "--tpm", help="Tokens per minute."),
    models: str | None = typer.Option(
        None, "--models", help="Allowed aliases: a,b (all if unset)."
    ),
    expires: str | None = typer.Option(None, "--expires", help="Lifetime: 30d, 12h, 2w."),
    store: str | None = _STORE,
    secret_file: str | None = _SECRET,
    config: str | None = _CONFIG,
    event_store: str | None = _EVENT_STORE,
) -> None:
    """Create a key and print it (this once) with its id."""
    from ml_ops.gateway.key_manager import key_request

    try:
        request = key_request(
            user=user,
            team=team,
            agent=agent,
            name=name,
            budget=budget,
            rpm=rpm,
            tpm=tpm,
            models=models,
            expires=expires,
        )
    except DevoraError as error:
        fail(str(error), status=2)
    where = _Where(store, secret_file, config, event_store)
    key, record = _run(where, lambda manager: manager.create(request), creates=True)
    typer.echo(f"{record.id}  {key}")
    typer.echo("Keep the key now: it is stored only as a hash and cannot be shown again.", err=True)


@keys_app.command("list")
def list_keys(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per key."),
    store: str | None = _STORE,
    secret_file: str | None = _SECRET,
    config: str | None = _CONFIG,
    event_store: str | None = _EVENT_STORE,
) -> None:
    """List keys (ids, owners, limits, status; never the keys)."""
    records = _run(_Where(store, secret_file, config, event_store), lambda m: m.list())
    for record in records:
        data = record.describe()
        if as_json:
            typer.echo(json.dumps(data))
            continue
        models = ",".join(record.models) or "*"
        typer.echo(
            f"{record.id}  {data['status']:<8} user={record.user} team={record.team or '-'} "
            f"budget={data['budget'] or '-'} rpm={record.rpm or '-'} tpm={record.tpm or '-'} "
            f"models={models} expires={data['expires_at'] or '-'}"
        )


@keys_app.command()
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (key_...)."),
    store: str | None = _STORE,
    secret_file: str | None = _SECRET,
    config: str | None = _CONFIG,
    event_store: str | None = _EVENT_STORE,
) -> None:
    """Revoke a key; gateways refuse it within their key cache's TTL (10 s by default)."""
    where = _Where(store, secret_file, config, event_store)
    record = _run(where, lambda manager: manager.revoke(key_id))
    typer.echo(
        f"{record.id} revoked at {record.revoked_at.isoformat() if record.revoked_at else '?'}"
    )
