"""Value objects for the writer: how long raw records stay, and how retries wait.

Both validate at construction, so a misspelt or impossible setting fails where it is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ai.errors import ConfigurationError
from ml_ops.store.rollup import HOUR


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep raw records `raw_days` days; older ones are rolled up into hourly buckets and
    deleted (`EventStore.apply_retention`). A `RecordWriter` applies it at most once every
    `every_seconds` on its clock (an hour by default); a scheduler may call
    `await store.apply_retention(keep_raw_until=policy.keep_raw_until(now))` instead."""

    raw_days: float = 30
    every_seconds: float = HOUR

    def __post_init__(self) -> None:
        for name in ("raw_days", "every_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ConfigurationError(
                    f"RetentionPolicy.{name} must be a finite number > 0, got {value!r}"
                )

    def keep_raw_until(self, now: datetime) -> datetime:
        """The cut-off: raw records older than this are rolled up and pruned."""
        return now - timedelta(days=self.raw_days)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Exponential backoff between failed writes: `initial` seconds after the first
    failure, times `multiplier` after each further one, never more than `maximum`."""

    initial: float = 0.5
    multiplier: float = 2.0
    maximum: float = 30.0

    def __post_init__(self) -> None:
        finite = all(
            not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
            for v in (self.initial, self.multiplier, self.maximum)
        )
        if not finite or self.initial <= 0 or self.multiplier < 1 or self.maximum < self.initial:
            raise ConfigurationError(
                "BackoffPolicy needs 0 < initial <= maximum and multiplier >= 1, got "
                f"initial={self.initial!r}, multiplier={self.multiplier!r}, "
                f"maximum={self.maximum!r}"
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (1 for the first)."""
        exponent = max(failures - 1, 0)
        if exponent > 1000:  # far past the cap; avoid float overflow
            return self.maximum
        return float(min(self.maximum, self.initial * self.multiplier**exponent))
