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
