"""Fixtures for the dashboard tests: seeded sources over a SQLite store, an admin key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ml_ops.web import AdminKey
from tests.ml_ops.dashboard.seeding import Seeded, close, seeded

ADMIN_KEY = "dvr-admin-test-key-0123456789abcdef"


@pytest.fixture
def admin_key() -> AdminKey:
    return AdminKey.of(ADMIN_KEY)


@pytest.fixture
async def seeded_state(tmp_path: Path) -> AsyncIterator[Seeded]:
    """The seeded store, monitor, cost tracker, A/B tester and their manager."""
    state = await seeded(tmp_path / "events.db")
    yield state
    await close(state)
