"""`devora fake-provider` as users run it: a subprocess on a free port, driven over HTTP."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _command() -> list[str]:
    script = Path(sys.executable).with_name("devora")
    if script.exists():
        return [str(script)]
    found = shutil.which("devora")
    return [found] if found else [sys.executable, "-m", "ai.cli"]


@pytest.fixture
def cli_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The CLI on port 0 (the OS picks a free port; the banner says which)."""
    process = subprocess.Popen(
        [*_command(), "fake-provider", "--port", "0", "--api-key", "sk-cli-secret-123456"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    text = "".join(banner)
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
    assert match, text
    assert "sk-cli-secret" not in text
    try:
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_cli_serves_all_apis_and_the_control_api(
    cli_server: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = cli_server
    key = {"authorization": "Bearer sk-cli-secret-123456"}
    with httpx.Client(base_url=base, timeout=5) as http:
        chat = http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "ping"}]},
            headers=key,
        )
        assert chat.status_code == 200
        assert chat.json()["choices"][0]["message"]["content"].endswith("You said: ping")
        assert http.post("/_fake/faults", json={"kind": "overloaded"}).status_code == 201
        overloaded = http.post(
            "/v1/messages",
            json={
                "model": "claude-sonnet-4-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
            },
            headers={**key, "anthropic-version": "2023-06-01"},
        )
        assert overloaded.status_code == 529
        assert len(http.get("/_fake/requests").json()["requests"]) == 2
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
    assert process.stderr is not None
    assert "stopped" in process.stderr.read()


def test_cli_stops_on_sigterm(cli_server: tuple[subprocess.Popen[str], str]) -> None:
    process, base = cli_server
    assert httpx.get(base + "/_fake/health", timeout=5).json() == {"status": "ok"}
    process.terminate()
    assert process.wait(10) in (0, -signal.SIGTERM)
