"""The runtime wires the bus to the store and the monitor, and survives a restart."""

from __future__ import annotations

from pathlib import Path

from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from ml_ops.runtime import Runtime, RuntimeSettings
from tests.ai.provider_configs import openai_config


async def test_calls_reach_the_store_and_the_monitor_and_come_back_after_a_restart(
    tmp_path: Path, fake: FakeProviderServer
) -> None:
    settings = RuntimeSettings(store=tmp_path / "events.db")
    runtime = await Runtime.open(settings)
    async with LLMService(openai_config(fake), bus=runtime.bus) as llm:
        for _ in range(3):
            await llm.complete(messages=[{"role": "user", "content": "hi"}])
    assert runtime.monitor.get_real_time_stats("all")["total_requests"] == 3
    await runtime.aclose()
    again = await Runtime.open(settings)
    assert again.monitor.get_real_time_stats("all")["total_requests"] == 3
    await again.aclose()
