"""Wire formats (one module per API shape) and the hosts that speak them (the registry)."""

from ai.providers.base import ChatRequest, ChatResult, ProviderSpec, StreamDecoder, WireFormat
from ai.providers.registry import ProviderRegistry, default_registry

__all__ = [
    "ChatRequest",
    "ChatResult",
    "ProviderRegistry",
    "ProviderSpec",
    "StreamDecoder",
    "WireFormat",
    "default_registry",
]
