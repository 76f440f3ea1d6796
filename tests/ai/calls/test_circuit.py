"""Circuit breaker on a fake clock: open, refuse, half-open trial, close or re-open."""

from __future__ import annotations

import pytest

from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError


def open_breaker(clock: FakeClock, threshold: int = 3, cooldown: float = 10.0) -> CircuitBreaker:
    breaker = CircuitBreaker(clock, failure_threshold=threshold, cooldown=cooldown)
    for _ in range(threshold):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    return breaker


def test_new_breaker_is_closed_and_allows() -> None:
    breaker = CircuitBreaker(FakeClock())
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()
    assert breaker.seconds_until_retry() == 0.0


def test_defaults() -> None:
    breaker = CircuitBreaker(FakeClock())
    assert (breaker.failure_threshold, breaker.cooldown) == (5, 30.0)


def test_stays_closed_below_threshold() -> None:
    breaker = CircuitBreaker(FakeClock(), failure_threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(FakeClock(), failure_threshold=3, cooldown=10.0)
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()


def test_threshold_of_one_opens_on_first_failure() -> None:
    breaker = CircuitBreaker(FakeClock(), failure_threshold=1)
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_successes_dilute_failures_below_the_rate() -> None:
    # Under concurrency, a flaky upstream interleaves failures of unrelated calls: 25% of
    # attempts failing must never open the circuit, however they are ordered.
    breaker = CircuitBreaker(FakeClock(), failure_threshold=3, window=20)
    for _ in range(40):
        breaker.record_failure()
        for _ in range(3):
            breaker.record_success()
        assert breaker.state is CircuitState.CLOSED


def test_opens_when_the_rate_and_the_count_are_both_reached() -> None:
    breaker = CircuitBreaker(FakeClock(), failure_threshold=3, failure_rate=0.5, window=10)
    for failed in [True, False, True, False]:
        breaker.record_failure() if failed else breaker.record_success()
    assert breaker.state is CircuitState.CLOSED  # 2 failures: under the count
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN  # 3 of 5 = 60%
    assert not breaker.outage  # the failures are interleaved with successes


def test_the_window_forgets_old_failures() -> None:
    breaker = CircuitBreaker(FakeClock(), failure_threshold=3, window=4)
    breaker.record_failure()
    breaker.record_failure()
    for _ in range(4):
        breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED  # the first two have left the window
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_consecutive_failures_are_an_outage() -> None:
    breaker = open_breaker(FakeClock(), threshold=3)
    assert breaker.outage


def test_a_dead_upstream_opens_the_circuit_with_many_attempts_running() -> None:
    """A hundred attempts always in flight (each failure retried at once) outweigh any
    window of finished ones; a run of failures longer than threshold + running opens it."""
    breaker = CircuitBreaker(FakeClock())  # threshold 5, rate 0.5, window 20
    for _ in range(100):
        breaker.attempt_started()
    failed = 0
    while breaker.state is CircuitState.CLOSED:
        breaker.record_failure()
        breaker.attempt_started()  # the failed call retries straight away
        failed += 1
    assert failed == breaker.failure_threshold + 99  # the one that just failed no longer runs


def test_a_model_that_dies_after_a_healthy_stretch_trips_on_the_threshold() -> None:
    """A window full of successes would need ten failures to reach half of it; a run of
    `failure_threshold` failures with nothing else in flight is enough."""
    breaker = CircuitBreaker(FakeClock())  # threshold 5, rate 0.5, window 20
    for _ in range(20):
        breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and breaker.outage


def test_a_run_waits_for_the_attempts_still_running() -> None:
    """Two attempts in flight could still succeed: the run must outlast them too."""
    breaker = CircuitBreaker(FakeClock())
    for _ in range(20):
        breaker.record_success()
    breaker.attempt_started()
    breaker.attempt_started()
    for _ in range(5):
        breaker.attempt_started()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    for _ in range(2):
        breaker.attempt_started()
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_a_success_breaks_the_run() -> None:
    breaker = CircuitBreaker(FakeClock())
    for _ in range(20):
        breaker.record_success()
    for _ in range(2):  # 8 failures of 20: under half, in runs of four
        for _ in range(4):
            breaker.record_failure()
            assert breaker.state is CircuitState.CLOSED
        breaker.record_success()
    for _ in range(2):  # a run of five would do, but the rate gets there first
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.outage


def test_fast_failures_of_a_flaky_burst_do_not_open_the_circuit() -> None:
    """Failures arrive before the slow successes, but a success ends the run."""
    breaker = CircuitBreaker(FakeClock())
    for _ in range(100):
        breaker.attempt_started()
    for _ in range(3):
        for _ in range(40):  # 40 fast failures while ~100 attempts run, retried at once
            breaker.record_failure()
            breaker.attempt_started()
        breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_half_open_admits_up_to_the_configured_trials() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock, failure_threshold=2, cooldown=5.0, half_open_trials=3)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(5.0)
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()


def test_open_refuses_until_cooldown_has_passed() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, cooldown=10.0)
    clock.advance(9.999)
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    assert not breaker.allow()


def test_seconds_until_retry_counts_down() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, cooldown=10.0)
    assert breaker.seconds_until_retry() == 10.0
    clock.advance(4.0)
    assert breaker.seconds_until_retry() == pytest.approx(6.0)
    clock.advance(6.0)
    assert breaker.seconds_until_retry() == 0.0
    clock.advance(100.0)
    assert breaker.seconds_until_retry() == 0.0


def test_half_open_after_cooldown_admits_exactly_one_trial() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, cooldown=10.0)
    clock.advance(10.0)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()
    clock.advance(9.9)
    assert not breaker.allow()  # the trial is still in flight


def test_a_trial_that_never_reports_back_is_given_up_after_a_cooldown() -> None:
    # A caller cancelled mid-trial records neither success nor failure; the model must
    # not stay shut out for good.
    clock = FakeClock()
    breaker = open_breaker(clock, cooldown=10.0)
    clock.advance(10.0)
    assert breaker.allow()
    clock.advance(9.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()  # a second trial, the first being lost
    assert not breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_trial_success_closes_the_circuit() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, threshold=3, cooldown=10.0)
    clock.advance(10.0)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()
    assert breaker.allow()
    assert breaker.seconds_until_retry() == 0.0
    # The count started again: it takes the full threshold to open once more.
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN


def test_trial_failure_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock, threshold=3, cooldown=10.0)
    clock.advance(15.0)  # well past the cool-down: the new one starts at the trial's failure
    assert breaker.allow()
    clock.advance(2.0)
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    assert breaker.seconds_until_retry() == 10.0
    clock.advance(9.5)
    assert not breaker.allow()
    clock.advance(0.5)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_zero_cooldown_goes_straight_to_half_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock, failure_threshold=1, cooldown=0.0)
    breaker.record_failure()
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.seconds_until_retry() == 0.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.HALF_OPEN


def test_state_values_are_stable_strings() -> None:
    assert [state.value for state in CircuitState] == ["closed", "open", "half_open"]


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1.0), (-1, 1.0), (1, -0.5)])
def test_invalid_settings_are_rejected(threshold: int, cooldown: float) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(FakeClock(), failure_threshold=threshold, cooldown=cooldown)


@pytest.mark.parametrize(
    "settings",
    [{"failure_rate": 0.0}, {"failure_rate": 1.5}, {"window": 4}, {"half_open_trials": 0}],
)
def test_invalid_rate_window_and_trials_are_rejected(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(FakeClock(), failure_threshold=5, **settings)  # type: ignore[arg-type]
