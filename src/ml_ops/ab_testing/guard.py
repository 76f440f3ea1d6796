"""`ExperimentGuard`: model and parameter experiments routed with no caller code.

    ab_tester = ABTester()
    llm = LLMService(config, guards=[ab_tester.guard()], bus=bus)
    ab_tester.attach(bus)          # optional: the guard counts what it routed anyway

Before each chat call the guard asks the tester which variant the call's `user` gets
(sticky; a random unit when the call has no user), rewrites the model and parameters with
`call.replace(...)` and tags the call with the experiment and variant
(`ai.core.records.TagKey`), so its record is counted for that variant. After the call it
hands the record to the tester (`observe`, which counts a request id once, so attaching
the tester to the bus as well does not count twice).

One experiment per call: a call already tagged with an experiment (a rendered template
under a prompt experiment) is left alone, and otherwise the first experiment in
`experiments` (default: every running experiment whose variants set a model or
parameters, by name) that routes the call wins. A completed experiment keeps sending its
calls to the winner, untagged; a paused, stopped or draft one leaves them as they are.
Embedding calls pass untouched. The guard reads the store only when its cached state is
stale, and then off the event loop; if the store cannot be read the call goes ahead
unchanged (logged), since an experiment must never break a call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import Operation, RequestRecord, TagKey
from ml_ops.ab_testing.variant import Variant

if TYPE_CHECKING:
    from ml_ops.ab_testing.tester import ABTester

logger = logging.getLogger(__name__)


class ExperimentGuard(PassThroughGuard):
    """A `CallGuard` that routes calls to experiment variants (see the module docstring)."""

    name = "experiments"

    def __init__(self, tester: ABTester, experiments: Sequence[str] = ()) -> None:
        self.tester = tester
        self.experiments = tuple(experiments)

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        if call.operation is not Operation.CHAT or TagKey.EXPERIMENT.value in call.tags:
            return None
        try:
            return await self._route(call)
        except Exception:  # an experiment must never break a call: serve it unchanged
            logger.warning("experiments could not route call %s", call.request_id, exc_info=True)
            return None

    async def _route(self, call: PlannedCall) -> PlannedCall | None:
        tester = self.tester
        tester.remember_loop()
        names = self.experiments
        if not names:
            if tester.names_need_refresh():
                await asyncio.to_thread(tester.call_experiments)
            names = tuple(tester.call_experiments())
        for name in names:
            if tester.needs_refresh(name):
                await asyncio.to_thread(tester.refresh, name)
            routed = tester.route_call(name, call.user)
            if routed is not None:
                return rewrite(call, routed.variant, name if routed.counted else None)
        return None

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        if TagKey.EXPERIMENT.value in record.tags:
            self.tester.observe(record)


def rewrite(call: PlannedCall, variant: Variant, experiment: str | None) -> PlannedCall:
    """`call` with the variant's model and parameters, tagged with `experiment` and the
    variant when given (a completed experiment's winner is applied untagged)."""
    tags = dict(call.tags)
    if experiment is not None:
        tags[TagKey.EXPERIMENT.value] = experiment
        tags[TagKey.VARIANT.value] = variant.name
    return call.replace(
        model=variant.model or call.model,
        parameters={**call.parameters, **variant.parameters},
        tags=tags,
    )
