"""The providers devora-ai ships, registered like any plugin would be."""

from __future__ import annotations

from ai.providers.anthropic_format import ANTHROPIC_VERSION, AnthropicMessagesFormat
from ai.providers.base import ProviderSpec
from ai.providers.hosts import OPENAI_HOSTS
from ai.providers.openai_format import OpenAIChatFormat
from ai.providers.registry import ProviderRegistry


def _anthropic_key(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def register_builtin_providers(registry: ProviderRegistry) -> None:
    """OpenAI's wire format serves every host in `OPENAI_HOSTS`; Anthropic's serves one."""
    openai_wire = OpenAIChatFormat()
    for host in OPENAI_HOSTS:
        registry.register(host.spec(openai_wire))
    registry.register(
        ProviderSpec(
            name="anthropic",
            wire=AnthropicMessagesFormat(),
            default_base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_BASE_URL",
            auth_headers=_anthropic_key,
            static_headers={"anthropic-version": ANTHROPIC_VERSION},
            price_source="anthropic",
        )
    )
