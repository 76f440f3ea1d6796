"""`devora keys`: create, list and revoke the gateway's virtual keys.

    devora keys create --user ana --team search --budget 10/day --rpm 60 --tpm 100000 \\
        --models fast,embed --expires 30d
    devora keys list [--json]
    devora keys revoke key_0123abcd

Works on the key store directly (`--store`, else beside the event store; see
docs/gateway.md), so it needs the same `DEVORA_KEY_SECRET` (or secret file) as the
gateway. The key is printed once, by `create`; nothing ever prints it again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from ai.core.command_line import fail, one_line_errors
from ai.errors import DevoraError

T = TypeVar("T")

keys_app = typer.Typer(
    name="keys",
    help="Virtual keys of the OpenAI-compatible gateway: create, list, revoke.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_STORE = typer.Option(None, "--store", help="Key store: a SQLite file or postgresql:// URL.")
_SECRET = typer.Option(
    None, "--secret-file", help="Key-hashing secret file (or set DEVORA_KEY_SECRET)."
)


def _run(store: str | None, secret_file: str | None, work: Callable[..., Awaitable[T]]) -> T:
    from ml_ops.gateway.key_manager import KeyManager
    from ml_ops.gateway.key_store import open_key_store
    from ml_ops.gateway.keys import KeyHasher, load_secret

    async def go() -> T:
        key_store = open_key_store(store)
        try:
            return await work(KeyManager(key_store, KeyHasher(load_secret(secret_file))))
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
    key, record = _run(store, secret_file, lambda manager: manager.create(request))
    typer.echo(f"{record.id}  {key}")
    typer.echo("Keep the key now: it is stored only as a hash and cannot be shown again.", err=True)


@keys_app.command("list")
def list_keys(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per key."),
    store: str | None = _STORE,
    secret_file: str | None = _SECRET,
) -> None:
    """List keys (ids, owners, limits, status; never the keys)."""
    records = _run(store, secret_file, lambda manager: manager.list())
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
) -> None:
    """Revoke a key; gateways refuse it within their key cache's TTL (10 s by default)."""
    record = _run(store, secret_file, lambda manager: manager.revoke(key_id))
    typer.echo(
        f"{record.id} revoked at {record.revoked_at.isoformat() if record.revoked_at else '?'}"
    )
