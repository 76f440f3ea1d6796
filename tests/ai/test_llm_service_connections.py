"""The connection pool LLMService (and EmbeddingService) open for themselves: the limits
and HTTP version asked of httpx come from the configuration, and calls still work."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import httpx
import pytest

from ai.calls.config import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS
from ai.calls.http_pool import PooledTransport
from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.rag.embeddings import EmbeddingService
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY, openai_config

HELLO = [{"role": "user", "content": "Hello!"}]


class RecordingClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` that remembers what it was built with."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **options: Any) -> None:
        RecordingClient.built.append(options)
        super().__init__(**options)


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    RecordingClient.built = []
    monkeypatch.setattr(httpx, "AsyncClient", RecordingClient)
    return RecordingClient.built


def limits_of(options: dict[str, Any]) -> tuple[int | None, int | None]:
    limits: httpx.Limits = options["limits"]
    transport = options.get("transport")
    if isinstance(transport, PooledTransport):  # the pool that enforces them
        assert transport.limits == limits
    return limits.max_connections, limits.max_keepalive_connections


async def test_the_service_opens_its_client_with_the_configured_limits(
    fake: FakeProviderServer, clients: list[dict[str, Any]]
) -> None:
    config = openai_config(fake, max_connections=3, max_keepalive_connections=2)
    async with LLMService(config) as llm:
        answers = await asyncio.gather(*(llm.complete(messages=HELLO) for _ in range(8)))
    assert len(answers) == 8 and fake.request_count() == 8
    [options] = clients
    assert limits_of(options) == (3, 2)
    assert isinstance(options["transport"], PooledTransport)
    assert options["transport"].http2 is False


async def test_defaults_and_no_limit(
    fake: FakeProviderServer, clients: list[dict[str, Any]]
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        await llm.complete(messages=HELLO)
    config = openai_config(fake, max_connections=None, max_keepalive_connections=None)
    async with LLMService(config) as llm:
        await llm.complete(messages=HELLO)
    assert [limits_of(options) for options in clients] == [
        (DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS),
        (None, None),
    ]


async def test_a_client_passed_in_keeps_its_own_limits(
    fake: FakeProviderServer, clients: list[dict[str, Any]]
) -> None:
    own = httpx.AsyncClient(limits=httpx.Limits(max_connections=1))
    clients.clear()
    async with LLMService(openai_config(fake, max_connections=7), http_client=own) as llm:
        await llm.complete(messages=HELLO)
    assert clients == []  # nothing else was built
    await own.aclose()


async def test_embedding_service_passes_limits_to_its_api_backend(
    fake: FakeProviderServer, clients: list[dict[str, Any]]
) -> None:
    async with EmbeddingService(
        api_key=TEST_KEY, base_url=fake.openai_base_url, max_connections=4
    ) as embeddings:
        await embeddings.embed(["one", "two"])
    async with EmbeddingService(api_key=TEST_KEY, base_url=fake.openai_base_url) as embeddings:
        await embeddings.embed(["three"])
    assert [limits_of(options) for options in clients] == [
        (4, min(4, DEFAULT_MAX_KEEPALIVE_CONNECTIONS)),
        (DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS),
    ]


def test_embedding_limits_are_validated_and_refused_where_unused() -> None:
    with pytest.raises(ConfigurationError, match="max_connections must be >= 1"):
        EmbeddingService(api_key=TEST_KEY, max_connections=0)
    with pytest.raises(ConfigurationError, match="max_keepalive_connections must be >= 0"):
        EmbeddingService(api_key=TEST_KEY, max_keepalive_connections=-1)
    with pytest.raises(ConfigurationError, match="does not use max_connections, http2"):
        EmbeddingService(provider="local", max_connections=10, http2=False)
    with pytest.raises(ConfigurationError, match="on the http_client you pass"):
        EmbeddingService(api_key=TEST_KEY, http_client=httpx.AsyncClient(), max_connections=5)
