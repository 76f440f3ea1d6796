"""Threshold alerts: rules over the stats of a window, and the fire / resolve state machine.

A rule watches one metric of one window (`error_rate` over `5m`, `latency_ms.p95` over
`5m`, `cost_per_hour` over `1h`...), optionally restricted to one model, provider,
operation, agent or user (`scope`). Each evaluation judges every rule:

- no data (the metric is undefined, e.g. a rate over no requests): a firing alert resolves;
- no requests at all and a count metric (requests, cost) no longer breaching: a firing
  alert resolves (otherwise a rule on a count would fire forever once traffic stops);
- fewer requests than `min_samples`: nothing changes (no firing, no resolving);
- the condition holds and no alert of the rule is firing: a new alert fires, unless the
  rule fired less than `cooldown` seconds ago; then it waits for the cool-down to end and
  fires on the first evaluation after it, if the condition still holds;
- the condition holds and an alert is firing: it stays firing (no new notification);
- the condition no longer holds: the firing alert resolves.

Times are the monitor's injected clock, so all of this is tested without sleeping.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ai.errors import ConfigurationError
from ml_ops.monitoring.stats import ALERT_METRICS, SCOPES
from ml_ops.store.base import AlertRecord, AlertStatus


class Comparison(StrEnum):
    """How a metric is compared with a rule's threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    def holds(self, value: float, threshold: float) -> bool:
        """Whether `value <op> threshold`."""
        if self is Comparison.GT:
            return value > threshold
        if self is Comparison.GE:
            return value >= threshold
        if self is Comparison.LT:
            return value < threshold
        return value <= threshold


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Fire when `metric <op> threshold` over `window` (see the module docstring).

    `metric` is a path into a stats group summary, one of `ALERT_METRICS`; rates are
    fractions (0.05 is 5%), latencies milliseconds, costs the pricing currency (USD).
    `scope` restricts the rule to one group, e.g. `{"model": "gpt-4o"}`; `labels` are
    copied onto every alert (with the scope and the window).
    """

    name: str
    metric: str
    op: Comparison | str
    threshold: float
    window: str = "5m"
    severity: Severity | str = Severity.WARNING
    min_samples: int = 1
    cooldown: float = 300.0
    labels: Mapping[str, str] = field(default_factory=dict)
    scope: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("an alert rule needs a name")
        if self.metric not in ALERT_METRICS:
            raise ConfigurationError(
                f"alert rule {self.name!r}: unknown metric {self.metric!r}; choose one of "
                f"{sorted(ALERT_METRICS)}"
            )
        try:
            object.__setattr__(self, "op", Comparison(self.op))
            object.__setattr__(self, "severity", Severity(self.severity))
        except ValueError as error:
            raise ConfigurationError(f"alert rule {self.name!r}: {error}") from None
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ConfigurationError(
                f"alert rule {self.name!r}: threshold must be a number, got {threshold!r}"
            )
        if not math.isfinite(threshold):
            raise ConfigurationError(
                f"alert rule {self.name!r}: threshold must be finite, got {threshold}"
            )
        if self.min_samples < 1 or not 0 <= self.cooldown < math.inf:
            raise ConfigurationError(
                f"alert rule {self.name!r}: min_samples must be >= 1 and cooldown a finite "
                "number >= 0"
            )
        if len(self.scope) > 1 or any(key not in SCOPES for key in self.scope):
            raise ConfigurationError(
                f"alert rule {self.name!r}: scope takes at most one of {list(SCOPES)}, "
                f"got {dict(self.scope)}"
            )

    @property
    def comparison(self) -> Comparison:
        return Comparison(self.op)

    def describe(self) -> str:
        """`error_rate > 0.05 over 5m (model=gpt-4o)`."""
        scope = "".join(f" ({key}={value})" for key, value in self.scope.items())
        return f"{self.metric} {self.op} {self.threshold:g} over {self.window}{scope}"


@dataclass(slots=True)
class _RuleState:
    active: AlertRecord | None = None
    last_fired: datetime | None = None


class AlertBook:
    """The alert state of every rule, and a bounded history of past alerts."""

    def __init__(self, history_limit: int = 1000) -> None:
        self._rules: dict[str, AlertRule] = {}
        self._states: dict[str, _RuleState] = {}
        self._history: OrderedDict[str, AlertRecord] = OrderedDict()
        self._history_limit = history_limit

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return tuple(self._rules.values())

    @property
    def has_rules(self) -> bool:
        """Whether any rule is judged (read for every record: cheaper than `rules`)."""
        return bool(self._rules)

    def add_rule(self, rule: AlertRule) -> None:
        """Start judging `rule` (names are unique)."""
        if rule.name in self._rules:
            raise ConfigurationError(f"an alert rule named {rule.name!r} exists already")
        self._rules[rule.name] = rule
        self._states[rule.name] = _RuleState()

    def judge(
        self, rule: AlertRule, value: float | None, samples: int, now: datetime
    ) -> AlertRecord | None:
        """Apply one evaluation of `rule`; returns the alert that fired or resolved, if any."""
        state = self._states[rule.name]
        if value is None:
            return self._resolve(state, now, "no data") if state.active else None
        breached = rule.comparison.holds(value, rule.threshold)
        if samples < rule.min_samples:
            if samples == 0 and state.active is not None and not breached:
                # a count (requests, cost) over an empty window is 0, not undefined: its
                # traffic has stopped, which is no data to keep an alert firing on
                return self._resolve(state, now, f"no requests; {rule.metric} is {value:.6g}")
            return None
        if state.active is not None:
            if breached:
                return None
            return self._resolve(state, now, f"{rule.metric} is {value:.6g}")
        if not breached:
            return None
        since_last = None if state.last_fired is None else now - state.last_fired
        if since_last is not None and since_last.total_seconds() < rule.cooldown:
            return None  # cooling down: fire on the first evaluation after it
        return self._fire(rule, state, value, samples, now)

    def _fire(
        self, rule: AlertRule, state: _RuleState, value: float, samples: int, now: datetime
    ) -> AlertRecord:
        alert = AlertRecord(
            alert_id=uuid.uuid4().hex,
            rule=rule.name,
            severity=str(rule.severity),
            status=AlertStatus.FIRING,
            message=f"{rule.name}: {rule.describe()} is {value:.6g} ({samples} requests)",
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            fired_at=now,
            labels={**rule.labels, **rule.scope, "window": rule.window},
        )
        state.active = alert
        state.last_fired = now
        self.remember(alert)
        return alert

    def _resolve(self, state: _RuleState, now: datetime, why: str) -> AlertRecord:
        """Resolve the firing alert; it keeps the value it fired with."""
        assert state.active is not None
        alert = dataclasses.replace(
            state.active,
            status=AlertStatus.RESOLVED,
            resolved_at=now,
            message=f"{state.active.rule}: resolved, {why}",
        )
        state.active = None
        self.remember(alert)
        return alert

    def remember(self, alert: AlertRecord) -> None:
        """Keep the latest state of `alert` in the bounded history."""
        self._history[alert.alert_id] = alert
        self._history.move_to_end(alert.alert_id)
        while len(self._history) > self._history_limit:
            self._history.popitem(last=False)

    def active(self) -> list[AlertRecord]:
        """Firing alerts, newest first."""
        firing = [s.active for s in self._states.values() if s.active is not None]
        return sorted(firing, key=lambda a: a.fired_at, reverse=True)

    def history(self) -> list[AlertRecord]:
        """Alerts this process fired or acknowledged, newest first."""
        return sorted(self._history.values(), key=lambda a: a.fired_at, reverse=True)

    def find(self, alert_id: str) -> AlertRecord | None:
        return self._history.get(alert_id)

    def acknowledge(self, alert: AlertRecord, now: datetime) -> AlertRecord:
        """Mark `alert` acknowledged (it keeps firing until its condition clears)."""
        acknowledged = dataclasses.replace(alert, acknowledged_at=now)
        for state in self._states.values():
            if state.active is not None and state.active.alert_id == alert.alert_id:
                state.active = acknowledged
        self.remember(acknowledged)
        return acknowledged
