"""The providers devora-ai ships, registered like any plugin would be."""

from __future__ import annotations

from ai.providers.anthropic_format import ANTHROPIC_VERSION, AnthropicMessagesFormat
from ai.providers.base import ProviderSpec
from ai.providers.openai_format import OpenAIChatFormat
from ai.providers.registry import ProviderRegistry


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _anthropic_key(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def register_builtin_providers(registry: ProviderRegistry) -> None:
    """OpenAI's wire format serves three hosts; Anthropic's serves one."""
    openai_wire = OpenAIChatFormat()
    registry.register(
        ProviderSpec(
            name="openai",
            wire=openai_wire,
            default_base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
            auth_headers=_bearer,
        )
    )
    registry.register(
        ProviderSpec(
            name="openrouter",
            wire=openai_wire,
            default_base_url="https://openrouter.ai/api/v1",
            api_key_env="OPENROUTER_API_KEY",
            base_url_env="OPENROUTER_BASE_URL",
            auth_headers=_bearer,
        )
    )
    registry.register(
        ProviderSpec(
            name="openai_compatible",
            wire=openai_wire,
            default_base_url="http://localhost:11434/v1",
            api_key_env="OPENAI_COMPATIBLE_API_KEY",
            base_url_env="OPENAI_COMPATIBLE_BASE_URL",
            auth_headers=_bearer,
            api_key_required=False,
        )
    )
    registry.register(
        ProviderSpec(
            name="anthropic",
            wire=AnthropicMessagesFormat(),
            default_base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_BASE_URL",
            auth_headers=_anthropic_key,
            static_headers={"anthropic-version": ANTHROPIC_VERSION},
        )
    )
