"""The traffic: four kinds of users calling the gateway at once, on the tour's time line.

    chat        ana, ben and fay (teams search and mobile), open loop all along: popular
                questions on `fast` (the cache answers repeats), short questions and long
                pastes on `auto` (the router sends the short ones to the cheap model),
                one-off questions on `smart` (gpt-4o: the outage hits these); 40% streamed
    experiment  chen (support): a ticket reply rendered by the experiment's template
                version for the ticket's customer, its call tags in `metadata`
    rag         gil (docs): retrieve from the docs index, render the `rag_answer` template,
                ask on `fast`, streamed
    research    dev (research), closed loop, two at a time: 60-token notes on `smart`
                until the team's budget has downgraded a few of them to the cheaper
                model (a closed loop goes as fast as the answers come: it stops on what
                happened, not on the clock, so a slow machine still tells the story)

Open-loop streams send each call at its scheduled moment whatever happened to the ones
before, as independent users do; arrival times are uniform draws from the tour's seed.
The number of calls is fixed for tours up to a minute (a shorter tour sends them faster,
with down to half the chat calls) and grows with longer ones.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence

from ai.prompts import TemplateManager
from ml_ops.demo.cast import (
    CHAT_USERS,
    DOC_QUESTIONS,
    DOCS_GIL,
    PASTE_PROMPTS,
    POPULAR_QUESTIONS,
    RESEARCH_DEV,
    RESEARCH_TOPICS,
    SHORT_QUESTIONS,
    SUPPORT_CHEN,
    TICKET_ISSUES,
)
from ml_ops.demo.client import CallResult, GatewayClients
from ml_ops.demo.docs_index import DocsIndex
from ml_ops.demo.events import EventKind, EventLog
from ml_ops.demo.experiment import Decision, SupportExperiment
from ml_ops.demo.models import AUTO, FAST, SMART
from ml_ops.demo.profile import RESEARCH_MARK
from ml_ops.demo.settings import TIMELINE, Span, TourSettings

CHAT_CALLS = 230
EXPERIMENT_CALLS = 70
RAG_CALLS = 20
RESEARCH_WORKERS = 2
RESEARCH_MAX_TOKENS = 70
RESEARCH_AFTER_DOWNGRADE = 6
DECIDE_EVERY = 6
MAX_IN_FLIGHT = 64
_CUSTOMERS = 300


class Workload:
    """Runs the four streams (see the module docstring) and keeps what users saw."""

    def __init__(
        self,
        settings: TourSettings,
        clients: GatewayClients,
        experiment: SupportExperiment,
        prompts: TemplateManager,
        docs: DocsIndex | None,
        pastes: Sequence[str],
        events: EventLog,
        downgrades: Callable[[], int] = lambda: 0,
    ) -> None:
        self.settings = settings
        self.results: list[CallResult] = []
        self.in_flight = 0
        self.decision: Decision | None = None
        self._clients = clients
        self._experiment = experiment
        self._prompts = prompts
        self._docs = docs
        self._pastes = list(pastes) or ["(no docs were found to paste)"]
        self._events = events
        self._downgrades = downgrades
        self._rng = random.Random(settings.seed)
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._deciding = asyncio.Lock()
        self._decisions: set[asyncio.Task[None]] = set()
        self._ticket = 1000
        self._replies = 0

    def _count(self, calls: int, *, thinned: bool = False) -> int:
        """`calls` for a one-minute tour, more for a longer one; a `thinned` stream sends
        down to half as many in a compressed tour, so its rate stays within what one
        process on a busy machine can drive (the official SDK parses every streamed
        chunk into a model, and that parsing is most of the tour's CPU)."""
        settings = self.settings
        factor = max(1.0, settings.stretch) if not thinned else max(0.5, settings.stretch)
        return round(calls * factor)

    def _times(self, calls: int, span: Span, *, thinned: bool = False) -> list[float]:
        start, end = self.settings.at(span.start), self.settings.at(span.end)
        count = self._count(calls, thinned=thinned)
        return sorted(self._rng.uniform(start, end) for _ in range(count))

    async def run(self) -> None:
        """All streams, until the last call has returned."""
        streams = [
            self._open_loop(self._times(CHAT_CALLS, Span(0.0, 0.98), thinned=True), self._chat),
            self._open_loop(self._times(EXPERIMENT_CALLS, TIMELINE.experiment), self._support),
            *(self._research(index) for index in range(RESEARCH_WORKERS)),
        ]
        if self._docs is not None:
            streams.append(self._open_loop(self._times(RAG_CALLS, TIMELINE.rag), self._rag))
        await asyncio.gather(*streams)

    async def _open_loop(
        self, times: Sequence[float], make: Callable[[float], Awaitable[CallResult]]
    ) -> None:
        tasks = []
        for at in times:
            delay = at - self._events.elapsed()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._tracked(make(at))))
        await asyncio.gather(*tasks)

    async def _tracked(self, call: Awaitable[CallResult]) -> None:
        async with self._gate:
            self.in_flight += 1
            try:
                self.results.append(await call)
            finally:
                self.in_flight -= 1

    # --- the streams ---------------------------------------------------------------------

    async def _chat(self, at: float) -> CallResult:
        rng = self._rng
        member = rng.choice(CHAT_USERS)
        streamed = rng.random() < 0.4
        kind = rng.random()
        if kind < 0.35:  # popular: the first few are asked most (a Zipf-like draw)
            index = min(int(len(POPULAR_QUESTIONS) * rng.random() ** 2), len(POPULAR_QUESTIONS) - 1)
            alias, text = FAST, POPULAR_QUESTIONS[index]
        elif kind < 0.60:
            alias, text = AUTO, rng.choice(SHORT_QUESTIONS)
        elif kind < 0.75:
            alias = AUTO
            text = rng.choice(PASTE_PROMPTS).format(text=rng.choice(self._pastes))
        else:  # one-off questions for the capable model: never cached
            alias = SMART
            asked = rng.choice(SHORT_QUESTIONS)
            text = f"{asked} Explain your reasoning ({member.user}, #{at:.3f})."
        messages = [{"role": "user", "content": text}]
        return await self._clients.ask(
            "chat", member.user, alias, messages, at=at, streamed=streamed
        )

    async def _support(self, at: float) -> CallResult:
        self._ticket += 1
        customer = f"cust-{self._rng.randrange(_CUSTOMERS):03d}"
        issue = self._rng.choice(TICKET_ISSUES)
        rendered = await self._experiment.render(customer, self._ticket, issue)
        result = await self._clients.ask(
            "experiment",
            SUPPORT_CHEN.user,
            FAST,
            rendered.as_messages(),
            at=at,
            metadata=rendered.call_tags(),
        )
        self._ticket_done()
        return result

    def _ticket_done(self) -> None:
        self._replies += 1
        if self._replies % DECIDE_EVERY == 0 and not self._deciding.locked():
            task = asyncio.create_task(self._decide())
            self._decisions.add(task)
            task.add_done_callback(self._decisions.discard)

    async def _decide(self) -> None:
        async with self._deciding:
            if self.decision is not None and self.decision.winner is not None:
                return
            decision = await self._experiment.decide()
            self.decision = decision
            if decision.winner is not None:
                self._events.add(
                    EventKind.EXPERIMENT, f"experiment decided: {decision.winner} wins"
                )

    async def settle_experiment(self) -> Decision:
        """The experiment's standing at the end of traffic (deciding once more)."""
        await asyncio.gather(*self._decisions)
        if self.decision is None or self.decision.winner is None:
            await self._decide()
        assert self.decision is not None
        return self.decision

    async def _rag(self, at: float) -> CallResult:
        assert self._docs is not None
        question = self._rng.choice(DOC_QUESTIONS)
        context = await self._docs.context(question)
        rendered = await self._prompts.render("rag_answer", question=question, context=context)
        return await self._clients.ask(
            "rag",
            DOCS_GIL.user,
            FAST,
            rendered.as_messages(),
            at=at,
            streamed=True,
            metadata=rendered.call_tags(),
        )

    async def _research(self, worker: int) -> None:
        span = TIMELINE.research
        start, end = self.settings.at(span.start), self.settings.at(span.end)
        await asyncio.sleep(max(0.0, start - self._events.elapsed()))
        note = worker
        while self._events.elapsed() < end and self._downgrades() < RESEARCH_AFTER_DOWNGRADE:
            topic = RESEARCH_TOPICS[note % len(RESEARCH_TOPICS)]
            messages = [
                {
                    "role": "system",
                    "content": f"{RESEARCH_MARK} for the platform team. Write a 50-word "
                    "note on the topic, with one recommendation.",
                },
                {"role": "user", "content": f"Note {note}: {topic}."},
            ]
            call = self._clients.ask(
                "research",
                RESEARCH_DEV.user,
                SMART,
                messages,
                at=self._events.elapsed(),
                max_tokens=RESEARCH_MAX_TOKENS,
            )
            await self._tracked(call)
            note += RESEARCH_WORKERS


__all__ = ["Workload"]
