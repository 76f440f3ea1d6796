"""`devora keys create|list|revoke`, the secret file, and key parsing."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import openai
import pytest
import yaml
from typer.testing import CliRunner

from ai.cli.app import app
from ai.errors import ConfigurationError
from ml_ops.gateway.keys import load_secret, parse_budget, parse_duration
from tests.ml_ops.gateway.conftest import KEY_SECRET, gateway_config


def test_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEVORA_KEY_SECRET", raising=False)
    monkeypatch.delenv("DEVORA_EVENT_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING", raising=False)
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--user",
            "ana",
            "--team",
            "search",
            "--budget",
            "10/day",
            "--rpm",
            "60",
            "--tpm",
            "100000",
            "--models",
            "fast,embed",
            "--expires",
            "30d",
        ],
    )
    assert created.exit_code == 0, created.output
    key_id, key = created.stdout.split()[:2]
    assert key.startswith("sk-dvr-") and key_id.startswith("key_")
    listed = runner.invoke(app, ["keys", "list"])
    assert key_id in listed.stdout and "active" in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).stdout
    secret = tmp_path / ".devora" / "gateway.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert key not in (tmp_path / ".devora" / "gateway_keys.db").read_bytes().decode("latin-1")
    assert runner.invoke(app, ["keys", "revoke", "key_nope"]).exit_code == 1
    assert runner.invoke(app, ["keys", "create", "--user", "x", "--budget", "a"]).exit_code == 2


def test_secret_from_env_or_private_file(tmp_path: Path) -> None:
    assert load_secret(environ={"DEVORA_KEY_SECRET": "x" * 40}) == b"x" * 40
    path = tmp_path / "s"
    first = load_secret(path, environ={})
    assert load_secret(path, environ={}) == first
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_secret(path, environ={})


def test_budget_and_duration_parsing() -> None:
    assert (parse_budget("$10/day").limit, parse_budget("10/day").period.value) == (10, "daily")
    assert parse_budget("250/month").period.value == "monthly"
    assert parse_duration("30d") == timedelta(days=30)
    for bad in ("10", "x/day", "-1/day", "5/year", "nan/day", "inf/month", "1e400/day"):
        with pytest.raises(ConfigurationError):
            parse_budget(bad)
    for duration in ("0d", "36501d", "99999999999999d"):
        with pytest.raises(ConfigurationError):
            parse_duration(duration)
    assert parse_duration("36500d") == timedelta(days=36500)


def test_keys_go_where_the_gateways_config_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve_gateway, fake
) -> None:
    """`devora keys create` reads `keys.store` and `keys.secret_file` from the gateway's
    config (`$DEVORA_CONFIG`), so the gateway reading that config accepts the key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEVORA_EVENT_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("DEVORA_KEY_SECRET", KEY_SECRET)
    store = tmp_path / "configured" / "keys.db"
    section = gateway_config(fake, keys={"store": str(store)})
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump({"gateway": section}))
    monkeypatch.setenv("DEVORA_CONFIG", str(tmp_path / "gw.yaml"))
    created = CliRunner().invoke(app, ["keys", "create", "--user", "ana"])
    assert created.exit_code == 0, created.output
    key_id, key = created.stdout.split()[:2]
    assert store.exists() and not (tmp_path / ".devora" / "gateway_keys.db").exists()
    gateway = serve_gateway(keys={"store": str(store)})
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    assert sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    listed = CliRunner().invoke(app, ["keys", "list", "--config", str(tmp_path / "gw.yaml")])
    assert key_id in listed.stdout


def test_secret_file_from_the_config_and_keys_beside_the_event_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DEVORA_KEY_SECRET", "DEVORA_EVENT_STORE", "POSTGRES_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DEVORA_CONFIG", raising=False)
    (tmp_path / "devora.yaml").write_text("gateway:\n  keys: {secret_file: private/secret}\n")
    events = tmp_path / "state" / "events.db"
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--user", "bo", "--event-store", str(events)])
    assert created.exit_code == 0, created.output
    assert (tmp_path / "state" / "gateway_keys.db").exists()  # where `serve --store` keeps it
    assert stat.S_IMODE((tmp_path / "private" / "secret").stat().st_mode) == 0o600
    assert not (tmp_path / ".devora").exists()
    kept = tmp_path / "state" / "gateway_keys.db"
    assert runner.invoke(app, ["keys", "list", "--store", str(kept)]).exit_code == 0


def test_list_and_revoke_create_neither_a_store_nor_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They never hash, so they never need the secret; and a mistyped --store is an
    error, not a new empty store (or a secret that does not match the gateway's)."""
    monkeypatch.chdir(tmp_path)
    for name in ("DEVORA_KEY_SECRET", "DEVORA_EVENT_STORE", "POSTGRES_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DEVORA_CONFIG", raising=False)
    typo = tmp_path / "gateway_kyes.db"
    runner = CliRunner()
    for command in (["list"], ["revoke", "key_x"]):
        result = runner.invoke(app, ["keys", *command, "--store", str(typo)])
        assert result.exit_code == 1 and result.stderr.startswith("error: no key store at")
    assert not typo.exists() and not (tmp_path / ".devora").exists()
    created = runner.invoke(app, ["keys", "create", "--user", "bo", "--store", str(typo)])
    assert created.exit_code == 0 and typo.is_file()
    assert (tmp_path / ".devora" / "gateway.secret").is_file()  # create made the secret


@pytest.mark.parametrize(
    "option",
    [["--expires", "9999999d"], ["--expires", "99999999999999d"], ["--rpm", "9" * 23]],
)
def test_out_of_range_values_are_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVORA_KEY_SECRET", KEY_SECRET)
    result = CliRunner().invoke(app, ["keys", "create", "--user", "x", *option])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and ("at most" in line or "from 1 to" in line)
