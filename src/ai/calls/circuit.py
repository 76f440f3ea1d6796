"""Circuit breaker per model: stop sending to a model that is down, test it again later.

The rule is a failure *rate* over a sliding window of recent attempts, with a minimum
number of failures (as resilience4j and Envoy's outlier detection do), not a count of
consecutive failures: under concurrency, a flaky upstream interleaves the failures of
unrelated calls, and a consecutive count would open the circuit on ordinary noise and turn
retryable faults into user-visible errors.

Attempts still running count in the rate as not failed (yet): a refused connection fails
in a millisecond while a good answer takes a second, so at the start of a burst the fast
failures of a flaky upstream would otherwise arrive alone and look like an outage. That
alone would let a dead upstream keep the circuit closed under high concurrency, though:
with a hundred attempts in flight and each failure retried within milliseconds, a
hundred are always running, and no window of twenty finished attempts outweighs them. And
a model that dies after a healthy stretch starts with a window full of successes, so the
rate alone would need half the window (ten failures) to open. So the circuit also opens
on a run: `failure_threshold` attempts failed in a row (no success between them) beyond
the attempts still running, which could all still succeed. That is Envoy's rule (eject a
host after five consecutive 5xx) made safe under concurrency: a dead upstream trips after
`failure_threshold` failures plus those in flight, while a flaky upstream's successes
break its runs. Simulated one attempt at a time with defaults, a quarter of attempts
failing at random opens the circuit once in 310 attempts (once in 345 on the rate alone),
a tenth once in 50,000.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from ai.core.clock import Clock
from ai.errors import ConfigurationError


class CircuitState(StrEnum):
    """CLOSED lets calls through; OPEN refuses them; HALF_OPEN lets a few trials through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens when, among the last `window` finished attempts, at least `failure_threshold`
    failed and they are at least `failure_rate` of those plus the attempts still running
    (`attempt_started` counts them), or when `failure_threshold` attempts more than those
    running failed in a row; half-opens after `cooldown` seconds.

    In HALF_OPEN up to `half_open_trials` calls are let through at once; the first success
    closes the circuit (with a fresh window), a failure opens it for another cool-down.
    `outage` says the failures are not noise (the last `failure_threshold` attempts all
    failed): only then do calls already in flight give up their remaining retries.
    """

    def __init__(
        self,
        clock: Clock,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        *,
        failure_rate: float = 0.5,
        window: int = 20,
        half_open_trials: int = 1,
    ) -> None:
        if failure_threshold < 1 or cooldown < 0:
            raise ConfigurationError(
                "circuit breaker needs failure_threshold >= 1 and cooldown >= 0 seconds."
            )
        if not 0 < failure_rate <= 1 or window < failure_threshold or half_open_trials < 1:
            raise ConfigurationError(
                "circuit breaker needs 0 < failure_rate <= 1, window >= failure_threshold "
                "and half_open_trials >= 1."
            )
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.failure_rate = failure_rate
        self.half_open_trials = half_open_trials
        self._outcomes: deque[bool] = deque(maxlen=window)  # True: the attempt failed
        self._failures_in_window = 0
        self._trailing_failures = 0
        self._opened_at: float | None = None
        self._trials: list[float] = []  # start times of trials not yet reported
        self._running = 0

    @property
    def window(self) -> int:
        """How many recent attempts the failure rate is computed over."""
        return self._outcomes.maxlen or 0

    @property
    def state(self) -> CircuitState:
        """The current state, moving OPEN to HALF_OPEN once the cool-down has passed."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock.monotonic() - self._opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def outage(self) -> bool:
        """The circuit is not closed and the last `failure_threshold` attempts all failed."""
        return self._opened_at is not None and self._trailing_failures >= self.failure_threshold

    def allow(self) -> bool:
        """Whether a call may go to this model now (claims a half-open trial if so)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        now = self._clock.monotonic()
        # A trial silent for a whole cool-down (its caller was cancelled) is given up,
        # or the model would stay shut forever.
        self._trials = [t for t in self._trials if now - t < self.cooldown]
        if len(self._trials) >= self.half_open_trials:
            return False
        self._trials.append(now)
        return True

    def attempt_started(self) -> None:
        """An attempt is under way; report its end with `record_success`,
        `record_failure` or `attempt_abandoned`."""
        self._running += 1

    def attempt_abandoned(self) -> None:
        """An attempt ended without a verdict on the model (its caller was cancelled)."""
        self._running = max(0, self._running - 1)

    @property
    def failures_in_a_row(self) -> int:
        """How many of the latest finished attempts failed, back to the last success."""
        return self._trailing_failures

    def record_success(self) -> None:
        """An attempt succeeded: in half-open this closes the circuit."""
        self.attempt_abandoned()
        self._trailing_failures = 0
        if self._opened_at is not None:
            self._close()
            return
        self._push(failed=False)

    def record_failure(self) -> None:
        """An attempt failed in a way that says the model is unhealthy."""
        self.attempt_abandoned()
        self._trailing_failures += 1
        if self._opened_at is not None:
            if self._trials:  # a trial failed: shut again for a full cool-down
                self._opened_at = self._clock.monotonic()
                self._trials.clear()
            return
        self._push(failed=True)
        if self._failures_in_window >= self.failure_threshold and (
            self._failures_in_window >= self.failure_rate * (len(self._outcomes) + self._running)
            or self._trailing_failures >= self.failure_threshold + self._running
        ):
            self._opened_at = self._clock.monotonic()

    def seconds_until_retry(self) -> float:
        """How long until a trial call will be let through (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self._clock.monotonic() - self._opened_at))

    def _push(self, *, failed: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._failures_in_window -= 1
        self._outcomes.append(failed)
        self._failures_in_window += failed

    def _close(self) -> None:
        self._opened_at = None
        self._trials.clear()
        self._outcomes.clear()
        self._failures_in_window = 0
