"""`Tour`: set everything up, run the traffic, sum it up, keep serving.

    async with Tour(TourSettings(duration=60)) as tour:      # upstream, runtime, server,
        summary = await tour.run(on_tick=...)                # keys, docs index, experiment
        print(tour.dashboard_url, tour.admin_key)            # still serving here

Set-up, in order: a state folder (SQLite event, experiment and key stores, the gateway's
`devora.yaml`, logs); the upstream (the loopback fakes, or real providers when a key is
set); the runtime (`ml_ops.runtime`, with the research team's downgrading budget); the
gateway and the dashboard on one port; a virtual key per member of the cast, through the
admin API; the prompt experiment; the docs index. `run` posts the fault schedule, runs
the workload, waits for the experiment's decision and the failover alert to settle, and
returns the `TourSummary`. Everything closes in reverse order.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from ai.core.guards import CallGuard
from ml_ops.cost_tracker import Budget
from ml_ops.demo.accounts import create_keys
from ml_ops.demo.cast import CAST
from ml_ops.demo.client import GatewayClients
from ml_ops.demo.docs_index import DocsIndex, excerpt, find_docs
from ml_ops.demo.events import EventLog
from ml_ops.demo.experiment import EXPERIMENT, TEMPLATE, SupportExperiment
from ml_ops.demo.gateway_config import write_gateway_config
from ml_ops.demo.prompt_tags import PromptTagsFromMetadata
from ml_ops.demo.server import DemoServer, bind
from ml_ops.demo.settings import TIMELINE, TourSettings
from ml_ops.demo.summary import BudgetOutcome, TourSummary, summarise
from ml_ops.demo.upstream import Upstream, open_upstream
from ml_ops.demo.watch import TourWatch
from ml_ops.demo.workload import Workload
from ml_ops.runtime import Runtime, RuntimeSettings
from ml_ops.web import AdminKey

RESEARCH_BUDGET = Budget(
    "research-daily",
    0.008,
    "daily",
    tag="team=research",
    action="downgrade",
    downgrade_from=0.95,
)
"""The research team's day: alerts at 80% and 100%, calls downgraded from 95% (with the
calls in flight reserved at their worst case, so a little before 95% is spent)."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The progress bar's view of the run."""

    elapsed: float
    duration: float
    chapter: str
    calls: int
    errors: int
    in_flight: int
    cost: float


