"""Internal: budget alerts as `AlertRecord`s, sent through the monitoring alert handlers.

Each alert fraction of a budget fires once per period: its id is stable
(`budget:<name>:<period key>:<fraction>`), so saving it twice (two processes, a restart)
replaces rather than duplicates it, and the tracker claims the fraction in its counters
before sending (with Redis, one process of the deployment sends it). When the period
ends, the alerts that fired in it are saved again as resolved and sent once more; spend
settled into a period after its end (a call admitted before it) fires that period's
alerts, resolved at once, never the current period's.

Handlers are those given to the tracker plus, when it was given an `MLMonitor`, the
monitor's, read at each delivery so handlers added to the monitor later count too. A
handler that fails is logged and the others still run; so is a store that fails.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ai.core.clock import Clock
from ml_ops.cost_tracker.accounts import SpendAccounts
from ml_ops.cost_tracker.books import BudgetBook
from ml_ops.cost_tracker.budget import format_usd
from ml_ops.cost_tracker.counters import EXPIRY_MARGIN, CounterKey, CounterState, to_usd
from ml_ops.monitoring.alerts import Severity
from ml_ops.monitoring.handlers import AlertCallback, AlertHandler, as_handler
from ml_ops.store.base import AlertRecord, AlertStatus, EventStore

if TYPE_CHECKING:
    from ml_ops.monitoring.monitor import MLMonitor

logger = logging.getLogger("ml_ops.cost_tracker")

ALERT_METRIC = "budget_spend"


def alert_id(key: CounterKey, fraction: float) -> str:
    """The stable id of one fraction's alert in one period."""
    return f"budget:{key.budget}:{key.period_key}:{fraction:g}"


def marker(fraction: float) -> str:
    """The counters' once-per-period marker of a fraction."""
    return f"alert:{fraction:g}"


def budget_alert(
    book: BudgetBook, key: CounterKey, fraction: float, state: CounterState, now: datetime
) -> AlertRecord:
    """The alert for `book`'s budget reaching `fraction` of its limit."""
    budget = book.budget
    spent = to_usd(state.spent)
    reset = (key.expires_at - EXPIRY_MARGIN).isoformat()  # the end of `key`'s period
    if fraction >= 1:
        what = "has reached its limit" if fraction == 1 else f"is at {fraction:.0%} of its limit"
    else:
        what = f"has used {fraction:.0%} of its limit"
    message = (
        f"Budget {budget.name!r} ({budget.describe_scope()}) {what}: {format_usd(spent)} of "
        f"{format_usd(budget.limit)} {budget.period.value}; action {budget.action.value}; "
        f"resets {reset}."
    )
    return AlertRecord(
        alert_id=alert_id(key, fraction),
        rule=f"budget:{budget.name}",
        severity=(Severity.CRITICAL if fraction >= 1 else Severity.WARNING).value,
        status=AlertStatus.FIRING,
        message=message,
        metric=ALERT_METRIC,
        value=spent,
        threshold=budget.limit * fraction,
        fired_at=now,
        labels=_labels(book, key, fraction),
    )


def resolved_alert(
    book: BudgetBook, key: CounterKey, fraction: float, fired_at: datetime, now: datetime
) -> AlertRecord:
    """The alert of a past period, resolved because the period ended."""
    budget = book.budget
    return AlertRecord(
        alert_id=alert_id(key, fraction),
        rule=f"budget:{budget.name}",
        severity=(Severity.CRITICAL if fraction >= 1 else Severity.WARNING).value,
        status=AlertStatus.RESOLVED,
        message=f"Budget {budget.name!r}: period {key.period_key} ended; the budget reset.",
        metric=ALERT_METRIC,
        value=None,
        threshold=budget.limit * fraction,
        fired_at=fired_at,
        resolved_at=now,
        labels=_labels(book, key, fraction),
    )


def _labels(book: BudgetBook, key: CounterKey, fraction: float) -> dict[str, str]:
    budget = book.budget
    return {
        "budget": budget.name,
        "period": budget.period.value,
        "period_key": key.period_key,
        "scope": budget.describe_scope(),
        "action": budget.action.value,
        "fraction": f"{fraction:g}",
    }


