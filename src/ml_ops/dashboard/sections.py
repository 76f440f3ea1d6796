"""How the manager reads its sources: each section on its own, a failure kept to its
section (`{"error": ...}`, logged, masked), and services named for the health check."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ai.errors import redact
from ml_ops.dashboard.health import CircuitSource, ComponentHealth, HealthStatus

logger = logging.getLogger("ml_ops.dashboard")


def named_services(
    services: Mapping[str, CircuitSource] | Sequence[CircuitSource] | None,
) -> dict[str, CircuitSource]:
    """Services by name: as given, or `provider:model` of each one's primary route."""
    if services is None:
        return {}
    if isinstance(services, Mapping):
        return dict(services)
    named: dict[str, CircuitSource] = {}
    for index, service in enumerate(services):
        routes = service.routes
        name = f"{routes[0].provider}:{routes[0].model}" if routes else f"service-{index}"
        named[name if name not in named else f"{name}#{index}"] = service
    return named


def message(exc: BaseException) -> str:
    """What went wrong, in one line, with anything shaped like a key masked."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


def section(produce: Callable[[], Any]) -> Any:
    """`produce()`, or `{"error": ...}` when it fails (logged): one broken source must not
    take the other sections down."""
    try:
        return produce()
    except Exception as exc:
        logger.exception("a dashboard section failed")
        return {"error": message(exc)}


async def async_section(work: Any) -> Any:
    """`await work`, or `{"error": ...}` when it fails (logged)."""
    try:
        return await work
    except Exception as exc:
        logger.exception("a dashboard section failed")
        return {"error": message(exc)}


def judged(name: str, judge: Callable[[], ComponentHealth]) -> ComponentHealth:
    """`judge()`, or the component as unknown when judging it failed (logged)."""
    try:
        return judge()
    except Exception as exc:
        logger.exception("health check of %s failed", name)
        return ComponentHealth(name, HealthStatus.UNKNOWN, f"could not be checked: {message(exc)}")
