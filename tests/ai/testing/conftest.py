"""One fake server for the whole directory (starting one costs ~0.2 s); every test gets it
reset, so faults, queued replies and the request log never leak between tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ai.testing import FakeProviderServer


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeProviderServer]:
    """The shared server; use `fake` unless a test must not be reset (hypothesis)."""
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The shared server, reset before and after the test."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def http(fake: FakeProviderServer) -> Iterator[httpx.Client]:
    """A raw httpx client on the fake's base URL (no auth headers preset)."""
    with httpx.Client(base_url=fake.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def openai_headers(fake: FakeProviderServer) -> dict[str, str]:
    """Headers the OpenAI and OpenRouter fakes accept."""
    return {"authorization": f"Bearer {fake.api_key}"}


@pytest.fixture
def anthropic_headers(fake: FakeProviderServer) -> dict[str, str]:
    """Headers the Anthropic fake accepts (documented x-api-key form)."""
    return {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}
