"""The runtime wires the bus to the store, the monitor, cost tracking and experiments,
enforces budgets through its guards, and survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.errors import BudgetExceededError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from ml_ops import Budget
from ml_ops.runtime import Runtime, RuntimeSettings
from tests.ai.provider_configs import openai_config

HELLO = [{"role": "user", "content": "hi"}]


def settings(tmp_path: Path, **overrides: object) -> RuntimeSettings:
    fields: dict[str, object] = {
        "store": tmp_path / "events.db",
        "experiments": tmp_path / "experiments.db",
        "redis_url": "",
    }
    fields.update(overrides)
    return RuntimeSettings(**fields)  # type: ignore[arg-type]


async def test_calls_reach_every_part_and_come_back_after_a_restart(
    tmp_path: Path, fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    runtime = await Runtime.open(settings(tmp_path))
    async with LLMService(openai_config(fake), bus=runtime.bus, cache=runtime.cache) as llm:
        for _ in range(3):
            await llm.complete(messages=HELLO)
    assert runtime.monitor.get_real_time_stats("all")["total_requests"] == 3
    assert runtime.cost_tracker.get_report()["totals"]["requests"] == 3
    await runtime.aclose()
    again = await Runtime.open(settings(tmp_path))
    assert again.monitor.get_real_time_stats("all")["total_requests"] == 3
    await again.aclose()


async def test_the_runtimes_guards_enforce_its_budgets(
    tmp_path: Path, fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    spent = Budget(name="tiny", limit=1e-9, period="daily", scope="global", action="refuse")
    runtime = await Runtime.open(settings(tmp_path, budgets=(spent,)))
    async with LLMService(openai_config(fake), bus=runtime.bus, guards=runtime.guards()) as llm:
        with pytest.raises(BudgetExceededError):
            await llm.complete(messages=HELLO)
    assert fake.requests == []
    await runtime.aclose()


def test_settings_repr_masks_the_passwords_in_their_urls(tmp_path: Path) -> None:
    shown = repr(
        RuntimeSettings(
            store="postgresql://devora:pg-pass-0123@db.internal:5432/events",
            experiments="postgresql://devora:pg-pass-4567@db.internal:5432/events",
            redis_url="redis://:redis-pass-89ab@cache.internal:6379/0",
            budgets_file=tmp_path / "budgets.yaml",
        )
    )
    for secret in ("pg-pass-0123", "pg-pass-4567", "redis-pass-89ab"):
        assert secret not in shown
    assert "postgresql://devora:***@db.internal:5432/events" in shown
    assert "redis://:***@cache.internal:6379/0" in shown and "budgets.yaml" in shown
