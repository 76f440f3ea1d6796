"""`devora demo`: offline on the fake without a key, a real provider when a key is set."""

from __future__ import annotations

import io

from rich.console import Console

from ai.calls.config import LLMProvider
from ai.cli.demo import real_target, run_demo


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
