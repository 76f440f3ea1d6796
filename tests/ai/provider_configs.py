"""LLMConfig factories aimed at the loopback fakes; retry jitter off so waits are exact."""

from __future__ import annotations

from ai.llm_service import LLMConfig, LLMProvider
from ai.testing import FakeProviderServer

TEST_KEY = "sk-devora-test-0123456789abcdef"


def openai_config(fake: FakeProviderServer, **overrides: object) -> LLMConfig:
    """An OpenAI config aimed at the fake; jitter off so waits are exact."""
    settings: dict[str, object] = {
        "provider": LLMProvider.OPENAI,
        "api_key": TEST_KEY,
        "model": "gpt-4o-mini",
        "base_url": fake.openai_base_url,
        "retry_jitter": 0.0,
    }
    settings.update(overrides)
    return LLMConfig(**settings)  # type: ignore[arg-type]


def anthropic_config(fake: FakeProviderServer, **overrides: object) -> LLMConfig:
    settings: dict[str, object] = {
        "provider": LLMProvider.ANTHROPIC,
        "api_key": TEST_KEY,
        "model": "claude-3-5-haiku-20241022",
        "base_url": fake.anthropic_base_url,
        "retry_jitter": 0.0,
    }
    settings.update(overrides)
    return LLMConfig(**settings)  # type: ignore[arg-type]


def openrouter_config(fake: FakeProviderServer, **overrides: object) -> LLMConfig:
    settings: dict[str, object] = {
        "provider": LLMProvider.OPENROUTER,
        "api_key": TEST_KEY,
        "model": "openai/gpt-4o-mini",
        "base_url": fake.openrouter_base_url,
        "retry_jitter": 0.0,
    }
    settings.update(overrides)
    return LLMConfig(**settings)  # type: ignore[arg-type]
