"""Retry policy: which failures to retry, how long to wait, and the deadline over all tries.

Small value objects in the tenacity manner, so a policy is data that tests can inspect
and a fake clock can drive.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

from ai.errors import ConfigurationError, ProviderError


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """`initial * multiplier**(n-1)` seconds before retry n, capped, with downward jitter.

    Jitter draws the wait from `[d * (1 - jitter), d]` so that many clients failing at
    once do not retry in lock-step, while never waiting longer than the nominal delay.
    """

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.initial < 0 or self.multiplier < 1 or self.maximum < 0:
            raise ConfigurationError(
                "Backoff needs retry_delay >= 0, retry_multiplier >= 1 and max delay >= 0."
            )
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"jitter must be within [0, 1], got {self.jitter}.")

    def delay(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry `retry_number` (1-based)."""
        try:
            nominal = min(self.maximum, self.initial * self.multiplier ** (retry_number - 1))
        except OverflowError:
            nominal = self.maximum
        if self.jitter == 0:
            return nominal
        return nominal * (1 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries up to `max_retries` times, only for errors marked retryable.

    A provider's Retry-After wins over the backoff, capped at `retry_after_cap` so one
    bad header cannot park a request for an hour.
    """

    max_retries: int = 3
    backoff: ExponentialBackoff = field(default_factory=ExponentialBackoff)
    retry_after_cap: float = 60.0
    #: False: a model with a fallback after it hands a retryable failure to the fallback
    #: at once when its attempt before failed too (a streak says it is down, so waiting
    #: to retry it only adds latency); an isolated failure is retried as usual, and the
    #: chain's last model always is. True: every model is retried up to `max_retries`
    #: times before the next is tried.
    retry_before_fallback: bool = False

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {self.max_retries}.")

    def should_retry(
        self,
        error: ProviderError,
        retries_done: int,
        *,
        fallback_next: bool = False,
        failures_in_a_row: int = 1,
    ) -> bool:
        """Whether to try the same model again after `retries_done` retries have already
        failed; `fallback_next` when another model would take the call instead, and
        `failures_in_a_row` the model's latest failed attempts, this one included."""
        if fallback_next and failures_in_a_row > 1 and not self.retry_before_fallback:
            return False
        return error.retryable and retries_done < self.max_retries

    def wait(self, error: ProviderError, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry `retry_number`."""
        if error.retry_after is not None:
            return min(max(0.0, error.retry_after), self.retry_after_cap)
        return self.backoff.delay(retry_number, rng)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `retry-after` as seconds
    or an HTTP date. None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
