"""Wire formats (one module per API shape) and the hosts that speak them (the registry).

The `openai_serving` subpackage is the other side of the OpenAI wire format: validating
requests and rendering answers as OpenAI would, shared by the loopback fakes and the
gateway."""

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
