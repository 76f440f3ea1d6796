"""What the tour watches while traffic flows: every record, the circuit breakers, the
alerts, and the budget's downgrades, each turned into an event when it happens.

* **Records**: every `RequestRecord` of the runtime's bus (the gateway's calls and the
  embedding calls), kept for the summary.
* **Breakers**: each alias's `LLMService` breakers, polled; a change of state is an event.
* **Failover alert**: an `MLMonitor` of its own, with a window of a few seconds (the
  runtime's finest is a minute, longer than the whole compressed tour), and one rule:
  the (dearer) model `smart` fails over to is billing calls, `cost_per_request > 0`
  scoped to that model. A count would say the same, but a rule over a count never
  resolves once the traffic it counts stops (a window with no requests is below
  `min_samples`, so nothing is judged); a rate or a mean has no value then, and a firing
  alert resolves on "no data". It saves its alerts in the runtime's event store, so the
  dashboard lists them with the others.
* **Budget alerts**: the cost tracker sends them through the runtime monitor's handlers;
  one more handler turns them into events.
* **Downgrades**: the first record whose model the budget guard changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from ai.calls.circuit import CircuitState
from ai.core.records import RequestRecord
from ai.llm_service import LLMService
from ml_ops.demo.events import EventKind, EventLog
from ml_ops.demo.settings import TourSettings
from ml_ops.monitoring import AlertRule, MLMonitor, WindowSpec
from ml_ops.runtime import Runtime
from ml_ops.store import AlertRecord, AlertStatus

FAILOVER_RULE = "failover-active"
BUDGET_GUARD = "budget"
_POLL_S = 0.05


class TourWatch:
    """Collects records and reports breakers, alerts and downgrades (see module doc)."""

    def __init__(
        self,
        runtime: Runtime,
        services: Mapping[str, LLMService],
        events: EventLog,
        settings: TourSettings,
        failover_model: str | None,
    ) -> None:
        self.records: list[RequestRecord] = []
        self.breakers: list[tuple[float, str, str, CircuitState]] = []
        self.alerts_fired: list[str] = []
        self.alerts_resolved: list[str] = []
        self.downgrades = 0
        self.cost = 0.0
        self._runtime = runtime
        self._services = dict(services)
        self._events = events
        self._states = {key: CircuitState.CLOSED for key in self._breaker_keys()}
        # Slots are whole seconds aligned to the clock, so a window of n slots covers n-1
        # to n seconds: long enough to bridge the gaps between fallback answers.
        seconds = self.window_seconds = max(4, round(8 * settings.pace))
        window = f"{seconds}s"
        self.monitor = MLMonitor(
            runtime.store,
            windows=[WindowSpec(window, slot_seconds=1, slots=seconds)],
            evaluation_interval=0.1,
            handlers=[self._alert_changed],
        )
        if failover_model is not None:
            self.monitor.add_rule(
                AlertRule(
                    FAILOVER_RULE,
                    "cost_per_request",
                    ">",
                    0.0,
                    window,
                    min_samples=2,  # one slow fallback answer landing late is not a failover
                    cooldown=0.0,
                    scope={"model": failover_model},
                    labels={"meaning": f"{failover_model} is answering for a failing model"},
                )
            )
        self._tasks: list[asyncio.Task[None]] = []
        self._detach = runtime.bus.subscribe(self._record)
        self.monitor.attach(runtime.bus)
        runtime.monitor.add_handler(self._alert_changed)

    def _breaker_keys(self) -> list[tuple[str, str]]:
        return [(alias, r.model) for alias, s in self._services.items() for r in s.routes]

    def start(self) -> None:
        """Start polling the breakers and judging the failover rule."""
        self._tasks = [
            asyncio.create_task(self._poll_breakers()),
            asyncio.create_task(self.monitor.follow(0.2, read_store=False)),
        ]

    def _record(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.cost += record.estimated_cost or 0.0
        for decision in record.guard_decisions:
            change = decision.changes.get("model")
            if decision.guard == BUDGET_GUARD and change is not None:
                self.downgrades += 1
                if self.downgrades == 1:
                    moved = f"{record.user}'s calls: {change[0]} -> {change[1]}"
                    self._events.add(EventKind.DOWNGRADE, f"budget guard downgrades {moved}")

    async def _poll_breakers(self) -> None:
        while True:
            for alias, model in self._states:
                state = self._services[alias].circuit_state(model)
                if state is not self._states[alias, model]:
                    self._states[alias, model] = state
                    self.breakers.append((self._events.elapsed(), alias, model, state))
                    self._events.add(
                        EventKind.BREAKER, f"circuit breaker of {model} ({alias}): {state}"
                    )
            await asyncio.sleep(_POLL_S)

    def _alert_changed(self, alert: AlertRecord) -> None:
        firing = alert.status is AlertStatus.FIRING
        (self.alerts_fired if firing else self.alerts_resolved).append(alert.rule)
        kind = EventKind.BUDGET if alert.metric == "budget_spend" else EventKind.ALERT
        verb = "fired" if firing else "resolved"
        self._events.add(kind, f"alert {verb}: {alert.message}")

    async def settle(self) -> None:
        """Wait (at most the window and two seconds) for a firing failover alert to
        resolve, judging the rule as the window empties."""
        deadline = asyncio.get_running_loop().time() + self.window_seconds + 2
        while self.monitor.active_alerts() and asyncio.get_running_loop().time() < deadline:
            await self.monitor.evaluate()
            await asyncio.sleep(0.2)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._detach()
        await self.monitor.aclose()


__all__ = ["FAILOVER_RULE", "TourWatch"]
