"""Retries, deadline, circuit breakers and the fallback chain, around any one-attempt call.

Kept apart from `LLMService` so the same loop serves plain calls and the opening of
streams, and so its behaviour is tested on a fake clock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.calls.config import ResolvedRoute
from ai.calls.retry import RetryPolicy
from ai.core.clock import Clock
from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    CircuitOpenError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)

logger = logging.getLogger("ai.llm_service")

T = TypeVar("T")
U = TypeVar("U")
Attempt = Callable[[ResolvedRoute, float], Awaitable[T]]


@dataclass(slots=True)
class CallProgress:
    """What one call has been through so far; read by the record and the stats."""

    started: float
    deadline: float
    timeout: float
    attempts: int = 0
    route: ResolvedRoute | None = None
    fallback_used: bool = False
    errors: list[ProviderError] = field(default_factory=list)


class ResilientCaller:
    """Runs an attempt function over a fallback chain with retries and breakers.

    `patience` is the deadline the service is configured with (`LLMConfig.timeout`): a
    timeout counts against a model only in a call that gave it at least that long. A
    caller's own shorter `timeout` passing says how long that caller would wait, not that
    the model is down, so it leaves the model's circuit as it was.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Clock,
        rng: random.Random,
        breaker_factory: Callable[[], CircuitBreaker],
        *,
        patience: float = 0.0,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._breaker_factory = breaker_factory
        self._breakers: dict[str, CircuitBreaker] = {}
        self._patience = patience

    def breaker(self, route: ResolvedRoute) -> CircuitBreaker:
        """The circuit breaker of `route`'s model (created on first use)."""
        breaker = self._breakers.get(route.key)
        if breaker is None:
            breaker = self._breakers[route.key] = self._breaker_factory()
        return breaker

    async def call(
        self, routes: Sequence[ResolvedRoute], attempt: Attempt[T], progress: CallProgress
    ) -> T:
        """First route that succeeds wins; raises the one error, or `AllModelsFailedError`.

        A failure of the account (a refused key, an exhausted quota) skips the later
        routes on that account but not those on another key."""
        refused: set[str] = set()  # accounts whose key or quota failed in this call
        for index, route in enumerate(routes):
            if route.account in refused:
                continue
            breaker = self.breaker(route)
            if not breaker.allow():
                progress.errors.append(_circuit_open(route, breaker))
                continue
            progress.route, progress.fallback_used = route, index > 0
            try:
                return await self._with_retries(
                    route, attempt, progress, breaker, routes[index + 1 :]
                )
            except ProviderError as error:
                progress.errors.append(error)
                if self._deadline_passed(progress):
                    break
                if _account_failure(error) and route.account:
                    refused.add(route.account)
                elif not error.fallback_can_help:
                    break
                if index + 1 < len(routes):
                    logger.warning(
                        "model %s on %s failed (%s); falling back to the next model",
                        route.model,
                        route.provider,
                        error.error_type,
                    )
        raise _final_error(progress.errors)

    async def _with_retries(
        self,
        route: ResolvedRoute,
        attempt: Attempt[T],
        progress: CallProgress,
        breaker: CircuitBreaker,
        later: Sequence[ResolvedRoute],
    ) -> T:
        """`route` tried, and retried while the policy says so; `later` are the routes
        after it (whether one may take the call is asked only after a failure)."""
        retries = 0
        while True:
            remaining = progress.deadline - self._clock.monotonic()
            if remaining <= 0:
                raise deadline_error(route, progress)
            progress.attempts += 1
            breaker.attempt_started()
            try:
                result = await self._within(remaining, attempt(route, remaining), route, progress)
            except ProviderError as error:
                self._record_health(breaker, error, progress)
                if not self._policy.should_retry(
                    error,
                    retries,
                    fallback_next=self._any_open_to_calls(later),
                    failures_in_a_row=breaker.failures_in_a_row,
                ):
                    raise
                if breaker.outage:  # the model is down: retrying it only adds latency
                    raise
                retries += 1
                wait = self._policy.wait(error, retries, self._rng)
                if self._clock.monotonic() + wait >= progress.deadline:
                    raise
                logger.warning(
                    "%s %s failed (%s, attempt %d); retrying in %.2fs",
                    route.provider,
                    route.model,
                    error.error_type,
                    progress.attempts,
                    wait,
                )
                await self._clock.sleep(wait)
                continue
            except BaseException:  # cancelled, or a bug: no verdict on the model
                breaker.attempt_abandoned()
                raise
            breaker.record_success()
            return result

    async def _within(
        self, seconds: float, work: Awaitable[U], route: ResolvedRoute, progress: CallProgress
    ) -> U:
        """`work`, cut off when the call's deadline passes, whatever the upstream is doing:
        an answer trickling in a byte at a time or a stream of keep-alive comments is cut
        like a silent one (httpx's timeouts only bound each read)."""
        try:
            async with self._clock.timeout(seconds):
                return await work
        except TimeoutError:  # ours: httpx's timeouts arrive as ProviderTimeoutError
            raise deadline_error(route, progress) from None

    def _any_open_to_calls(self, routes: Sequence[ResolvedRoute]) -> bool:
        """Whether one of `routes` may take a call now (its circuit is not open)."""
        return any(self.breaker(route).state is not CircuitState.OPEN for route in routes)

    def _record_health(
        self, breaker: CircuitBreaker, error: ProviderError, progress: CallProgress
    ) -> None:
        """Outages and timeouts count against the model; a 4xx about the request means it
        is up. A timeout in a call whose deadline was shorter than the configured one is
        no verdict at all: every timeout of an attempt is bounded by the call's deadline
        (httpx's included), so it passed because this caller would not wait longer."""
        if isinstance(error, ProviderTimeoutError) and progress.timeout < self._patience:
            breaker.attempt_abandoned()
        elif error.retryable or isinstance(
            error, OverloadedError | ModelNotFoundError | ProviderTimeoutError
        ):
            breaker.record_failure()
        else:
            breaker.record_success()

    def _deadline_passed(self, progress: CallProgress) -> bool:
        return self._clock.monotonic() >= progress.deadline


def _circuit_open(route: ResolvedRoute, breaker: CircuitBreaker) -> CircuitOpenError:
    return CircuitOpenError(
        f"Skipped {route.model!r} on {route.provider}: its circuit breaker is open after "
        f"repeated failures; next trial in {breaker.seconds_until_retry():.1f}s.",
        provider=route.provider,
        model=route.model,
    )


def deadline_error(
    route: ResolvedRoute, progress: CallProgress, *, doing: str = ""
) -> ProviderTimeoutError:
    """The call's own deadline passed (`doing`: what the call was doing then)."""
    during = f" {doing}" if doing else ""
    return ProviderTimeoutError(
        f"The call's deadline of {progress.timeout:g}s passed{during} after "
        f"{progress.attempts} attempt(s); raise the `timeout` setting or lower `max_retries`.",
        provider=route.provider,
        model=route.model,
        retryable=False,
    )


def _account_failure(error: ProviderError) -> bool:
    """The key was refused or its quota is spent: another account may still be served."""
    return isinstance(error, AuthenticationError) or (
        isinstance(error, RateLimitError) and not error.retryable
    )


def _final_error(errors: list[ProviderError]) -> ProviderError:
    if len(errors) == 1:
        return errors[0]
    summary = "; ".join(f"{e.model} on {e.provider}: {e.error_type}" for e in errors)
    return AllModelsFailedError(
        f"All {len(errors)} models failed ({summary}). See .errors for each.", errors=errors
    )
