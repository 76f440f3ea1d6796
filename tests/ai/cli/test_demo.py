"""`devora demo`: offline on the fake without a key, a real provider when a key is set,
one line on stderr when the call fails (the traceback only with --debug)."""

from __future__ import annotations

import io
import socket

from rich.console import Console

from ai.calls.config import LLMProvider
from ai.cli.demo import real_target, run_demo
from ai.testing import FakeProviderServer
from tests.ai.cli.running import child_env, run_devora


async def test_demo_without_a_key_uses_the_fake_and_says_so() -> None:
    out = io.StringIO()
    stats = await run_demo(Console(file=out, width=400), {}, "Hello!", stream=True)
    printed = out.getvalue()
    assert "loopback fake of OpenRouter" in printed
    assert "Response: " in printed and "LLMService.stream" in printed
    assert stats.provider == "openrouter" and stats.estimated_cost is not None
    assert "time to first token" in printed


def test_a_key_in_the_environment_selects_the_real_provider() -> None:
    assert real_target({}) is None
    target = real_target({"ANTHROPIC_API_KEY": "sk-ant-xyz", "OPENAI_API_KEY": "sk-abc"})
    assert target is not None
    assert target.provider is LLMProvider.OPENAI and not target.is_fake
    only_anthropic = real_target({"ANTHROPIC_API_KEY": "sk-ant-xyz"})
    assert only_anthropic is not None and only_anthropic.provider is LLMProvider.ANTHROPIC


async def test_demo_names_the_base_url_it_calls() -> None:
    with FakeProviderServer() as fake:
        out = io.StringIO()
        environ = {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.openai_base_url}
        await run_demo(Console(file=out, width=400), environ, "Hello!", stream=False)
    printed = out.getvalue()
    assert f"Using the openai API format at {fake.openai_base_url}" in printed
    assert "set by OPENAI_BASE_URL" in printed and "real openai API" not in printed


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_network_is_one_line_on_stderr_and_a_failing_exit() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = child_env({"OPENAI_API_KEY": "sk-devora-test-1234567890", "OPENAI_BASE_URL": url})
    result = run_devora("demo", "--no-stream", env=env)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("devora demo: error: Could not reach openai at " + url)
    assert "--debug" in lines[0] and "OPENAI_API_KEY" in lines[0]
    assert f"Using the openai API format at {url}" in result.stdout.decode()
    assert "sk-devora-test-1234567890" not in result.stdout.decode() + lines[0]


def test_a_wrong_key_is_one_line_and_debug_adds_the_traceback() -> None:
    with FakeProviderServer() as fake:
        env = child_env(
            {"OPENAI_API_KEY": "sk-wrong-key-1234567890", "OPENAI_BASE_URL": fake.openai_base_url}
        )
        plain = run_devora("demo", env=env)
        debug = run_devora("demo", "--debug", env=env)
    assert plain.returncode == 1 and debug.returncode == 1
    lines = plain.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "HTTP 401" in lines[0] and "Check the API key" in lines[0]
    assert "sk-wrong-key-1234567890" not in lines[0]
    traced = debug.stderr.decode()
    assert "Traceback (most recent call last)" in traced and "AuthenticationError" in traced
    assert traced.splitlines()[-1].startswith("devora demo: error: ")
    assert "--debug shows" not in traced
    assert "sk-wrong-key-1234567890" not in traced
