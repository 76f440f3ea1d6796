"""Loopback fakes of the OpenAI, Anthropic, OpenRouter and Pinecone HTTP APIs, with fault
injection.

Shipped with the library so that applications can test their LLM code offline, through
real sockets and the official SDKs:

    from ai.testing import FakeProviderServer, Fault

    with FakeProviderServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key=server.api_key)
        server.faults.push(Fault.rate_limit(retry_after=2))
        ...

The same server runs standalone with `devora fake-provider` and is then controlled over
HTTP (`/_fake/faults`, `/_fake/requests`). `FakePineconeServer` does the same for
Pinecone's REST API (`devora fake-pinecone`). Needs the `server` extra (Starlette, uvicorn).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "ai.testing needs Starlette and uvicorn: pip install 'devora-ai[server]'"
    ) from error

from ai.testing.catalogue import DEFAULT_MODELS, OPENROUTER_PRICES, Api
from ai.testing.fault_schedule import ScheduledFaultRule
from ai.testing.faults import Fault, FaultBook, FaultKind, FaultRule
from ai.testing.latency import LatencyTable, ModelLatency
from ai.testing.pinecone_server import FakePineconeServer
from ai.testing.pinecone_state import PineconeOperation, PineconeRequest
from ai.testing.recording import RecordedRequest
from ai.testing.replies import ReplyQueue
from ai.testing.reply_lengths import LengthRule, OutputLengths, TokenLengths
from ai.testing.server import DEFAULT_API_KEY, FakeProviderServer, serve_forever

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "OPENROUTER_PRICES",
    "Api",
    "FakePineconeServer",
    "FakeProviderServer",
    "Fault",
    "FaultBook",
    "FaultKind",
    "FaultRule",
    "LatencyTable",
    "LengthRule",
    "ModelLatency",
    "OutputLengths",
    "PineconeOperation",
    "PineconeRequest",
    "RecordedRequest",
    "ReplyQueue",
    "ScheduledFaultRule",
    "TokenLengths",
    "serve_forever",
]
