"""Section 8, cost tracking: `ml_ops.CostTracker` budgets enforced by its guard, then the
report.

Two daily budgets scoped to one user each. Ana's downgrades: once half of it is spent,
her calls for gpt-4o go to gpt-4o-mini. Bob's refuses: a call whose worst-case cost no
longer fits raises `BudgetExceededError` before any request is sent. The tracker has been
attached to the bus since the start, so `get_report()` covers every section's calls.
"""

from __future__ import annotations

from rich.console import Console

from ai.errors import BudgetExceededError
from ai.llm_service import LLMService
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.walkthrough.observers import Observers

MODEL = "gpt-4o"
MAX_CALLS = 10  # per user; the budgets act well before
ANA = Budget(
    name="ana-daily",
    limit=0.002,
    period="daily",
    scope="user",
    scope_value="ana",
    action="downgrade",
    downgrade_from=0.5,
)
BOB = Budget(
    name="bob-daily", limit=0.001, period="daily", scope="user", scope_value="bob", action="refuse"
)


async def cost_tracking(console: Console, observers: Observers) -> None:
    """Spend both budgets through the guarded service, then print the report."""
    tracker = observers.cost_tracker
    for budget in (ANA, BOB):
        tracker.add_budget(budget)
    console.print(
        f"budgets: {ANA.name} ${ANA.limit}/day, downgrade from {ANA.downgrade_from:.0%}; "
        f"{BOB.name} ${BOB.limit}/day, refuse"
    )
    async with observers.service(MODEL, guards=[tracker.guard()]) as llm:
        await _until_downgraded(console, llm, tracker)
        await _until_refused(console, llm, tracker)
    report = tracker.get_report()
    totals = report["totals"]
    console.print(
        f"get_report(): {totals['requests']} requests, ${totals['cost']:.6f}, "
        f"{totals['refused']} refused"
    )
    for row in report["by_model"]:
        console.print(f"  {row['name']}: {row['requests']} requests, ${row['cost']:.6f}")
    for status in report["budgets"]:
        console.print(
            f"  budget {status['name']}: {status['fraction_used']:.0%} used, "
            f"in effect: {status['in_effect']}"
        )


async def _until_downgraded(console: Console, llm: LLMService, tracker: CostTracker) -> None:
    for number in range(1, MAX_CALLS + 1):
        _, stats = await llm.complete(_ask(number), user="ana", max_tokens=60)
        downgraded = stats.model != stats.model_requested
        route = f"{stats.model_requested} -> {stats.model} (downgraded)" if downgraded else MODEL
        used = tracker.get_budget_status(ANA.name).fraction_used
        console.print(
            f"ana call {number}: {route}, ${stats.estimated_cost or 0:.6f}, "
            f"{ANA.name} {used:.0%} used"
        )
        if downgraded:
            return


async def _until_refused(console: Console, llm: LLMService, tracker: CostTracker) -> None:
    for number in range(1, MAX_CALLS + 1):
        try:
            _, stats = await llm.complete(_ask(number), user="bob", max_tokens=60)
        except BudgetExceededError as error:
            console.print(
                f"bob call {number}: refused before any request ({type(error).__name__}, "
                f"the budget resets in {(error.retry_after or 0) / 3600:.1f} h)"
            )
            return
        used = tracker.get_budget_status(BOB.name).fraction_used
        console.print(
            f"bob call {number}: {stats.model}, ${stats.estimated_cost or 0:.6f}, "
            f"{BOB.name} {used:.0%} used"
        )


def _ask(number: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Summarise the changes in release 2.{number}."}]


__all__ = ["cost_tracking"]
