"""The loopback fakes of OpenAI, Anthropic and OpenRouter, run as `devora fake-provider`
in a child process and driven over their HTTP control API.

Its own process, as `benchmarks/replay.py` runs it: the fake's pacing (time to first
token, tokens per second) then keeps time on its own core instead of waiting for the
gateway's work in this one, and product code never imports `ai.testing` (the fakes are
reached over HTTP only, like any upstream). The child writes to `fake-provider.log` in
the tour's state folder; it is stopped when the tour ends.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from ai.errors import ConfigurationError

FAKE_API_KEY = "sk-devora-demo-upstream"
_START_TIMEOUT_S = 30.0
_BANNER = re.compile(r"listening on (http://[\w.\[\]:-]+)")


class FakeUpstream:
    """A running `devora fake-provider` child: its base URLs and its control API."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self._process = process
        self.base_url = base_url
        self.log = log
        self.api_key = FAKE_API_KEY
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    @classmethod
    async def start(cls, state_dir: Path) -> FakeUpstream:
        """Start the child on a free loopback port and wait for its banner."""
        log = state_dir / "fake-provider.log"
        process = await asyncio.to_thread(_spawn, log)
        try:
            base_url = await _await_banner(process, log)
        except BaseException:
            _stop(process)
            raise
        return cls(process, base_url, log)

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def openrouter_base_url(self) -> str:
        return self.base_url + "/api/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    async def set_latency(self, latencies: Mapping[str, tuple[float, float]]) -> None:
        """Each model's (time to first token s, tokens per second)."""
        for model, (ttft, rate) in latencies.items():
            body = {"model": model, "ttft": ttft, "tokens_per_second": rate}
            await self._post("/_fake/latency", body)

    async def set_lengths(self, lengths: Mapping[str, Any]) -> None:
        """The answer-length model (`POST /_fake/lengths`, see `ai.testing.reply_lengths`)."""
        await self._post("/_fake/lengths", dict(lengths))

    async def add_faults(self, rules: Sequence[Mapping[str, Any]]) -> None:
        """Fault rules (`POST /_fake/faults`); windows count from now."""
        for rule in rules:
            await self._post("/_fake/faults", dict(rule))

    async def faults_fired(self) -> dict[str, int]:
        """How many faults each kind injected so far ("rate_limit", "server_error"...)."""
        response = await self._http.get("/_fake/faults")
        response.raise_for_status()
        fired: dict[str, int] = {}
        for rule in response.json().get("faults", []):
            kind = str(rule.get("kind"))
            fired[kind] = fired.get(kind, 0) + int(rule.get("fired", 0))
        return fired

    async def _post(self, path: str, body: Mapping[str, Any]) -> None:
        response = await self._http.post(path, json=body)
        if response.status_code >= 400:
            raise ConfigurationError(f"the fake provider refused {path}: {response.text}")

    async def aclose(self) -> None:
        """Stop the child (and close the control connection)."""
        await self._http.aclose()
        await asyncio.to_thread(_stop, self._process)


def _spawn(log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ai.cli", "fake-provider", "--port", "0"]
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--api-key", FAKE_API_KEY],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def _await_banner(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(log.read_text, "utf-8", "replace")
        found = _BANNER.search(text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        await asyncio.sleep(0.05)
    raise ConfigurationError(
        f"the loopback fake provider did not start (see {log}); "
        "`devora fake-provider` needs the `server` extra"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


__all__ = ["FAKE_API_KEY", "FakeUpstream"]
