"""`BudgetGuard`: budgets enforced around every `LLMService` / `EmbeddingService` call.

    tracker = CostTracker(counters=RedisSpendCounters(url))
    tracker.add_budget(Budget(name="daily", limit=10.0, period="daily", action="refuse"))
    llm = LLMService(config, guards=[tracker.guard()])

Before a call (`before`), for the budgets whose scope and tag cover it:

1. `downgrade` budgets that have used `downgrade_from` of their limit (spent plus
   reserved, as this process last saw it) send the call to `downgrade_to`, or to the
   next cheaper model of its family (`call.replace(model=...)`; the record's
   `guard_decisions` then show the change). Embedding calls are never redirected.
2. The call's worst-case cost (`worst_case.worst_case_cost`) is reserved in every
   covering budget at once, atomically: if, for any `refuse` budget,
   spent + reserved + worst case would exceed the limit, nothing is reserved and the
   call is refused with `BudgetExceededError` (naming the budget, its spend, limit and
   reset time; `retry_after` = seconds until the period ends), before any provider
   request. `alert` and `downgrade` budgets count the reservation but never refuse.

After the call (`after`, exactly once per admitted call: success, failure, cancellation
or a later guard's refusal), the reservation is released and the actual cost
(`record.estimated_cost`, 0 when unknown) added to the spend of the budgets covering the
model that answered (after a fallback, `record.model`'s, not the requested model's: a
restart counts the record the same way); alert fractions crossed fire. A model without
a price reserves 0 (one warning per model).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ai.accounting.pricing import PricingTable
from ai.core.guards import PlannedCall
from ai.core.records import Operation, RequestRecord
from ai.errors import BudgetExceededError, ConfigurationError
from ml_ops.cost_tracker.books import BudgetBook
from ml_ops.cost_tracker.budget import BudgetAction, format_usd
from ml_ops.cost_tracker.counters import CounterKey, CounterState, to_units, to_usd
from ml_ops.cost_tracker.downgrades import cheaper_model
from ml_ops.cost_tracker.worst_case import (
    DEFAULT_MAX_TOKENS,
    MessageTokenCache,
    worst_case_cost,
)

if TYPE_CHECKING:
    from ml_ops.cost_tracker.tracker import CostTracker

__all__ = ["BudgetGuard"]

logger = logging.getLogger("ml_ops.cost_tracker")

Covered = Sequence[tuple[BudgetBook, CounterKey]]


class BudgetGuard:
    """The `CallGuard` of a `CostTracker`'s budgets (see the module doc); get it from
    `tracker.guard()`. `default_max_tokens` is the output assumed for a call that sets
    no `max_tokens`."""

    def __init__(
        self,
        tracker: CostTracker,
        *,
        name: str = "budget",
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if isinstance(default_max_tokens, bool) or not (
            isinstance(default_max_tokens, int) and default_max_tokens > 0
        ):
            raise ConfigurationError(
                f"default_max_tokens must be a positive integer, got {default_max_tokens!r}"
            )
        self.name = name
        self._tracker = tracker
        self._default_max_tokens = default_max_tokens
        self._warned: set[str] = set()
        self._tokens = MessageTokenCache()

    def __repr__(self) -> str:
        return f"BudgetGuard({self.name!r}, {len(self._tracker.budgets)} budgets)"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        """Downgrade, reserve, or refuse with `BudgetExceededError` (module doc)."""
        tracker = self._tracker
        now = tracker.clock.now()
        covered = tracker.covering(call, now)
        if not covered:
            return None
        if tracker.needs_store(covered):
            await tracker.seed_from_store(covered)
        changed = None
        if call.operation is Operation.CHAT and any(
            book.budget.action is BudgetAction.DOWNGRADE for book, _ in covered
        ):
            changed = await self._downgrade(call, covered)
        if changed is not None:
            covered = tracker.covering(changed, now)
            await tracker.seed_from_store(covered)
        final = changed or call
        amount = self._worst_case(final, tracker.pricing)
        claims = [book.claim(key) for book, key in covered]
        outcome, held = await tracker.accounts.reserve(claims, amount)
        if not outcome.admitted:
            index = outcome.refused_by or 0
            book, _ = covered[index]
            raise self._refusal(book, outcome.states[index], amount, now)
        tracker.accounts.open[call.request_id] = held
        return changed

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        """Release the reservation and count the actual cost (module doc)."""
        tracker = self._tracker
        accounts = tracker.accounts
        held = accounts.open.pop(call.request_id, None)
        if held is None:
            return
        cost = record.estimated_cost
        actual = to_units(cost) if cost is not None else 0
        if record.fallback_used:  # the spend is the answering model's, as the record says
            charged = tracker.charged(record, tracker.clock.now())
            if {c.key.ident for c in charged} != {c.key.ident for c in held.claims}:
                states = await accounts.settle_elsewhere(held, charged, actual)
                tracker.settled(record, charged, states)
                return
        states = await accounts.settle(held, actual)
        tracker.settled(record, held.claims, states)

    async def _downgrade(self, call: PlannedCall, covered: Covered) -> PlannedCall | None:
        for book, key in covered:
            budget = book.budget
            if budget.action is not BudgetAction.DOWNGRADE:
                continue
            state = self._tracker.accounts.peek(key)
            if state is None:
                (state,) = await self._tracker.accounts.merge([book.claim(key)])
            if state.committed < book.downgrade_units:
                continue
            target = budget.downgrade_to or cheaper_model(call.model)
            if target is None:
                self._warn_once(
                    f"cheaper:{call.model}",
                    "budget %r is past %.0f%% of its limit, but no cheaper model of %r is "
                    "known; its calls go through unchanged (set downgrade_to)",
                    budget.name,
                    budget.downgrade_from * 100,
                    call.model,
                )
                continue
            if target.strip().lower() != call.model.strip().lower():
                return call.replace(model=target)
        return None

    def _worst_case(self, call: PlannedCall, pricing: PricingTable) -> int:
        worst = worst_case_cost(
            call, pricing, default_max_tokens=self._default_max_tokens, cache=self._tokens
        )
        if worst.cost is None:
            self._warn_once(
                f"price:{call.model}",
                "budget guard: no price for model %r, so its calls reserve nothing and count "
                "only what their records report; add its price to the PricingTable",
                call.model,
            )
            return 0
        return to_units(worst.cost)

    def _refusal(
        self, book: BudgetBook, state: CounterState, amount: int, now: datetime
    ) -> BudgetExceededError:
        budget = book.budget
        wait = max((book.end - now).total_seconds(), 0.0)
        message = (
            f"Budget {budget.name!r} ({budget.describe_scope()}, {budget.period.value}) "
            f"refuses this call: {format_usd(to_usd(state.spent))} spent and "
            f"{format_usd(to_usd(state.reserved))} reserved of its {format_usd(budget.limit)} "
            f"limit, and this call could cost up to {format_usd(to_usd(amount))}. It resets at "
            f"{book.end.isoformat()} (in {math.ceil(wait)} s); raise its limit or wait."
        )
        return BudgetExceededError(message, guard=self.name, retry_after=wait)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)
