"""Fixtures for the monitoring tests: one loopback provider fake per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY


@pytest.fixture(scope="session")
def provider_fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
def provider_fake(provider_fake_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The shared fake with no faults, queued replies or recorded requests."""
    provider_fake_server.reset()
    yield provider_fake_server
    provider_fake_server.reset()