class Tour:
    """One tour (see the module docstring). `say` gets one line per set-up step.

    `environ` decides the upstream (provider keys) and the admin key
    (`DEVORA_ADMIN_KEY`, else a generated one: `admin_key_generated`). The runtime reads
    `REDIS_URL` from the process environment (`ml_ops.runtime`): unset it for the embedded
    defaults, as `devora demo` does. The state folder is made here, so its path is known before
    `start` (a temporary one is removed by `aclose`)."""

    def __init__(
        self,
        settings: TourSettings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.settings = settings or TourSettings()
        self._environ = dict(os.environ if environ is None else environ)
        self._say = say
        self.events = EventLog()
        self.notes: list[str] = []
        self._temporary = self.settings.state_dir is None
        self.state_dir = self.settings.state_dir or Path(tempfile.mkdtemp(prefix="devora-demo-"))
        self._closers: list[Callable[[], object]] = []
        self.docs: DocsIndex | None = None
        self.pastes: list[str] = []
        configured = self._environ.get("DEVORA_ADMIN_KEY")
        self.admin_key = configured or "dvr-admin-" + secrets.token_urlsafe(24)
        self.admin_key_generated = not configured

    # --- set-up --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Everything up to the first call (see the module docstring). The docs are
        indexed in the background meanwhile (loading the embedding model takes seconds)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._say(f"State: {self.state_dir} (SQLite; {self._fate()})")
        self.runtime = await Runtime.open(
            RuntimeSettings(
                store=self.state_dir / "events.db",
                experiments=self.state_dir / "experiments.db",
                budgets=(RESEARCH_BUDGET,),
                flush_interval=0.5,
            )
        )
        self._closers.append(self.runtime.aclose)
        indexing = self._index_docs()
        try:
            await self._serve()
            await self._cast()
        except BaseException:
            indexing.cancel()
            await asyncio.gather(indexing, return_exceptions=True)
            raise
        self.docs = await indexing
        if self.docs is not None:
            self._closers.append(self.docs.aclose)
            self.pastes = await asyncio.to_thread(_pastes, self.docs.folder)
            self._say(f"Indexed {self.docs.documents} pages ({self.docs.chunks} chunks)")

    def _fate(self) -> str:
        return "removed at exit" if self._temporary else "kept"

    def _index_docs(self) -> asyncio.Task[DocsIndex | None]:
        folder = find_docs(self.settings.docs)
        if folder is None:
            self.notes.append("no docs/*.md found: the RAG questions were left out")
        else:
            self._say(f"Indexing the openings of {folder}/*.md with the local embedding model")

        async def build() -> DocsIndex | None:
            return None if folder is None else await DocsIndex.build(folder, bus=self.runtime.bus)

        return asyncio.create_task(build())

    async def _serve(self) -> None:
        settings = self.settings
        self.upstream: Upstream = await open_upstream(settings, self.state_dir, self._environ)
        self._closers.append(self.upstream.aclose)
        self._say(f"Upstream: {self.upstream.description}")
        config_path, config = write_gateway_config(
            self.upstream.plan,
            self.upstream.providers,
            settings,
            self.state_dir,
            dict(self.upstream.environ),
        )
        sock, fell_back = bind(settings.host, settings.port)
        if fell_back:
            self.notes.append(f"port {settings.port} was busy: serving on a free port instead")
        self.server = DemoServer(
            self.runtime,
            config,
            admin_key=AdminKey.of(self.admin_key),
            guards=self._guards(),
            environ=self.upstream.environ,
            sock=sock,
        )
        await self.server.start()
        self._closers.append(self.server.aclose)
        self._say(f"Serving the gateway ({config_path}) and the dashboard at {self.base_url}")

    def _guards(self) -> list[CallGuard]:
        return [PromptTagsFromMetadata()]

    async def _cast(self) -> None:
        self.keys = await create_keys(self.base_url, self.admin_key, CAST)
        self._say(f"Created {len(self.keys)} virtual keys through POST /admin/keys")
        self.clients = GatewayClients(self.api_url, self.keys)
        self._closers.append(self.clients.aclose)
        self.experiment = await SupportExperiment.create(self.runtime.ab_tester)
        self._closers.append(self.experiment.aclose)
        self._say(f"Started the prompt experiment {EXPERIMENT!r} (two versions of {TEMPLATE!r})")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def dashboard_url(self) -> str:
        return self.server.base_url + "/"

    @property
    def api_url(self) -> str:
        return self.server.base_url + "/v1"

    # --- the run -------------------------------------------------------------------------

    async def run(self, on_tick: Callable[[Tick], None] | None = None) -> TourSummary:
        """Traffic for `settings.duration` seconds, then the summary (still serving)."""
        watch = TourWatch(
            self.runtime,
            self.server.services,
            self.events,
            self.settings,
            self.upstream.plan.failover_model,
        )
        self._closers.append(watch.aclose)
        workload = Workload(
            self.settings,
            self.clients,
            self.experiment,
            self.experiment.prompts,
            self.docs,
            self.pastes,
            self.events,
            downgrades=lambda: watch.downgrades,
        )
        self.events.restart()
        watch.start()
        await self.upstream.start_faults(self.settings)
        ticker = asyncio.create_task(self._tick(workload, watch, on_tick))
        try:
            await workload.run()
            decision = await workload.settle_experiment()
            await watch.settle()
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        await self.runtime.bus.flush()
        status = self.runtime.cost_tracker.get_budget_status(RESEARCH_BUDGET.name)
        return summarise(
            duration=self.settings.duration,
            upstream=self.upstream.description,
            results=workload.results,
            records=watch.records,
            teams=len({member.team for member in CAST}),
            faults=await self.upstream.faults_fired(),
            breaker_changes=_breaker_lines(watch),
            breaker_opened=any(state == "open" for *_, state in watch.breakers),
            alerts_fired=watch.alerts_fired,
            alerts_resolved=watch.alerts_resolved,
            experiment=decision,
            budget=BudgetOutcome(
                status.name,
                status.limit,
                status.spent,
                status.fraction_used,
                tuple(status.alerts_fired),
                watch.downgrades,
            ),
            rag=(self.docs.documents, self.docs.chunks) if self.docs else (0, 0),
            notes=self.notes,
        )

    async def _tick(
        self, workload: Workload, watch: TourWatch, on_tick: Callable[[Tick], None] | None
    ) -> None:
        while on_tick is not None:
            elapsed = self.events.elapsed()
            fraction = elapsed / self.settings.duration
            chapter = TIMELINE.chapter(fraction) if fraction < 1 else "last calls and alerts"
            on_tick(
                Tick(
                    elapsed,
                    self.settings.duration,
                    chapter,
                    len(workload.results),
                    sum(1 for result in workload.results if not result.ok),
                    workload.in_flight,
                    watch.cost,
                )
            )
            await asyncio.sleep(0.2)

    # --- shut-down -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close everything that was opened, last first; remove a temporary state folder."""
        while self._closers:
            closer = self._closers.pop()
            result = closer()
            if asyncio.iscoroutine(result):
                await result
        if self._temporary:
            await asyncio.to_thread(shutil.rmtree, self.state_dir, True)


def _pastes(folder: Path) -> list[str]:
    """The openings of the docs pages, pasted into the long `auto` prompts."""
    texts = [path.read_text("utf-8") for path in sorted(folder.glob("*.md"))]
    return [excerpt(text) for text in texts if len(text) > 400]


def _breaker_lines(watch: TourWatch) -> list[str]:
    """One line per breaker that moved: `gpt-4o (smart): open 27.9 s, closed 39.4 s`."""
    moves: dict[str, list[str]] = {}
    for at, alias, model, state in watch.breakers:
        moves.setdefault(f"{model} ({alias})", []).append(f"{state} {at:.1f} s")
    return [f"{name}: {', '.join(steps)}" for name, steps in moves.items()]


__all__ = ["RESEARCH_BUDGET", "Tick", "Tour"]
