"""Fixtures for the `ai` tests: one loopback fake per session, reset for every test."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(api_key=TEST_KEY) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The shared fake with no faults, queued replies or recorded requests."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(7)


@pytest.fixture
def records() -> list[RequestRecord]:
    return []
