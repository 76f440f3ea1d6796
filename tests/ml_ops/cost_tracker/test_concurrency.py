"""Budgets hold under concurrency: 100 callers at once in one process (local counters),
and 100 callers split over two processes sharing one real Redis, each process running
an `LLMService` against the loopback fake. The spend never passes the limit by more than
the documented bound: the sum over calls of what each cost beyond its reserved worst
case (zero here, since the fake bills no more than the worst case; asserted too).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from ai.core.records import RequestRecord
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters
from tests.ai.provider_configs import openai_config
from tests.ml_ops.cost_tracker.callers import LIMIT, MAX_TOKENS, ROOT, overshoot, run_callers


async def test_100_concurrent_callers_with_local_counters(fake: FakeProviderServer) -> None:
    tracker = CostTracker()
    tracker.add_budget(Budget(name="shared", limit=LIMIT, period="daily", action="refuse"))
    config = openai_config(fake, model="gpt-4o", max_tokens=MAX_TOKENS, max_retries=0)
    records: list[RequestRecord] = []
    async with LLMService(config, guards=[tracker.guard()]) as llm:
        llm.subscribe(records.append)
        tracker.attach(llm.bus)
        costs, refused = await run_callers(llm, 0, 100)
    spent = sum(actual for actual, _ in costs)
    assert refused > 0 and len(costs) > 10  # the limit was reached, and calls ran
    assert overshoot(costs) == 0.0
    assert spent <= LIMIT + overshoot(costs)
    status = tracker.get_budget_status("shared", project=False)
    assert status.spent == pytest.approx(spent, abs=1e-8) and status.reserved == 0.0
    assert len(fake.requests) == len(costs)


CHILD = """
import asyncio, json, sys
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters
from tests.ml_ops.cost_tracker.callers import LIMIT, MAX_TOKENS, run_callers

async def main():
    redis_url, prefix, first = sys.argv[2], sys.argv[3], int(sys.argv[4])
    tracker = CostTracker(counters=RedisSpendCounters(redis_url, prefix=prefix))
    tracker.add_budget(Budget(name="shared", limit=LIMIT, period="daily", action="refuse"))
    config = LLMConfig(provider=LLMProvider.OPENAI, api_key=sys.argv[5], model="gpt-4o",
                       base_url=sys.argv[1], max_tokens=MAX_TOKENS, max_retries=0)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start calling together
    async with LLMService(config, guards=[tracker.guard()]) as llm:
        costs, refused = await run_callers(llm, first, 50)
    status = tracker.get_budget_status("shared", project=False)
    await tracker.aclose()
    print(json.dumps({"costs": costs, "refused": refused, "counters": status.counters}))

asyncio.run(main())
"""


def start_child(fake: FakeProviderServer, redis_url: str, prefix: str, first: int) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            fake.openai_base_url,
            redis_url,
            prefix,
            str(first),
            fake.api_key,
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_100_callers_in_two_processes_share_one_redis_budget(
    fake: FakeProviderServer, redis_url: str, redis_key_prefix: str
) -> None:
    children = [start_child(fake, redis_url, redis_key_prefix, first) for first in (0, 50)]
    try:
        for child in children:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [await asyncio.to_thread(child.communicate, timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    outputs = []
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    costs = [tuple(pair) for output in outputs for pair in output["costs"]]
    spent = sum(actual for actual, _ in costs)
    assert all(output["counters"].startswith("redis://") for output in outputs)
    assert all(output["costs"] for output in outputs)  # both processes had calls admitted
    assert sum(output["refused"] for output in outputs) > 0
    assert overshoot(costs) == 0.0  # type: ignore[arg-type]
    assert spent <= LIMIT + overshoot(costs)  # type: ignore[arg-type]
    assert len(fake.requests) == len(costs)

    counters = RedisSpendCounters(redis_url, prefix=redis_key_prefix)
    tracker = CostTracker(counters=counters)
    tracker.add_budget(Budget(name="shared", limit=LIMIT, period="daily", action="refuse"))
    [status] = await tracker.refresh_budgets(project=False)
    assert status.spent == pytest.approx(spent, abs=1e-6)
    assert status.reserved == 0.0  # every reservation was settled
    await tracker.aclose()
