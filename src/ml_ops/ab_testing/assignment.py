"""Who gets which variant: the assignment half of `ABTester`.

`get_variant` for code that asks by hand, `assign` / `record` for a `TemplateManager`
(the `PromptExperiments` protocol), and `route_call` / `call_experiments` for the
`ExperimentGuard`. All of them read the cached state (`routing.StateCache`) and count an
exposure only while the experiment runs (see `routing.route` for the rule of each state).
"""

from __future__ import annotations

import logging
import random

from ai.prompts.experiments import Exposure
from ml_ops.ab_testing.errors import ExperimentStateError
from ml_ops.ab_testing.promotion import Promoter
from ml_ops.ab_testing.routing import Routed, StateCache, period_at, route
from ml_ops.ab_testing.state import ExperimentState, ExperimentStatus
from ml_ops.ab_testing.stores.base import not_found
from ml_ops.ab_testing.totals import VariantTotals
from ml_ops.ab_testing.totals import exposure as one_exposure
from ml_ops.ab_testing.variant import Variant

logger = logging.getLogger(__name__)
S = ExperimentStatus


class Assignment:
    """The assignment methods of `ABTester` (a mixin: the tester supplies the cache, the
    random source, the promoter and `_add`)."""

    _cache: StateCache
    _rng: random.Random
    _promoter: Promoter
    _templates: dict[str, str]

    def _add(self, state: ExperimentState, variant: str, period: int, delta: VariantTotals) -> None:
        raise NotImplementedError

    def needs_refresh(self, name: str) -> bool:
        """Whether routing `name` now would read the store (the guard then reads it off
        the event loop first)."""
        return self._cache.stale(name)

    def get_variant(self, experiment_name: str, unit_id: str | None = None) -> Variant:
        """The variant for `unit_id` (a user, a session: the same one always gets the same
        variant) or, without one, a random variant. Counted as an exposure while running;
        a paused or stopped experiment gives the control, a completed one its winner."""
        state, routed = self._route(experiment_name, unit_id)
        if routed is None:
            raise ExperimentStateError(
                f"experiment {experiment_name!r} is a draft: start it "
                f"(ab_tester.start_experiment({experiment_name!r})) before asking for variants"
            )
        if routed.counted:
            self._add(state, routed.variant.name, state.period.index, one_exposure())
        return routed.variant

    def route_call(self, experiment_name: str, unit_id: str | None) -> Routed | None:
        """For the guard: the variant a call gets (counted while running), the winner of a
        completed experiment (not counted), or None (draft, paused, stopped, unknown)."""
        found = self._route_if_known(experiment_name, unit_id)
        if found is None:
            return None
        state, routed = found
        if routed is None or state.status in (S.PAUSED, S.STOPPED):
            return None
        if routed.counted:
            self._add(state, routed.variant.name, state.period.index, one_exposure())
        return routed

    def call_experiments(self) -> list[str]:
        """Running or completed experiments whose variants set a model or parameters."""
        names = []
        for name in self._cache.names():
            state = self._cache.get(name)
            live = state is not None and state.status in (S.RUNNING, S.COMPLETED)
            if live and state is not None and state.experiment.routes_calls:
                names.append(name)
        return names

    def names_need_refresh(self) -> bool:
        """Whether listing the experiments now would read the store."""
        return self._cache.names_stale()

    def assign(self, experiment: str, *, subject: str | None) -> str | None:
        """`PromptExperiments.assign`: the template label or version (`v3`) of the
        subject's variant (its name when it names none), or None to serve `production`
        (unknown, draft, paused or stopped experiment; a store that cannot be read)."""
        try:
            found = self._route_if_known(experiment, subject)
        except Exception:
            logger.warning(
                "experiment %r could not be read; serving production", experiment, exc_info=True
            )
            return None
        if found is None or found[1] is None or found[0].status in (S.PAUSED, S.STOPPED):
            return None
        variant = found[1].variant
        return variant.template_ref or variant.name

    def record(self, exposure: Exposure) -> None:
        """`PromptExperiments.record`: count a render as an exposure of its variant (never
        raises)."""
        try:
            state = self._cache.get(exposure.experiment)
            if state is None or state.status is not S.RUNNING:
                return
            variant = state.experiment.resolve(exposure.variant)
            if variant is None:
                return
            self._templates[exposure.experiment] = exposure.template
            self._add(state, variant.name, period_at(state, exposure.at), one_exposure())
        except Exception:
            logger.exception("exposure of experiment %r was not counted", exposure.experiment)

    def _route(self, name: str, unit: str | None) -> tuple[ExperimentState, Routed | None]:
        """The state of `name` and the variant `unit` gets; `ExperimentNotFoundError`."""
        found = self._route_if_known(name, unit)
        if found is None:
            raise not_found(name, self._cache.names())
        return found

    def _route_if_known(
        self, name: str, unit: str | None
    ) -> tuple[ExperimentState, Routed | None] | None:
        state, buckets = self._cache.routing(name)
        if state is None or buckets is None:
            return None
        return state, route(state, buckets, unit, self._rng)

    def remember_loop(self) -> None:
        """Note the running event loop as the one to move template labels on (the guard
        and `attach` call this)."""
        self._promoter.remember_loop()
