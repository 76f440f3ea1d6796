"""Cost tracking: `CostTracker` and `Budget` (daily, weekly, monthly; global, model,
provider, agent or user scope), a budget guard that reserves before a call and settles
after it, forecasts, recommendations and export.

    cost_tracker = CostTracker()
    cost_tracker.add_budget(Budget(name="daily_limit", limit=10.0, period="daily",
                                   scope="global"))
    llm = LLMService(config, guards=[cost_tracker.guard()])
    report = cost_tracker.get_report()

See docs/costs.md. Redis counters import redis-py only when built.
"""

from ml_ops.cost_tracker.budget import Budget, BudgetAction, BudgetScope
from ml_ops.cost_tracker.budget_files import load_budgets
from ml_ops.cost_tracker.counters import (
    Claim,
    CounterKey,
    CounterState,
    LocalSpendCounters,
    ReserveOutcome,
    SpendCounters,
)
from ml_ops.cost_tracker.downgrades import DEFAULT_DOWNGRADES, cheaper_model
from ml_ops.cost_tracker.export import ExportFormat, ExportKind
from ml_ops.cost_tracker.forecast import (
    DayForecast,
    ForecastInterval,
    ForecastMethod,
    PeriodForecast,
    SpendForecast,
)
from ml_ops.cost_tracker.guard import BudgetGuard
from ml_ops.cost_tracker.periods import BudgetPeriod, Weekday
from ml_ops.cost_tracker.recommendations import (
    Recommendation,
    RecommendationKind,
    RecommendationSettings,
)
from ml_ops.cost_tracker.redis_counters import RedisSpendCounters
from ml_ops.cost_tracker.status import BudgetStatus
from ml_ops.cost_tracker.tracker import CostTracker
from ml_ops.cost_tracker.worst_case import WorstCase, worst_case_cost

__all__ = [
    "DEFAULT_DOWNGRADES",
    "Budget",
    "BudgetAction",
    "BudgetGuard",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetStatus",
    "Claim",
    "CostTracker",
    "CounterKey",
    "CounterState",
    "DayForecast",
    "ExportFormat",
    "ExportKind",
    "ForecastInterval",
    "ForecastMethod",
    "LocalSpendCounters",
    "PeriodForecast",
    "Recommendation",
    "RecommendationKind",
    "RecommendationSettings",
    "RedisSpendCounters",
    "ReserveOutcome",
    "SpendCounters",
    "SpendForecast",
    "Weekday",
    "WorstCase",
    "cheaper_model",
    "load_budgets",
    "worst_case_cost",
]
