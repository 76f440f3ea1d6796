"""Fixtures for the A/B testing tests: testers on a memory store with a fake clock and a
seeded random source, and the store backends (memory, SQLite, PostgreSQL) by name."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ai.core.clock import FakeClock
from ml_ops.ab_testing import ABTester, ExperimentStore, MemoryExperimentStore
from ml_ops.ab_testing.stores import open_experiment_store

MakeTester = Callable[..., ABTester]


@pytest.fixture
def make_tester(clock: FakeClock) -> Iterator[MakeTester]:
    """`make_tester(store=None, **options)`: a tester without a background thread (flushes
    happen on reads), on the fake clock; closed after the test."""
    made: list[ABTester] = []

    def make(store: ExperimentStore | str | Path | None = None, **options: object) -> ABTester:
        settings: dict[str, object] = {
            "clock": clock,
            "rng": random.Random(7),
            "flush_interval": None,
        }
        settings.update(options)
        tester = ABTester(store or MemoryExperimentStore(), **settings)  # type: ignore[arg-type]
        made.append(tester)
        return tester

    yield make
    for tester in made:
        tester.close()


@pytest.fixture
def tester(make_tester: MakeTester) -> ABTester:
    """A tester on a fresh memory store."""
    return make_tester()


def store_location(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a store of `kind` lives for this test (PostgreSQL: a fresh schema)."""
    if kind == "memory":
        return "memory:"
    if kind == "sqlite":
        return str(tmp_path / "experiments.db")
    return str(request.getfixturevalue("postgres_test_url"))


@pytest.fixture
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A durable store location, parametrised indirectly by kind (sqlite, postgres)."""
    return store_location(request.param, tmp_path, request)


@pytest.fixture
def durable_store(location: str) -> Iterator[ExperimentStore]:
    """A store on `location`, closed after the test."""
    store = open_experiment_store(location)
    yield store
    store.close()
