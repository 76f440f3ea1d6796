"""Fixtures for the monitoring tests."""

from __future__ import annotations

import pytest

from ai.testing import FakeProviderServer


@pytest.fixture
def provider_fake(fake: FakeProviderServer) -> FakeProviderServer:
    """The shared fake of tests/ai (no faults, queued replies or recorded requests)."""
    return fake
