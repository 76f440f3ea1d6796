"""`ABTester`: experiments on prompts, templates, models and parameters, from creation to
the winner.

    ab_tester = ABTester()                          # .devora/experiments.db by default
    ab_tester.create_experiment(Experiment(name="prompt_test", variants=[...]))
    ab_tester.start_experiment("prompt_test")
    variant = ab_tester.get_variant("prompt_test", unit_id=user_id)   # sticky per unit
    ab_tester.track_result(experiment_name="prompt_test", variant_name=variant.name,
                           success=True, latency_ms=2000, cost=0.01)
    summary = ab_tester.get_experiment_summary("prompt_test")

Every method is synchronous, as in the spec. States are read from a cache (refreshed every
`refresh_interval` seconds), results and exposures go to a buffer flushed by a background
thread (`ml_ops.ab_testing.writer`), so nothing on a call's path waits for the database;
summaries, decisions and transitions flush first and read the store, so they see every
process's results. Results also arrive by themselves: `attach(bus)` counts every
`RequestRecord` tagged with an experiment and variant (`TemplateManager(experiments=
ab_tester)` renders and `ExperimentGuard` tag them), once per request id.

`ABTester` is a `PromptExperiments`, so templates that name an experiment are routed by
it; see `ml_ops.ab_testing` for the whole picture and docs/ab-testing.md for the rules.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai.core.clock import Clock, SystemClock
from ai.core.records import RecordBus, RequestRecord, TagKey
from ai.errors import ConfigurationError
from ml_ops.ab_testing.acting import completion_change, decision_change
from ml_ops.ab_testing.assignment import Assignment
from ml_ops.ab_testing.errors import ExperimentStateError
from ml_ops.ab_testing.experiment import Experiment
from ml_ops.ab_testing.promotion import Promoter, pending
from ml_ops.ab_testing.routing import StateCache, period_at
from ml_ops.ab_testing.state import (
    ACTIVE,
    ExperimentState,
    ExperimentStatus,
    new_state,
    transition,
    with_weights,
)
from ml_ops.ab_testing.stores.base import ExperimentStore, not_found
from ml_ops.ab_testing.stores.opening import open_experiment_store
from ml_ops.ab_testing.summary import decided_winner, summarise
from ml_ops.ab_testing.totals import (
    VariantTotals,
    metric_totals,
    record_totals,
    result_totals,
)
from ml_ops.ab_testing.writer import ResultWriter
from ml_ops.monitoring.intake import RecentIds

if TYPE_CHECKING:
    from ai.prompts.template_manager import TemplateManager
    from ml_ops.ab_testing.guard import ExperimentGuard
    from ml_ops.store.base import EventStore

logger = logging.getLogger(__name__)
S = ExperimentStatus
Plan = dict[str, Any]


class ABTester(Assignment):
    """Create, run and judge experiments (see the module docstring).

    `store` is an `ExperimentStore` or a location for `open_experiment_store` (default:
    `$DEVORA_EXPERIMENTS_STORE`, `$POSTGRES_CONNECTION_STRING`, `.devora/experiments.db`).
    `template_manager` lets a finished prompt experiment move the template's `production`
    label. `clock` dates transitions and paces the cache; `rng` draws anonymous units.
    `flush_interval` (None: no background thread) and `max_pending` pace the result
    buffer; `evaluation_interval` is how often the background thread looks for a winner
    of an `auto_complete` experiment; `dedup_capacity` request ids are remembered so a
    record seen twice (bus and guard) counts once.
    """

    def __init__(
        self,
        store: ExperimentStore | str | Path | None = None,
        *,
        template_manager: TemplateManager | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        refresh_interval: float = 5.0,
        flush_interval: float | None = 1.0,
        max_pending: int = 10_000,
        evaluation_interval: float = 10.0,
        dedup_capacity: int = 100_000,
    ) -> None:
        if refresh_interval < 0 or evaluation_interval < 0 or max_pending < 1:
            raise ConfigurationError(
                "refresh_interval and evaluation_interval must be >= 0, max_pending >= 1"
            )
        owns = store is None or isinstance(store, str | Path)
        self.store: ExperimentStore = (
            open_experiment_store(store)
            if store is None or isinstance(store, str | Path)
            else store
        )
        self.template_manager = template_manager
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._cache = StateCache(self.store, self._clock, refresh_interval)
        hook: weakref.WeakMethod[Callable[[set[str]], None]] = weakref.WeakMethod(self._after_flush)
        self._writer = ResultWriter(
            self.store,
            flush_interval=flush_interval,
            max_pending=max_pending,
            after_flush=lambda names: _call_weak(hook, names),
        )
        self._seen = RecentIds(dedup_capacity)
        self._seen_lock = threading.Lock()
        self._templates: dict[str, str] = {}
        self._evaluation_interval = evaluation_interval
        self._evaluated_at: dict[str, float] = {}
        self._promoter = Promoter(template_manager, self._record_promotion)
        self._finalizer = weakref.finalize(
            self, _shutdown, self._writer, self.store if owns else None
        )

    def __repr__(self) -> str:
        return f"ABTester({self.store!r})"

    # --- lifecycle ------------------------------------------------------------------------

    def create_experiment(self, experiment: Experiment) -> ExperimentState:
        """Store `experiment` as a draft. Creating it again with the same definition
        returns the stored state (every process may create at start-up); a different
        definition under a stored name is a `ConfigurationError`."""
        if not isinstance(experiment, Experiment):
            raise ConfigurationError(f"create_experiment takes an Experiment, got {experiment!r}")
        stored, created = self.store.create(new_state(experiment, self._clock.now()))
        if not created and stored.experiment.to_dict() != experiment.to_dict():
            raise ConfigurationError(
                f"an experiment named {experiment.name!r} exists with another definition "
                f"(it is {stored.status.value}); choose a new name for the changed experiment"
            )
        self._cache.put(stored)
        return stored

    def start_experiment(self, name: str, *, reason: str = "") -> ExperimentState:
        """draft or paused -> running (a no-op when running)."""
        return self._move(name, S.RUNNING, reason)

    def resume_experiment(self, name: str, *, reason: str = "") -> ExperimentState:
        """paused -> running (the same as `start_experiment`)."""
        return self._move(name, S.RUNNING, reason)

    def pause_experiment(self, name: str, *, reason: str = "") -> ExperimentState:
        """running -> paused: everyone gets the control, nothing new is counted as an
        exposure; results of calls in flight still count."""
        return self._move(name, S.PAUSED, reason)

    def stop_experiment(self, name: str, *, reason: str = "") -> ExperimentState:
        """Abandon the experiment (from draft, running or paused); final."""
        return self._move(name, S.STOPPED, reason)

    def complete_experiment(
        self, name: str, *, winner: str | None = None, reason: str = ""
    ) -> ExperimentState:
        """running or paused -> completed, with `winner` (default: the variant the current
        decision picks, if any); all traffic then goes to the winner and, for a prompt
        experiment, the template's `production` label follows it."""
        if winner is None:
            summary, plan = self._evaluate(name)
            state = self._cache.get(name)
            if state is not None and state.status is S.COMPLETED:  # auto-completed just now
                self._promoter.dispatch(name, plan)
                return state
            winner = decided_winner(summary.get("decision"))
        change = completion_change(
            self._clock.now(), winner, reason or "completed by hand", self._templates.get(name)
        )
        state = self._update(name, change)
        if pending(state.promotion):
            self._promoter.dispatch(name, state.promotion)
        return state

    def set_weights(self, name: str, weights: Mapping[str, float]) -> ExperimentState:
        """New traffic weights (any non-negative scale); the fewest units change variant,
        and after the first start a new period begins (see docs: inference per period)."""
        now = self._clock.now()
        return self._update(name, lambda stored: with_weights(stored, weights, now))

    def get_experiment(self, name: str) -> ExperimentState:
        """The stored state of `name`, read now."""
        state = self._cache.refresh(name)
        if state is None:
            raise not_found(name, self._cache.names())
        return state

    def list_experiments(
        self, status: ExperimentStatus | str | None = None
    ) -> list[ExperimentState]:
        """Every stored experiment (optionally only those in `status`), by name."""
        wanted = None if status is None else S(status)
        states = self.store.load_all()
        for state in states:
            self._cache.put(state)
        return [s for s in states if wanted is None or s.status is wanted]

    def refresh(self, name: str | None = None) -> None:
        """Forget cached states (one, or all) so the next read sees other processes."""
        if name is None:
            self._cache.forget()
        else:
            self._cache.refresh(name)

    def guard(self, *experiments: str) -> ExperimentGuard:
        """A `CallGuard` that routes calls to the variants of model and parameter
        experiments (`experiments` in priority order; default: every such experiment)."""
        from ml_ops.ab_testing.guard import ExperimentGuard

        return ExperimentGuard(self, experiments)

    # --- tracking -------------------------------------------------------------------------

    def track_result(
        self,
        experiment_name: str,
        variant_name: str,
        success: bool,
        latency_ms: float | None = None,
        cost: float | None = None,
        *,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Count one result of `variant_name`: success, latency (ms), cost (USD) and any
        custom numeric `metrics`. A draft raises `ExperimentStateError`; results for a
        completed or stopped experiment are ignored (calls that were in flight)."""
        state = self._tracked(experiment_name)
        if state is None:
            return
        variant = state.experiment.variant(variant_name)
        delta = result_totals(
            state.experiment, success=success, latency_ms=latency_ms, cost=cost, metrics=metrics
        )
        self._add(state, variant.name, state.period.index, delta)

    def track_metrics(
        self, experiment_name: str, variant_name: str, metrics: Mapping[str, float]
    ) -> None:
        """Count custom metric values that arrive apart from the result (a user's rating
        later on); no result is counted."""
        state = self._tracked(experiment_name)
        if state is None:
            return
        variant = state.experiment.variant(variant_name)
        self._add(state, variant.name, state.period.index, metric_totals(metrics))

    def observe(self, record: RequestRecord) -> None:
        """Count `record` if its tags name an experiment and variant of this store (once
        per request id; a refused call is not a result)."""
        name = record.tags.get(TagKey.EXPERIMENT.value)
        label = record.tags.get(TagKey.VARIANT.value)
        if not name or not label:
            return
        state = self._cache.get(name)
        if state is None or state.status not in ACTIVE:
            return
        variant = state.experiment.resolve(label)
        delta = record_totals(state.experiment, record)
        if variant is None or delta is None:
            return
        with self._seen_lock:
            if not self._seen.add(record.request_id):
                return
        self._add(state, variant.name, period_at(state, record.timestamp), delta)

    def attach(self, bus: RecordBus) -> Callable[[], None]:
        """Count every tagged record on `bus`; returns the function that detaches."""
        self._promoter.remember_loop()
        return bus.subscribe(self.observe)

    def flush(self) -> None:
        """Write buffered results and exposures to the store now."""
        self._writer.flush()

    # --- results --------------------------------------------------------------------------

    def get_experiment_summary(self, name: str) -> dict[str, Any]:
        """Everything about `name` as one JSON-serialisable dict: status and transitions,
        weights and periods (with SRM per period), per-variant statistics, the plan, the
        decision with its reason, secondary metrics, the Bayesian view (or, for a bandit,
        its allocation). Looking may complete an `auto_complete` experiment."""
        summary, plan = self._evaluate(name)
        self._promoter.dispatch(name, plan)
        return summary

    def evaluate(self, name: str) -> dict[str, Any] | None:
        """Decide now (and act on an `auto_complete` experiment); the primary decision as
        JSON (None for a bandit)."""
        decision: dict[str, Any] | None = self.get_experiment_summary(name)["decision"]
        return decision

    async def aevaluate(self, name: str) -> dict[str, Any] | None:
        """`evaluate` for async code: the store is read off the event loop and a label
        move is awaited here."""
        self._promoter.remember_loop()
        summary, plan = await asyncio.to_thread(self._evaluate, name)
        if plan is not None:
            await self._promoter.run(name, plan)
        decision: dict[str, Any] | None = summary["decision"]
        return decision

    async def apromote(self, name: str) -> dict[str, Any] | None:
        """Retry the label move of a completed prompt experiment; its promotion record."""
        state = await asyncio.to_thread(self.get_experiment, name)
        if pending(state.promotion):
            await self._promoter.run(name, state.promotion or {})
            state = await asyncio.to_thread(self.get_experiment, name)
        return None if state.promotion is None else dict(state.promotion)

    async def summary_from_store(self, name: str, events: EventStore) -> dict[str, Any]:
        """A summary computed from the event store's records tagged with `name` instead
        of the tester's own totals (exposures are not in the records, so they read 0)."""
        from ml_ops.ab_testing.replay import summary_from_records

        state = await asyncio.to_thread(self.get_experiment, name)
        return await summary_from_records(state, events)

    # --- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Flush, stop the background thread and close a store this tester opened."""
        self._finalizer()

    async def aclose(self) -> None:
        """Wait for label moves in progress, then `close` off the event loop."""
        await self._promoter.drain()
        await asyncio.to_thread(self.close)

    def __enter__(self) -> ABTester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ABTester:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the parts ------------------------------------------------------------------------

    def _tracked(self, name: str) -> ExperimentState | None:
        state = self._cache.get(name)
        if state is None:
            raise not_found(name, self._cache.names())
        if state.status is S.DRAFT:
            raise ExperimentStateError(
                f"experiment {name!r} is a draft: start it before tracking results"
            )
        if state.status not in ACTIVE:
            logger.debug("result for %s experiment %r ignored", state.status.value, name)
            return None
        return state

    def _add(self, state: ExperimentState, variant: str, period: int, delta: VariantTotals) -> None:
        self._writer.add((state.name, variant, period), delta)

    def _move(self, name: str, to: ExperimentStatus, reason: str) -> ExperimentState:
        now = self._clock.now()
        return self._update(name, lambda stored: transition(stored, to, now, reason=reason))

    def _update(
        self, name: str, change: Callable[[ExperimentState], ExperimentState]
    ) -> ExperimentState:
        self._writer.flush()  # results so far belong to the periods they were counted in
        state = self.store.update(name, change)
        self._cache.put(state)
        return state

    def _evaluate(self, name: str) -> tuple[dict[str, Any], Plan | None]:
        """Summarise `name` from the store and act on its decision."""
        self._writer.flush()
        state = self.store.load(name)
        if state is None:
            raise not_found(name, [s.name for s in self.store.load_all()])
        totals = self.store.totals(name)
        summary = summarise(state, totals)
        acted, plan = self._act(state, summary)
        if acted is not state:
            summary = summarise(acted, totals)
        self._cache.put(acted)
        self._evaluated_at[name] = self._clock.monotonic()
        return summary, plan

    def _act(
        self, state: ExperimentState, summary: Mapping[str, Any]
    ) -> tuple[ExperimentState, Plan | None]:
        """Store what the decision changes (`ml_ops.ab_testing.acting`); the state and
        the label move to make, if any."""
        change = decision_change(
            state, summary.get("decision"), self._clock.now(), self._templates.get(state.name)
        )
        if change is None:
            return state, None
        acted = self.store.update(state.name, change)
        completed_now = state.status is not S.COMPLETED and acted.status is S.COMPLETED
        plan = dict(acted.promotion or {}) if completed_now and pending(acted.promotion) else None
        return acted, plan

    def _after_flush(self, names: set[str]) -> None:
        """Background thread: look for the winner of `auto_complete` experiments."""
        for name in sorted(names):
            state = self._cache.get(name)
            if state is None or state.status is not S.RUNNING or not state.experiment.auto_complete:
                continue
            last = self._evaluated_at.get(name)
            if last is not None and self._clock.monotonic() - last < self._evaluation_interval:
                continue
            _, plan = self._evaluate(name)
            self._promoter.dispatch(name, plan)

    def _record_promotion(self, name: str, outcome: dict[str, Any]) -> None:
        self._update(name, lambda stored: replace(stored, promotion=outcome))


def _call_weak(hook: weakref.WeakMethod[Callable[[set[str]], None]], names: set[str]) -> None:
    method = hook()
    if method is not None:
        method(names)


def _shutdown(writer: ResultWriter, store: ExperimentStore | None) -> None:
    try:
        writer.close()
    finally:
        if store is not None:
            store.close()
