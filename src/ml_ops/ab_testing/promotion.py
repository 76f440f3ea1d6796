"""When a prompt experiment ends with a winner, its template's `production` label follows.

A variant that names a template label or version (`Variant(label="staging")`,
`Variant(version=3)`) stands for one version of a template: the variant's `template`, else
the experiment's `template`, else the template whose renders were seen under the
experiment (`Exposure.template`). Completing the experiment with that variant as winner
points `production` at the version (a label is read as it is at that moment). The move is
recorded in the experiment's state (`promotion`: template, version, done, error), so a
failure is visible in the summary and can be retried with `ABTester.apromote`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ai.errors import DevoraError
from ai.prompts.template_manager import TemplateManager
from ai.prompts.versions import PRODUCTION
from ml_ops.ab_testing.experiment import Experiment

logger = logging.getLogger(__name__)

NO_MANAGER = (
    "no TemplateManager was given to the ABTester (ABTester(template_manager=...)); move "
    "the label by hand: devora prompts label <template> production <version>"
)


def promotion_plan(
    experiment: Experiment, winner: str, seen_template: str | None
) -> dict[str, Any] | None:
    """What to promote when `winner` wins, or None when it is not a template version."""
    variant = experiment.variant(winner)
    ref = variant.template_ref
    template = variant.template or experiment.template or seen_template
    if ref is None or template is None:
        return None
    return {
        "template": template,
        "label": PRODUCTION,
        "variant": winner,
        "from": ref,
        "version": variant.version,
        "done": False,
        "error": None,
    }


def pending(promotion: Mapping[str, Any] | None) -> bool:
    """Whether a promotion is planned and not done yet."""
    return promotion is not None and not promotion.get("done")


async def promote(manager: TemplateManager, plan: Mapping[str, Any]) -> dict[str, Any]:
    """Point the template's `production` label at the winner's version; the plan with
    `done` (or the `error` that stopped it)."""
    try:
        version = plan.get("version")
        if version is None:
            version = (await manager.get(plan["template"], label=plan["from"])).version
        await manager.set_label(plan["template"], PRODUCTION, int(version))
    except DevoraError as exc:
        return {**plan, "done": False, "error": str(exc)}
    return {**plan, "version": int(version), "done": True, "error": None}


class Promoter:
    """Runs label moves for a tester whose own methods are synchronous.

    From async code the move is awaited (`run`); from synchronous code (`dispatch`) it is
    started on the caller's running event loop, else on the loop the tester last saw
    (`remember_loop`: where the bus or guard runs, which is where a PostgreSQL template
    store's pool lives), else in a private loop in the calling thread. `record(name,
    outcome)` stores the outcome in the experiment's state (a blocking store call, run
    off the loop).
    """

    def __init__(
        self,
        manager: TemplateManager | None,
        record: Callable[[str, dict[str, Any]], object],
    ) -> None:
        self.manager = manager
        self._record = record
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def remember_loop(self) -> None:
        """Note the running event loop, if any, as the one to move labels on."""
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()

    def dispatch(self, name: str, plan: Mapping[str, Any] | None) -> None:
        """Start the move of `plan` from synchronous code (see the class docstring)."""
        if plan is None:
            return
        work = self.run(name, plan)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task = loop.create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        remembered = self._loop
        if remembered is not None and remembered.is_running() and not remembered.is_closed():
            asyncio.run_coroutine_threadsafe(work, remembered)
            return
        asyncio.run(work)

    async def run(self, name: str, plan: Mapping[str, Any]) -> None:
        """Move the label (or note why not) and record the outcome."""
        if self.manager is None:
            outcome = {**plan, "done": False, "error": NO_MANAGER}
        else:
            outcome = await promote(self.manager, plan)
            if outcome["error"]:
                logger.warning("experiment %r: label move failed: %s", name, outcome["error"])
        await asyncio.to_thread(self._record, name, outcome)

    async def drain(self) -> None:
        """Wait for the moves started on this loop."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