class AlertOutlet:
    """Saves budget alerts in the store and hands them to every handler."""

    def __init__(
        self,
        store: EventStore | None,
        handlers: Sequence[AlertHandler | AlertCallback],
        monitor: MLMonitor | None,
    ) -> None:
        self._store = store
        self._handlers = [as_handler(handler) for handler in handlers]
        self._monitor = monitor
        self.sent: list[AlertRecord] = []
        """Every alert this outlet sent, newest last (bounded)."""

    def handlers(self) -> list[AlertHandler]:
        """The tracker's handlers and the monitor's."""
        found = list(self._handlers)
        if self._monitor is not None:
            found += _monitor_handlers(self._monitor)
        return found

    async def publish(self, alert: AlertRecord) -> None:
        """Save and deliver `alert`; failures are logged, never raised."""
        self.sent.append(alert)
        del self.sent[:-1000]
        if self._store is not None:
            try:
                await self._store.save_alert(alert)
            except Exception:
                logger.exception("could not save budget alert %s", alert.alert_id)
        for handler in self.handlers():
            try:
                await handler.handle(alert)
            except Exception:
                logger.exception("alert handler %r failed on budget alert %s", handler,
                                 alert.alert_id)  # fmt: skip


def _monitor_handlers(monitor: MLMonitor) -> list[AlertHandler]:
    """The handlers the monitor sends its own alerts to."""
    return list(monitor.handlers)


Work = Callable[[], Coroutine[Any, Any, None]]


class BackgroundWork:
    """Coroutines run as tasks off the call path; without a running event loop (sync
    code) they wait for the next `flush()`."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: list[Work] = []

    def spawn(self, work: Work) -> None:
        """Run `work()` as a task now, or at the next `flush()`."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._waiting.append(work)
            return
        task = asyncio.ensure_future(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Run what waited for a loop, then wait for the tasks of this loop."""
        while self._waiting:
            work = self._waiting.pop(0)
            try:
                await work()
            except Exception:
                logger.exception("cost tracker: deferred work failed")
        loop = asyncio.get_running_loop()
        while pending := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*pending, return_exceptions=True)


class BudgetAlerter:
    """Fires each alert fraction once per period and resolves them when it ends."""

    def __init__(
        self, outlet: AlertOutlet, accounts: SpendAccounts, clock: Clock, work: BackgroundWork
    ) -> None:
        self.outlet = outlet
        self._accounts = accounts
        self._clock = clock
        self._work = work

    def check(self, book: BudgetBook, key: CounterKey, state: CounterState, now: datetime) -> None:
        """Schedule the alerts of the fractions `state` has reached and not yet fired."""
        for fraction, threshold in book.alert_units:
            if state.spent < threshold or fraction in book.fired:
                continue
            book.fired[fraction] = now
            alert = budget_alert(book, key, fraction, state, now)
            self._work.spawn(functools.partial(self._fire, alert, key, fraction))

    def check_ended(
        self, book: BudgetBook, key: CounterKey, state: CounterState, now: datetime
    ) -> None:
        """Schedule the alerts of the fractions that late spend took `key`'s period past
        after it ended (a call admitted before its end, settled after). They belong to
        that period: they fire under its key and resolve at once, since it is over, and
        the current period's alerts are left alone. Each fires once, by its marker."""
        for fraction, threshold in book.alert_units:
            if state.spent >= threshold:
                alert = budget_alert(book, key, fraction, state, now)
                self._work.spawn(functools.partial(self._fire_ended, book, alert, key, fraction))

    def period_ended(self, book: BudgetBook) -> None:
        """Schedule the resolution of the alerts that fired in the period just ended."""
        if book.previous is None:
            return
        previous, fired = book.previous
        book.previous = None
        for fraction, at in fired:
            self._work.spawn(functools.partial(self._resolve, book, previous, fraction, at))

    async def _fire(self, alert: AlertRecord, key: CounterKey, fraction: float) -> None:
        if await self._accounts.claim_once(key, marker(fraction)):
            await self.outlet.publish(alert)

    async def _fire_ended(
        self, book: BudgetBook, alert: AlertRecord, key: CounterKey, fraction: float
    ) -> None:
        if await self._accounts.claim_once(key, marker(fraction)):
            await self.outlet.publish(alert)
            await self._resolve(book, key, fraction, alert.fired_at)

    async def _resolve(
        self, book: BudgetBook, key: CounterKey, fraction: float, fired_at: datetime
    ) -> None:
        if await self._accounts.claim_once(key, "resolved:" + marker(fraction)):
            now = self._clock.now()
            await self.outlet.publish(resolved_alert(book, key, fraction, fired_at, now))
