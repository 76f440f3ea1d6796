"""`devora keys create|list|revoke`, the secret file, and key parsing."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai.cli.app import app
from ai.errors import ConfigurationError
from ml_ops.gateway.keys import load_secret, parse_budget, parse_duration


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
    for bad in ("10", "x/day", "-1/day", "5/year"):
        with pytest.raises(ConfigurationError):
            parse_budget(bad)
    with pytest.raises(ConfigurationError):
        parse_duration("0d")
