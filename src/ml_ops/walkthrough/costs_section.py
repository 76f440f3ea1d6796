"""Section 8, cost tracking: `ml_ops.CostTracker` budgets enforced by its guard, the
report, a forecast, recommendations and exports.

Two daily budgets scoped to one user each. Ana's downgrades: once half of it is spent,
her calls for gpt-4o go to gpt-4o-mini. Bob's refuses: a call whose worst-case cost no
longer fits raises `BudgetExceededError` before any request is sent. The tracker has been
attached to the bus since the start, so today's report covers every section's calls.
It also holds the support bot's four weeks before today (`spend_history`), which the
forecast of the next seven days is fitted to and the recommendations read; the exports
write both, as CSV and JSON, to a temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rich.console import Console

from ai.errors import BudgetExceededError
from ai.llm_service import LLMService
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.walkthrough.observers import Observers

MODEL = "gpt-4o"
FORECAST_DAYS = 7
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
    """Spend both budgets through the guarded service, then print today's report, the
    forecast, the recommendations and what the exports wrote."""
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
    report = tracker.get_report(days=1)
    totals = report["totals"]
    console.print(
        f"get_report(days=1), today: {totals['requests']} requests, ${totals['cost']:.6f}, "
        f"{totals['refused']} refused"
    )
    for row in report["by_model"]:
        console.print(f"  {row['name']}: {row['requests']} requests, ${row['cost']:.6f}")
    for status in report["budgets"]:
        console.print(
            f"  budget {status['name']}: {status['fraction_used']:.0%} used, "
            f"in effect: {status['in_effect']}"
        )
    _forecast_and_advice(console, tracker)
    _exports(console, tracker)


def _forecast_and_advice(console: Console, tracker: CostTracker) -> None:
    """The next week's spend forecast from the days before today, and the
    recommendations over every record kept."""
    forecast = tracker.forecast(days=FORECAST_DAYS)
    interval = next(i for i in forecast.total_intervals if i.level == 0.8)
    console.print(
        f"forecast(days={FORECAST_DAYS}) from {forecast.history_days} days of history "
        f"({forecast.method.value}): ${forecast.total:.2f}, 80% interval "
        f"${interval.lower:.2f}-${interval.upper:.2f}"
    )
    for advice in tracker.recommendations():
        saving = advice.estimated_monthly_saving
        gain = f"saves ${saving:.2f}/month" if saving else "caps the risk"
        console.print(f"recommendation ({advice.kind.value}): {advice.title}, {gain}", markup=False)


def _exports(console: Console, tracker: CostTracker) -> None:
    """Every record kept as CSV, the forecast as CSV, the recommendations as JSON."""
    with tempfile.TemporaryDirectory(prefix="devora-walkthrough-") as folder:
        records = Path(folder) / "records.csv"
        rows = tracker.export(records)
        header = records.read_text(encoding="utf-8").splitlines()[0].split(",")
        console.print(f"export records.csv: {rows} rows, columns {', '.join(header[:4])}, ...")
        forecast = Path(folder) / "forecast.csv"
        rows = tracker.export(forecast, what="forecast", days=FORECAST_DAYS)
        first = forecast.read_text(encoding="utf-8").splitlines()[0]
        console.print(f"export forecast.csv: {rows} rows ({first})")
        advice = Path(folder) / "recommendations.json"
        items = tracker.export(advice, what="recommendations", format="json")
        kinds = [item["kind"] for item in json.loads(advice.read_text(encoding="utf-8"))]
        console.print(f"export recommendations.json: {items} items {kinds}")


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
