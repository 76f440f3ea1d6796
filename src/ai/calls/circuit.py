"""Circuit breaker per model: stop sending to a model that keeps failing, test it later."""

from __future__ import annotations

from enum import StrEnum

from ai.core.clock import Clock
from ai.errors import ConfigurationError


class CircuitState(StrEnum):
    """CLOSED lets calls through; OPEN refuses them; HALF_OPEN lets one trial through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures, half-opens after `cooldown`.

    In HALF_OPEN one trial call is allowed; its success closes the circuit, its failure
    opens it again for another cool-down.
    """

    def __init__(self, clock: Clock, failure_threshold: int = 5, cooldown: float = 30.0) -> None:
        if failure_threshold < 1 or cooldown < 0:
            raise ConfigurationError(
                "circuit breaker needs failure_threshold >= 1 and cooldown >= 0 seconds."
            )
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started_at: float | None = None

    @property
    def state(self) -> CircuitState:
        """The current state, moving OPEN to HALF_OPEN once the cool-down has passed."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock.monotonic() - self._opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether a call may go to this model now (claims the half-open trial if so)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._trial_pending():
            self._trial_started_at = self._clock.monotonic()
            return True
        return False

    def _trial_pending(self) -> bool:
        """A trial was let through and has not reported back. One silent for a whole
        cool-down (its caller was cancelled) is given up, or the model would stay shut."""
        if self._trial_started_at is None:
            return False
        return self._clock.monotonic() - self._trial_started_at < self.cooldown

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._trial_started_at = None

    def record_failure(self) -> None:
        """A call failed in a way that says the model is unhealthy."""
        self._failures += 1
        if self._trial_started_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock.monotonic()
        self._trial_started_at = None

    def seconds_until_retry(self) -> float:
        """How long until a trial call will be let through (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self._clock.monotonic() - self._opened_at))
