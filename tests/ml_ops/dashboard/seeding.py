"""Seeded state for the dashboard tests: a store with varied, deterministic traffic (four
models on three providers, users, agents, errors, cache hits, streamed calls, calls a model
router decided) over the last days, a monitor with alert rules that fire on it, a cost
tracker with budgets and an A/B tester with experiments, all the real classes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ai.core.records import RequestRecord
from ai.core.usage import Usage
from ai.errors import ErrorType
from ml_ops.ab_testing import ABTester, Experiment, MemoryExperimentStore, Variant
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.dashboard import DashboardManager
from ml_ops.monitoring import AlertRule, MLMonitor
from ml_ops.store import EventStore, SQLiteEventStore

MODELS = (
    ("openai", "gpt-4o-mini", 0.0004),
    ("openai", "gpt-4o", 0.006),
    ("anthropic", "claude-3-5-haiku", 0.002),
    ("openrouter", "deepseek/deepseek-chat", 0.0008),
)
USERS = ("alice", "bob", "carol", "dave")
AGENTS = ("planner", "writer", "support")
ERRORS = (ErrorType.TIMEOUT, ErrorType.RATE_LIMIT, ErrorType.OVERLOADED)


def traffic(now: datetime, *, hours: int = 72, seed: int = 7) -> list[RequestRecord]:
    """Requests over the last `hours` hours: a few per hour for days, denser in the last
    hour, with about 8% failures and 15% cache hits."""
    rng = random.Random(seed)
    records = []
    moments = [now - timedelta(minutes=rng.uniform(0, hours * 60)) for _ in range(hours * 6)]
    moments += [now - timedelta(seconds=rng.uniform(5, 3600)) for _ in range(240)]
    for number, moment in enumerate(sorted(moments)):
        records.append(_record(number, moment, rng))
    return records


def _record(number: int, moment: datetime, rng: random.Random) -> RequestRecord:
    provider, model, unit_cost = MODELS[rng.choices(range(4), weights=(5, 2, 3, 2))[0]]
    failed = rng.random() < 0.08
    cached = not failed and rng.random() < 0.15
    streamed = not failed and rng.random() < 0.5
    input_tokens, output_tokens = rng.randint(200, 2000), rng.randint(50, 600)
    cost = 0.0 if failed or cached else unit_cost * (input_tokens + 3 * output_tokens) / 1000
    latency = rng.lognormvariate(6.6, 0.5) * (3 if model == "gpt-4o" else 1)
    return RequestRecord(
        request_id=f"seed-{number:05d}",
        timestamp=moment,
        provider=provider,
        model_requested=model,
        model=None if failed else model,
        usage=None if failed else Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        estimated_cost=None if failed else cost,
        latency_ms=5.0 if cached else latency,
        time_to_first_token_ms=latency * rng.uniform(0.15, 0.4) if streamed else None,
        attempts=1,
        success=not failed,
        error_type=rng.choice(ERRORS) if failed else None,
        error_message="upstream failed" if failed else None,
        cached=cached,
        streamed=streamed,
        saved_cost=unit_cost if cached else None,
        user=rng.choice(USERS),
        agent=rng.choice(AGENTS) if rng.random() < 0.7 else None,
        tags=routing_tags(number, model),
    )


def routing_tags(number: int, model: str) -> dict[str, str]:
    """A model router's tags (drawing no random number, so the rest stays as it was):
    every other gpt-4o-mini call was routed there from gpt-4o, every third gpt-4o call
    was a router keeping the capable model."""
    if model == "gpt-4o-mini" and number % 2 == 0:
        why = "hint" if number % 10 == 0 else "rule:short_prompt"
        return {"route": f"simple:{why}", "routed_from": "gpt-4o"}
    if model == "gpt-4o" and number % 3 == 0:
        return {"route": "complex:rule:tools"}
    return {}


RULES = (
    AlertRule("error rate", "error_rate", ">", 0.02, window="24h", severity="critical"),
    AlertRule("slow p95", "latency_ms.p95", ">", 100.0, window="24h", severity="warning"),
)


def budgets() -> list[Budget]:
    return [
        Budget(name="daily_limit", limit=5.0, period="daily", scope="global"),
        Budget("alice_monthly", 0.5, "monthly", "user", scope_value="alice", action="refuse"),
        Budget("gpt4o_weekly", 20.0, "weekly", "model", scope_value="gpt-4o", action="downgrade"),
    ]


def experiments(rng: random.Random) -> ABTester:
    """Two running experiments: one with a clear winner, one with a broken traffic split."""
    tester = ABTester(MemoryExperimentStore(), flush_interval=None)
    tester.create_experiment(Experiment(
        name="prompt_test",
        description="Compare concise vs detailed prompts",
        variants=[Variant(name="concise", prompt_template="Generate {task}"),
                  Variant(name="detailed", prompt_template="Create a detailed {task}")],
        primary_metric="success_rate",
        minimum_sample_size=300,
    ))  # fmt: skip
    tester.create_experiment(Experiment(
        name="model_test",
        description="gpt-4o-mini against claude-3-5-haiku",
        variants=[Variant(name="mini", model="gpt-4o-mini"),
                  Variant(name="haiku", model="claude-3-5-haiku")],
        primary_metric="success_rate",
        minimum_sample_size=300,
    ))  # fmt: skip
    for name in ("prompt_test", "model_test"):
        tester.start_experiment(name)
    for _ in range(600):
        tester.track_result("prompt_test", "concise", rng.random() < 0.70, 900.0, 0.002)
        tester.track_result("prompt_test", "detailed", rng.random() < 0.82, 1400.0, 0.004)
    for count, variant in ((700, "mini"), (500, "haiku")):
        for _ in range(count):
            tester.track_result("model_test", variant, rng.random() < 0.8, 1000.0, 0.001)
    tester.flush()
    return tester


@dataclass
class Seeded:
    """The seeded sources and the manager over them."""

    store: EventStore
    monitor: MLMonitor
    cost_tracker: CostTracker
    ab_tester: ABTester
    manager: DashboardManager
    records: list[RequestRecord]


async def seeded(path: Path, now: datetime | None = None) -> Seeded:
    """Write the traffic to a SQLite store at `path`, restore a monitor (with `RULES`,
    evaluated) and a cost tracker (with `budgets()`) from it, and build the manager."""
    now = now or datetime.now(UTC)
    store = SQLiteEventStore(path)
    records = traffic(now)
    await store.append(records)
    monitor = MLMonitor(store, rules=RULES)
    await monitor.restore()
    await monitor.evaluate()
    tracker = CostTracker(store)
    for budget in budgets():
        tracker.add_budget(budget)
    await tracker.restore()
    tester = experiments(random.Random(11))
    manager = DashboardManager(monitor=monitor, cost_tracker=tracker, ab_tester=tester, store=store)
    return Seeded(store, monitor, tracker, tester, manager, records)


async def close(seeded_state: Seeded) -> None:
    await seeded_state.monitor.aclose()
    await seeded_state.cost_tracker.aclose()
    await seeded_state.ab_tester.aclose()
    await seeded_state.store.aclose()
