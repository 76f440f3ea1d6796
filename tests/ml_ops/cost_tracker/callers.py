"""Callers for the concurrency tests, importable by their child processes (nothing here
imports pytest or the fakes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.core.guards import PlannedCall
from ai.core.records import Operation
from ai.errors import BudgetExceededError
from ml_ops.cost_tracker import worst_case_cost

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 0.05
CALLS_PER_CALLER = 4
MAX_TOKENS = 60


def messages(caller: int, turn: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"caller {caller} turn {turn} " + "word " * (caller % 9)}]


def overshoot(costs: list[tuple[float, float]]) -> float:
    """The documented bound: what calls cost beyond their reserved worst case."""
    return sum(max(actual - worst, 0.0) for actual, worst in costs)


def worst_of(caller: int, turn: int) -> float:
    call = PlannedCall(
        operation=Operation.CHAT, model="gpt-4o", provider="openai",
        inputs=messages(caller, turn), parameters={"max_tokens": MAX_TOKENS},
    )  # fmt: skip
    cost = worst_case_cost(call, PricingTable.default()).cost
    assert cost is not None
    return cost


async def run_callers(llm: Any, first: int, count: int) -> tuple[list[tuple[float, float]], int]:
    """`count` concurrent callers, each making calls until refused or done; returns
    (actual, worst case) per answered call and the number of refusals."""
    costs: list[tuple[float, float]] = []
    refused = 0

    async def caller(number: int) -> None:
        nonlocal refused
        for turn in range(CALLS_PER_CALLER):
            try:
                _, stats = await llm.complete(messages(number, turn))
            except BudgetExceededError:
                refused += 1
                continue
            costs.append((stats.estimated_cost or 0.0, worst_of(number, turn)))

    await asyncio.gather(*(caller(first + i) for i in range(count)))
    return costs, refused
