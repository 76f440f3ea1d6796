"""Hosts of the OpenAI wire format, one row each: adding one is a line in `OPENAI_HOSTS`.

Each row names the host, its default base URL, the prefix of its environment variables
(``GROQ``: ``GROQ_API_KEY`` and ``GROQ_BASE_URL``), whether a key is needed (local servers
take none), and `price_source`: the genai-prices provider id whose price list the host
charges (None: calls are priced by the model name alone, as on self-hosted servers).
"""

from __future__ import annotations

from dataclasses import dataclass

from ai.providers.base import ProviderSpec, WireFormat
from ai.providers.capabilities import OPENAI_MODELS, ROUTER_MODELS
from ai.providers.mistral_format import MistralChatFormat
from ai.providers.openai_format import OpenAIChatFormat

__all__ = ["OPENAI_HOSTS", "HostPreset", "bearer_auth"]


def bearer_auth(key: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``, what every OpenAI-compatible host takes."""
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class HostPreset:
    """A host of the OpenAI wire format, before it is bound to the wire format object.

    Its key is read from ``<env_prefix>_API_KEY`` and its URL from ``<env_prefix>_BASE_URL``.
    """

    name: str
    default_base_url: str
    env_prefix: str
    price_source: str | None = None
    api_key_required: bool = True
    wire: WireFormat | None = None  # None: the OpenAI chat format shared by the hosts

    @property
    def api_key_env(self) -> str:
        """The environment variable holding the API key."""
        return f"{self.env_prefix}_API_KEY"

    @property
    def base_url_env(self) -> str:
        """The environment variable that overrides the base URL."""
        return f"{self.env_prefix}_BASE_URL"

    def spec(self, shared_wire: WireFormat) -> ProviderSpec:
        """This host as a `ProviderSpec` with bearer-token auth, speaking its own dialect
        of the wire format if it has one, else `shared_wire`."""
        return ProviderSpec(
            name=self.name,
            wire=shared_wire if self.wire is None else self.wire,
            default_base_url=self.default_base_url,
            api_key_env=self.api_key_env,
            base_url_env=self.base_url_env,
            auth_headers=bearer_auth,
            api_key_required=self.api_key_required,
            price_source=self.price_source,
        )


OPENAI_HOSTS: tuple[HostPreset, ...] = (
    # name, default base URL, variable prefix, price source; local servers need no key;
    # Mistral refuses `stream_options`, so it gets its dialect of the format; OpenAI's own
    # models are known (capabilities), and OpenRouter takes reasoning in its own object
    HostPreset(
        "openai",
        "https://api.openai.com/v1",
        "OPENAI",
        "openai",
        wire=OpenAIChatFormat(OPENAI_MODELS),
    ),
    HostPreset(
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER",
        "openrouter",
        wire=OpenAIChatFormat(ROUTER_MODELS, router=True),
    ),
    HostPreset("groq", "https://api.groq.com/openai/v1", "GROQ", "groq"),
    HostPreset(
        "mistral", "https://api.mistral.ai/v1", "MISTRAL", "mistral", wire=MistralChatFormat()
    ),
    HostPreset("deepseek", "https://api.deepseek.com", "DEEPSEEK", "deepseek"),
    HostPreset("together", "https://api.together.xyz/v1", "TOGETHER", "together"),
    HostPreset("fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS", "fireworks"),
    HostPreset("openai_compatible", "http://localhost:11434/v1", "OPENAI_COMPATIBLE", None, False),
    HostPreset("ollama", "http://localhost:11434/v1", "OLLAMA", None, False),
    HostPreset("vllm", "http://localhost:8000/v1", "VLLM", None, False),
)
"""Every OpenAI-wire host devora-ai ships."""
