"""Per-key and per-team budgets, enforced by the cost tracker's budget guard.

The one place the gateway meets `ml_ops.cost_tracker`: a key created with `--budget
10/day` becomes `Budget("key:<id>", 10, "daily", tag="key_id=<id>", action="refuse")`,
a team with `teams: {search: {budget: 200/month}}` in devora.yaml becomes
`Budget("team:search", 200, "monthly", tag="team=search", action="refuse")`. Every
record of a key carries both tags, so the tracker's `BudgetGuard` (a guard of every
service the gateway builds) reserves each call's worst case in both before it is made,
refuses it with `BudgetExceededError` (answered 429 `insufficient_quota`) when either
would go past its limit, and settles the actual cost afterwards. With
`RedisSpendCounters` every gateway process shares the same counters.
"""

from __future__ import annotations

from collections.abc import Mapping

from ai.core.guards import CallGuard
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.gateway.keys import BudgetSpec, VirtualKey


def key_budget(key: VirtualKey) -> Budget | None:
    """The tracker budget of a key (None for a key without one)."""
    if key.budget is None:
        return None
    return _budget(f"key:{key.id}", key.budget, f"key_id={key.id}")


def team_budget(team: str, spec: BudgetSpec) -> Budget:
    """The tracker budget of a team."""
    return _budget(f"team:{team}", spec, f"team={team}")


def _budget(name: str, spec: BudgetSpec, tag: str) -> Budget:
    return Budget(name, spec.limit, spec.period.value, "global", tag=tag, action="refuse")


class GatewayBudgets:
    """Registers team budgets at start and each key's budget when the key is first seen."""

    def __init__(self, tracker: CostTracker, teams: Mapping[str, BudgetSpec] | None = None) -> None:
        self.tracker = tracker
        for team, spec in (teams or {}).items():
            self._add(team_budget(team, spec))

    @property
    def guard(self) -> CallGuard:
        """The tracker's budget guard, for the gateway's services."""
        return self.tracker.guard()

    def key_loaded(self, key: VirtualKey) -> None:
        budget = key_budget(key)
        if budget is not None:
            self._add(budget)

    def _add(self, budget: Budget) -> None:
        if all(existing.name != budget.name for existing in self.tracker.budgets):
            self.tracker.add_budget(budget)
