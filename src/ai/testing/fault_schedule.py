"""Fault rules with a rate or a time window: upstreams that fail now and then, or go down.

`FaultRule` fires on a count (`times=`, `every=`). Realistic upstreams fail differently:

* at a **rate** — a given share of requests gets a 429 or a 503, at random but
  reproducibly: `rate=0.01, seed=7` draws each matching request from a seeded RNG;
* for a **stretch of time** — a model is down between two moments: `after=30, until=45`
  (seconds after the rule was added) matches only requests that arrive in that window;
  with `times=N` instead the outage lasts N requests.

    fake.faults.add_rule(ScheduledFaultRule(Fault.rate_limit(1), rate=0.01, seed=7))
    fake.faults.add_rule(
        ScheduledFaultRule(Fault.server_error(503), model="gpt-4o", after=30, until=45)
    )

Over HTTP the same keys go into `POST /_fake/faults`: `{"kind": "server_error", "status":
503, "model": "gpt-4o", "times": null, "after": 30, "until": 45}` or `{"kind":
"rate_limit", "retry_after": 1, "times": null, "rate": 0.01, "seed": 7}`.

A request the rule does not draw (outside the window, or not picked at the rate) does not
count for the rule at all, so `every=` and `times=` count only the requests it matched.
As with every rule, when two rules come due on one request the first added fires.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ai.testing.catalogue import Api
from ai.testing.faults import FaultRule, fault_rule_from_json

_SCHEDULE_KEYS = ("rate", "seed", "after", "until")


@dataclass(slots=True)
class ScheduledFaultRule(FaultRule):
    """A `FaultRule` that matches only a `rate` share of its requests (seeded by `seed`)
    and only between `after` and `until` seconds (None: no end) after it was created."""

    rate: float | None = None
    seed: int | None = None
    after: float = 0.0
    until: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    _created: float = field(default=0.0, repr=False, compare=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        FaultRule.__post_init__(self)
        if self.rate is not None and not (math.isfinite(self.rate) and 0 < self.rate <= 1):
            raise ValueError(f"rate must be in (0, 1], got {self.rate}")
        if not (math.isfinite(self.after) and self.after >= 0):
            raise ValueError(f"after must be >= 0 seconds, got {self.after}")
        if self.until is not None and not (math.isfinite(self.until) and self.until > self.after):
            raise ValueError(f"until must be after 'after' ({self.after}), got {self.until}")
        self._created = self.clock()
        self._rng = random.Random(self.seed)

    def matches(self, api: Api, model: str | None, *, stream: bool = False) -> bool:
        """Whether the request counts: the base rule's match, inside the window, drawn at
        the rate (the RNG is drawn only for requests that got that far, under the fault
        book's lock, so a seed gives the same draws for the same request sequence)."""
        if not FaultRule.matches(self, api, model, stream=stream):
            return False
        elapsed = self.clock() - self._created
        if elapsed < self.after or (self.until is not None and elapsed >= self.until):
            return False
        return self.rate is None or self._rng.random() < self.rate

    def active(self) -> bool:
        """Whether the window is open now (a rate still applies on top)."""
        elapsed = self.clock() - self._created
        return self.after <= elapsed and (self.until is None or elapsed < self.until)

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_fake/faults`, with the schedule."""
        return {
            **FaultRule.describe(self),
            "rate": self.rate,
            "seed": self.seed,
            "after": self.after,
            "until": self.until,
            "active": self.active(),
        }


def scheduled_rule_from_json(data: object) -> FaultRule:
    """Parse the body of `POST /_fake/faults`: a plain `FaultRule` (see
    `fault_rule_from_json`), or a `ScheduledFaultRule` when it has `rate`, `seed`, `after`
    or `until`. Raises ValueError naming what is wrong."""
    if not isinstance(data, Mapping) or not any(key in data for key in _SCHEDULE_KEYS):
        return fault_rule_from_json(data)
    base = fault_rule_from_json({k: v for k, v in data.items() if k not in _SCHEDULE_KEYS})
    schedule = _schedule_params(data)
    return ScheduledFaultRule(
        base.fault,
        times=base.times,
        model=base.model,
        api=base.api,
        every=base.every,
        **schedule,
    )


def _schedule_params(data: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("rate", "after", "until"):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"'{name}' must be a number")
        params[name] = float(value)
    seed = data.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("'seed' must be an integer")
        params["seed"] = seed
    return params
