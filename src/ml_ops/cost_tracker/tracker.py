"""`CostTracker`: spend, budgets, alerts, reports, forecasts, recommendations, export.

    cost_tracker = CostTracker()
    cost_tracker.add_budget(Budget(name="daily_limit", limit=10.0, period="daily",
                                   scope="global"))
    report = cost_tracker.get_report()

Spend comes in through `observe(record)` (`attach(bus)` observes every record of the
services sharing the bus) and through the budget guard (`guard()`), which settles each
call it admitted. With an event store, `await restore()` reads it back at start-up, so
spend, budgets and fired alerts survive restarts. Budgets are counted in `counters`:
`LocalSpendCounters` (the default, this process) or `RedisSpendCounters` (every process
sharing one Redis); see docs/costs.md for what each guarantees.

Time comes from `clock` (tests pass `ai.core.clock.FakeClock`); days, weeks and months
are calendar periods in `tz`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ai.accounting.pricing import PricingTable
from ai.core.clock import Clock, SystemClock
from ai.core.guards import PlannedCall
from ai.core.records import RecordBus, RequestRecord
from ai.errors import ConfigurationError
from ml_ops.cost_tracker.accounts import SpendAccounts
from ml_ops.cost_tracker.books import BudgetBook
from ml_ops.cost_tracker.budget import Budget
from ml_ops.cost_tracker.budget_alerts import (
    AlertOutlet,
    BackgroundWork,
    BudgetAlerter,
    marker,
)
from ml_ops.cost_tracker.counters import (
    Claim,
    CounterKey,
    CounterState,
    SpendCounters,
    to_units,
)
from ml_ops.cost_tracker.export import ExportFormat, ExportKind, export_data
from ml_ops.cost_tracker.forecast import SpendForecast, forecast_spend
from ml_ops.cost_tracker.guard import BudgetGuard
from ml_ops.cost_tracker.ledger import SpendLedger, record_cost
from ml_ops.cost_tracker.periods import resolve_zone
from ml_ops.cost_tracker.recommendation_base import DEFAULT_SETTINGS, RecommendationSettings
from ml_ops.cost_tracker.recommendations import Recommendation, recommend
from ml_ops.cost_tracker.report import build_report
from ml_ops.cost_tracker.restore import (
    fired_alerts,
    known_days,
    period_spend,
    record_counts,
    records_by_day,
    rolled_up_scope_spend,
    rollup_counts,
    warn_rolled_up,
)
from ml_ops.cost_tracker.status import BudgetStatus, budget_status
from ml_ops.monitoring.handlers import AlertCallback, AlertHandler
from ml_ops.monitoring.intake import RecentIds
from ml_ops.store.base import AlertRecord, EventStore, Rollup

if TYPE_CHECKING:
    from ml_ops.monitoring.monitor import MLMonitor

__all__ = ["CostTracker"]

logger = logging.getLogger("ml_ops.cost_tracker")

_ONE_DAY = timedelta(days=1)
Covered = list[tuple[BudgetBook, CounterKey]]


class CostTracker:
    """Spend and budgets (module doc). Constructor options:

    - `store`: the event store to `restore()` from and save alerts to.
    - `counters`: `LocalSpendCounters` (default) or `RedisSpendCounters`.
    - `clock`, `tz`: time and the calendar periods' time zone (IANA name).
    - `pricing`: prices for worst-case reservations and recommendations.
    - `handlers`: alert handlers (`AlertHandler`s or plain callbacks); `monitor`: an
      `MLMonitor` whose handlers get budget alerts too.
    - `history_days`: days of spend kept for reports and forecasts; `keep_records`:
      latest records kept for recommendations and the records export.
    - `retry_interval`: seconds between tries of shared counters that stopped answering.
    """

    def __init__(
        self,
        store: EventStore | None = None,
        *,
        counters: SpendCounters | None = None,
        clock: Clock | None = None,
        tz: str = "UTC",
        pricing: PricingTable | None = None,
        handlers: Sequence[AlertHandler | AlertCallback] = (),
        monitor: MLMonitor | None = None,
        history_days: int = 90,
        keep_records: int = 20_000,
        retry_interval: float = 5.0,
    ) -> None:
        _check_positive("history_days", history_days)
        _check_positive("keep_records", keep_records, zero_ok=True)
        try:
            self.zone = resolve_zone(tz)
        except ValueError as error:
            raise ConfigurationError(f"CostTracker tz: {error}") from None
        self.clock: Clock = clock or SystemClock()
        self._store = store
        self._pricing = pricing
        self.accounts = SpendAccounts(counters, self.clock, retry_interval=retry_interval)
        self.ledger = SpendLedger(self.zone, history_days, keep_records)
        self._work = BackgroundWork()
        self._alerter = BudgetAlerter(
            AlertOutlet(store, handlers, monitor), self.accounts, self.clock, self._work
        )
        self._books: dict[str, BudgetBook] = {}
        self._seen = RecentIds(max(keep_records, 10_000))
        self._lock = threading.RLock()  # records may arrive from a SyncLLMService thread
        self._seeding: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._detach: list[Callable[[], None]] = []
        self._guard: BudgetGuard | None = None

    def __repr__(self) -> str:
        return (
            f"CostTracker({len(self._books)} budgets, counters={self.accounts.description}, "
            f"tz={self.zone.key!r})"
        )

    @property
    def pricing(self) -> PricingTable:
        """The prices used (the packaged table unless one was given)."""
        if self._pricing is None:
            self._pricing = PricingTable.default()
        return self._pricing

    # --- budgets -----------------------------------------------------------------------

    @property
    def budgets(self) -> tuple[Budget, ...]:
        """The budgets, in the order they were added."""
        return tuple(book.budget for book in self._books.values())

    def add_budget(self, budget: Budget) -> None:
        """Track (and, through the guard, enforce) `budget` from now on. Its current
        period starts from the spend this tracker already knows of; with a store, the
        store's figure is read the next time the guard or `refresh_budgets` runs."""
        if not isinstance(budget, Budget):
            raise ConfigurationError(f"add_budget takes a Budget, got {budget!r}")
        with self._lock:
            if budget.name in self._books:
                raise ConfigurationError(
                    f"a budget named {budget.name!r} exists; remove_budget() it first"
                )
            book = BudgetBook(budget, self.zone, self.ledger.history_days)
            book.load_days(known_days(self.ledger, budget))
            self._books[budget.name] = book
            self._current(book, self.clock.now())

    def remove_budget(self, name: str) -> Budget:
        """Stop tracking the budget `name`; returns it."""
        with self._lock:
            book = self._books.pop(name, None)
        if book is None:
            raise ConfigurationError(f"no budget named {name!r}; have {sorted(self._books)}")
        return book.budget

    def get_budget_status(self, name: str, *, project: bool = True) -> BudgetStatus:
        """Where budget `name` stands now (`BudgetStatus`); `project=False` skips the
        end-of-period forecast."""
        book = self._books.get(name)
        if book is None:
            raise ConfigurationError(f"no budget named {name!r}; have {sorted(self._books)}")
        now = self.clock.now()
        with self._lock:
            key = self._current(book, now)
        state = self.accounts.peek(key) or CounterState()
        return budget_status(
            book, key, state, now, counters=self.accounts.description, project=project
        )

    def budget_statuses(self, *, project: bool = True) -> list[BudgetStatus]:
        """Every budget's status, in the order added."""
        return [self.get_budget_status(name, project=project) for name in list(self._books)]

    async def refresh_budgets(self, *, project: bool = True) -> list[BudgetStatus]:
        """Read every budget's counter now (with Redis: every process's spend), after
        reading the store's figure where not done yet; returns the statuses."""
        now = self.clock.now()
        with self._lock:
            covered = [(book, self._current(book, now)) for book in self._books.values()]
        await self.seed_from_store(covered)
        if covered:
            await self.accounts.merge([book.claim(key) for book, key in covered])
        return self.budget_statuses(project=project)

    # --- the guard's seam ------------------------------------------------------------

    def guard(self, *, default_max_tokens: int | None = None) -> BudgetGuard:
        """The `CallGuard` that enforces these budgets: `LLMService(config,
        guards=[tracker.guard()])`. The same guard each time unless options differ."""
        if default_max_tokens is None and self._guard is not None:
            return self._guard
        if default_max_tokens is not None:
            return BudgetGuard(self, default_max_tokens=default_max_tokens)
        self._guard = BudgetGuard(self)
        return self._guard

    def covering(self, call: PlannedCall, now: datetime) -> Covered:
        """The budgets covering `call`, each with its current counter key."""
        with self._lock:
            return [
                (book, self._current(book, now))
                for book in self._books.values()
                if book.budget.matches(
                    model=call.model,
                    provider=call.provider,
                    agent=call.agent,
                    user=call.user,
                    tags=call.tags,
                )
            ]

    def needs_store(self, covered: Covered) -> bool:
        """Whether some covered budget's period was not read from the store yet."""
        return self._store is not None and any(
            book.store_checked != key.period_key for book, key in covered
        )

    async def seed_from_store(self, covered: Covered) -> None:
        """Read the store's figure of each covered budget's period, once per period
        (concurrent callers wait for the one read)."""
        if self._store is None:
            return
        for book, key in covered:
            if book.store_checked == key.period_key:
                continue
            task = self._seeding.get(key.ident)
            if task is None:
                task = asyncio.ensure_future(self._seed_one(book, key))
                self._seeding[key.ident] = task
            await asyncio.shield(task)

    async def _seed_one(self, book: BudgetBook, key: CounterKey) -> None:
        """One budget's period from the store. A store that fails is logged, not raised:
        the budget then counts from what this process knows (a store outage must not
        fail the calls), and the store is not asked again this period."""
        assert self._store is not None
        try:
            spent, uncounted = await period_spend(self._store, book.budget, book.start, book.end)
        except Exception as error:
            logger.warning(
                "budget %r: could not read this period's spend from the event store (%s); "
                "counting from what this process has seen",
                book.name,
                error,
            )
            spent = uncounted = 0.0
        warn_rolled_up(book, key, uncounted)
        with self._lock:
            self.accounts.local.merge_now([book.seed_claim(key)])
            if spent > 0:
                self.accounts.local.merge_now([Claim(key, None, to_units(spent))])
            book.store_checked = key.period_key
            self._seeding.pop(key.ident, None)

    def charged(self, record: RequestRecord, now: datetime) -> tuple[Claim, ...]:
        """The claims of the budgets `record`'s spend counts against (the model that
        answered it, `record.model`, as `observe` and `restore` count it), each at its
        current period."""
        with self._lock:
            return tuple(
                book.claim(self._current(book, now))
                for book in self._books.values()
                if record_counts(book.budget, record)
            )

    def settled(
        self, record: RequestRecord, claims: Sequence[Claim], states: Sequence[CounterState]
    ) -> None:
        """The guard settled `record`'s call, charging its cost to `claims` (now at
        `states`): keep the record (if not observed already) and fire the alert
        fractions its spend crossed."""
        now = self.clock.now()
        with self._lock:
            self._ingest(record, now, counted=True)
            self._check_alerts(claims, states, now)

    def _check_alerts(
        self, claims: Sequence[Claim], states: Sequence[CounterState], now: datetime
    ) -> None:
        """Fire what each counter crossed, under the period of that counter: spend
        settled into a period that has ended since (a call admitted before midnight)
        alerts for that period, never for the current one."""
        for claim, state in zip(claims, states, strict=True):
            book = self._books.get(claim.key.budget)
            if book is None:
                continue
            key = self._current(book, now)
            if claim.key == key:
                self._alerter.check(book, key, state, now)
            elif claim.key.expires_at <= key.expires_at:  # an earlier period's counter
                self._alerter.check_ended(book, claim.key, state, now)

    # --- feeding -----------------------------------------------------------------------

    def attach(self, bus: RecordBus) -> Callable[[], None]:
        """Observe every record emitted on `bus`; returns a function that detaches."""
        unsubscribe = bus.subscribe(self._on_record)
        self._detach.append(unsubscribe)
        return unsubscribe

    def _on_record(self, record: RequestRecord) -> None:
        self.observe(record)

    def observe(self, record: RequestRecord) -> bool:
        """Count `record` (False when its request id was already counted). Calls the
        guard admitted are counted in the budgets when the guard settles them."""
        with self._lock:
            return self._ingest(record, self.clock.now(), counted=False)

    def _ingest(self, record: RequestRecord, now: datetime, *, counted: bool) -> bool:
        if not self._seen.add(record.request_id):
            return False
        self.ledger.prune(now)
        day = self.ledger.add_record(record)
        cost = record_cost(record)
        guarded = counted or record.request_id in self.accounts.open
        for book in self._books.values():
            if not record_counts(book.budget, record):
                continue
            # The period first: a new one seeds its counter from the daily figures, which
            # must not hold this record yet, or it would be counted twice.
            key = self._current(book, now)
            book.add(day, cost)
            if guarded or cost <= 0 or record.timestamp < book.start:
                continue
            claims = (book.claim(key),)
            seeded = self.accounts.add_locally(claims, to_units(cost))
            if seeded is not None:
                self._work.spawn(functools.partial(self._add_shared, seeded, to_units(cost)))
            state = self.accounts.local.peek(key) or CounterState()
            self._alerter.check(book, key, state, now)
        return True

    async def _add_shared(self, seeded: tuple[Claim, ...], units: int) -> None:
        states = await self.accounts.add_shared(seeded, units)
        with self._lock:
            self._check_alerts(seeded, states, self.clock.now())

    def _current(self, book: BudgetBook, now: datetime) -> CounterKey:
        """The book's key at `now`; a new period seeds its counter and resolves the
        alerts of the one that ended."""
        key, rolled = book.current(now)
        if rolled:
            self.accounts.local.merge_now([book.seed_claim(key)])
            self.accounts.local.prune(now)
            self._alerter.period_ended(book)
        return key

    # --- alerts ------------------------------------------------------------------------

    @property
    def alerts_sent(self) -> list[AlertRecord]:
        """The budget alerts this tracker sent (fired and resolved), oldest first."""
        return list(self._alerter.outlet.sent)

    async def flush(self) -> None:
        """Send what waited for an event loop, then wait for alert deliveries and
        shared-counter updates started so far."""
        await self._work.flush()

    async def aclose(self) -> None:
        """Detach from every bus, finish pending work, close the counters (the store is
        left open: it belongs to whoever passed it)."""
        for detach in self._detach:
            detach()
        self._detach.clear()
        await self.flush()
        await self.accounts.aclose()

    # --- the store ---------------------------------------------------------------------

    def _require_store(self) -> EventStore:
        if self._store is None:
            raise ConfigurationError("this tracker has no event store: CostTracker(store=...)")
        return self._store

    async def restore(self) -> int:
        """Rebuild spend from the store: roll-ups and records of the last `history_days`
        days, each budget's current period (counters are raised to it, never lowered),
        and the alerts already fired this period. Returns how many records were read.
        Call it at start-up, before traffic: calling it again rebuilds from scratch."""
        store = self._require_store()
        now = self.clock.now()
        first_day = self.ledger.local_day(now) - self.ledger.history_days * _ONE_DAY
        since = datetime.combine(first_day, time(0), tzinfo=self.zone)
        rollups = await store.rollups(since=since)
        with self._lock:
            self.ledger.clear()
            self._seen = RecentIds(self._seen_capacity())
            for book in self._books.values():
                book.load_days({})
            for rollup in rollups:
                day = self.ledger.add_rollup(rollup)
                for book in self._books.values():
                    if rollup_counts(book.budget, rollup):
                        book.add(day, rollup.cost)
        count = 0
        async for records in records_by_day(store, self.zone, since, now + _ONE_DAY):
            with self._lock:
                count += sum(self._restore_record(record) for record in records)
        await self._restore_periods(store, now, since, rollups)
        return count

    def _seen_capacity(self) -> int:
        return max(self.ledger.records.maxlen or 0, 10_000)

    def _restore_record(self, record: RequestRecord) -> bool:
        if not self._seen.add(record.request_id):
            return False
        day = self.ledger.add_record(record)
        cost = record_cost(record)
        for book in self._books.values():
            if record_counts(book.budget, record):
                book.add(day, cost)
        return True

    async def _restore_periods(
        self, store: EventStore, now: datetime, since: datetime, rollups: Sequence[Rollup]
    ) -> None:
        with self._lock:
            covered = [(book, self._current(book, now)) for book in self._books.values()]
            for book, key in covered:
                self.accounts.local.merge_now([book.seed_claim(key)])
                if book.start >= since:  # else the period began before the history read
                    book.store_checked = key.period_key
                    inside = [r for r in rollups if book.start <= r.bucket_start < book.end]
                    warn_rolled_up(book, key, rolled_up_scope_spend(book.budget, inside))
        if not covered:
            return
        await self.seed_from_store(covered)
        alerts = await store.alerts(since=min(book.start for book, _ in covered))
        with self._lock:
            for book, key in covered:
                for fraction, fired_at in fired_alerts(alerts, book.name, key.period_key):
                    book.fired.setdefault(fraction, fired_at)
                    self.accounts.local.claim_once_now(key, marker(fraction))

    # --- reading -----------------------------------------------------------------------

    def get_report(self, days: int | None = None, *, top: int = 5) -> dict[str, Any]:
        """Spend totals and breakdowns (by model, provider, agent, user, operation and
        day), cost per request, cache savings, top spenders and the budgets' statuses,
        over the last `days` local days (today included; default: all kept), as plain
        JSON types. See `ml_ops.cost_tracker.report` for the shape."""
        if days is not None:
            _check_positive("days", days)
        now = self.clock.now()
        last = self.ledger.local_day(now)
        first = None if days is None else last - (days - 1) * _ONE_DAY
        statuses = [s.to_dict() for s in self.budget_statuses()]
        with self._lock:
            return build_report(
                self.ledger, now=now, first=first, last=last, budgets=statuses, top=top
            )

    def forecast(self, days: int = 7) -> SpendForecast:
        """Forecast spend for the next `days` local days, today first, from the daily
        spend before today (`forecast.forecast_spend`; with no whole day of history, a
        zero forecast whose notes say so)."""
        _check_positive("days", days)
        today = self.ledger.local_day(self.clock.now())
        with self._lock:
            history = {d: c for d, c in self.ledger.daily().items() if d < today}
        yesterday = today - _ONE_DAY
        if not history:
            empty = forecast_spend({yesterday: 0.0}, days, last_day=yesterday)
            note = "no spend recorded before today: the forecast is zero"
            return _with_note(empty, note)
        return forecast_spend(history, days, last_day=yesterday)

    def recommendations(
        self, settings: RecommendationSettings | None = None
    ) -> list[Recommendation]:
        """Cost recommendations over the records kept (`recommendations.recommend`),
        largest monthly saving first; users and agents with a budget of their own are
        not told to get one."""
        with self._lock:
            records = self.ledger.recent()
        if not records:
            return []
        users = {b.scope_value for b in self.budgets if b.scope.value == "user" and b.scope_value}
        agents = {b.scope_value for b in self.budgets if b.scope.value == "agent" and b.scope_value}
        end = max(self.clock.now(), records[-1].timestamp)
        return recommend(
            records,
            self.pricing,
            window=(records[0].timestamp, end) if end > records[0].timestamp else None,
            budgeted_users=users,
            budgeted_agents=agents,
            settings=settings or DEFAULT_SETTINGS,
        )

    def export(
        self,
        path_or_buffer: str | Path | IO[str],
        what: ExportKind | str = "records",
        format: ExportFormat | str = "csv",
        *,
        days: int | None = None,
    ) -> int:
        """Write `what` ("records", "report", "forecast", "recommendations" or "budgets")
        as CSV or JSON to a path or an open text file; returns the rows (JSON: items)
        written. Nothing secret is written: no API keys, URLs or error texts."""
        return export_data(self, path_or_buffer, what, format, days=days)


def _with_note(forecast: SpendForecast, note: str) -> SpendForecast:
    return dataclasses.replace(forecast, notes=(*forecast.notes, note))


def _check_positive(name: str, value: int, *, zero_ok: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_ok else 1):
        bound = ">= 0" if zero_ok else ">= 1"
        raise ConfigurationError(f"{name} must be an integer {bound}, got {value!r}")
