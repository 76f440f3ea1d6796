"""Fixtures for the chaos suite: a loopback fake that misbehaves on purpose, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY


@pytest.fixture(scope="module")
def chaos_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
def upstream(chaos_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    chaos_server.reset()
    yield chaos_server
    chaos_server.reset()
