"""The JSON API under `/api/`: one table (`ENDPOINTS`) that both registers the routes and
writes the OpenAPI document, so the two cannot drift apart.

Every endpoint needs the admin key (`access.api_guard`) and answers JSON through
`ml_ops.web.json_response` (masked: nothing shaped like a key leaves). Errors are JSON
too: 400 for a bad parameter, 404 for an unknown experiment or alert, 503 while the
dashboard is starting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ai.errors import ConfigurationError, redact
from ml_ops.dashboard.access import api_guard
from ml_ops.dashboard.manager import DashboardManager
from ml_ops.web import AdminKey, json_response

logger = logging.getLogger(__name__)

Handler = Callable[[DashboardManager, Request], Awaitable[Any]]


class NotReady(RuntimeError):
    """The manager is not there yet (the app's lifespan has not opened the runtime)."""


class ManagerSlot:
    """The manager the routes serve: given at once, or set by the app's lifespan."""

    def __init__(self, manager: DashboardManager | None = None) -> None:
        self.manager = manager

    def get(self) -> DashboardManager:
        if self.manager is None:
            raise NotReady("the dashboard is starting; try again in a moment")
        return self.manager


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter, as the OpenAPI document describes it."""

    name: str
    description: str
    kind: str = "string"
    default: Any = None
    where: str = "query"


@dataclass(frozen=True, slots=True)
class ApiEndpoint:
    """One API route: method, path under `/api`, what it returns, its parameters."""

    method: str
    path: str
    name: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    changes_state: bool = False


WINDOW = Param("window", "One of the monitor's windows (see `windows`), or `all`.", default="1h")


def _window(manager: DashboardManager, request: Request, default: str = "1h") -> str:
    return manager.check_window(request.query_params.get("window", default))


def _integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


async def _dashboard(manager: DashboardManager, request: Request) -> Any:
    return await manager.get_dashboard(_window(manager, request))


async def _overview(manager: DashboardManager, request: Request) -> Any:
    return manager.get_overview(_window(manager, request, "all"))


async def _timeseries(manager: DashboardManager, request: Request) -> Any:
    return await manager.get_timeseries(_window(manager, request))


async def _costs(manager: DashboardManager, request: Request) -> Any:
    return manager.get_cost_analysis(_window(manager, request, "all"))


async def _cost_history(manager: DashboardManager, request: Request) -> Any:
    return await manager.get_cost_history(_integer(request, "days", manager.history_days, 1, 366))


async def _routing(manager: DashboardManager, request: Request) -> Any:
    return await manager.get_routing(_window(manager, request))


async def _budgets(manager: DashboardManager, request: Request) -> Any:
    return {"budgets": manager.get_budgets()}


async def _experiments(manager: DashboardManager, request: Request) -> Any:
    return manager.get_experiments()


async def _experiment(manager: DashboardManager, request: Request) -> Any:
    return manager.get_experiment(request.path_params["name"])


async def _alerts(manager: DashboardManager, request: Request) -> Any:
    return await manager.get_alerts(_integer(request, "limit", 50, 1, 1000))


async def _acknowledge(manager: DashboardManager, request: Request) -> Any:
    acknowledged = await manager.acknowledge_alert(request.path_params["alert_id"])
    manager.invalidate()
    return acknowledged


async def _health(manager: DashboardManager, request: Request) -> Any:
    if manager.needs_probing():
        return await manager.refresh_health()
    return manager.get_health_check()


ENDPOINTS: tuple[ApiEndpoint, ...] = (
    ApiEndpoint("GET", "/dashboard", "getDashboard",
                "Every section of the page for one window: overview, time series, costs, "
                "cost history with forecast, model routing, experiments, alerts and health.",
                _dashboard, (WINDOW,)),
    ApiEndpoint("GET", "/overview", "getOverview",
                "Cards: requests, cost, success and error rates, latency and TTFT "
                "percentiles, throughput, cache hit rate and savings, tokens; top models, "
                "providers, agents and users by cost; budgets.",
                _overview, (Param("window", WINDOW.description, default="all"),)),
    ApiEndpoint("GET", "/timeseries", "getTimeseries",
                "Chart columns per time bucket: requests, errors, error rate, latency and "
                "TTFT P50/P95/P99, cost, cache hit rate, tokens by model.",
                _timeseries, (WINDOW,)),
    ApiEndpoint("GET", "/costs", "getCostAnalysis",
                "Cost breakdown by model, provider, agent and user; the cost tracker's "
                "report, budgets, spend forecast with intervals and recommendations.",
                _costs, (Param("window", WINDOW.description, default="all"),)),
    ApiEndpoint("GET", "/costs/history", "getCostHistory",
                "Spend per day (the cost tracker's days, else UTC days from the store) and "
                "the forecast band after it.",
                _cost_history, (Param("days", "Days of history (1-366).", "integer", 14),)),
    ApiEndpoint("GET", "/routing", "getRouting",
                "Model routing: decisions per reason and per model, calls sent to the cheap "
                "model, their cost against the capable model's, and the saving.",
                _routing, (WINDOW,)),
    ApiEndpoint("GET", "/budgets", "getBudgets",
                "Every budget with its limit, spend, use, action and projection.", _budgets),
    ApiEndpoint("GET", "/experiments", "getExperiments",
                "Every experiment: variants with results and intervals, the decision, "
                "significance and the sample ratio mismatch flag.", _experiments),
    ApiEndpoint("GET", "/experiments/{name}", "getExperiment",
                "One experiment, with the A/B tester's whole summary.", _experiment,
                (Param("name", "The experiment's name.", where="path"),)),
    ApiEndpoint("GET", "/alerts", "getAlerts",
                "Active alerts and the most recent ones in any state.", _alerts,
                (Param("limit", "How many recent alerts (1-1000).", "integer", 50),)),
    ApiEndpoint("POST", "/alerts/{alert_id}/acknowledge", "acknowledgeAlert",
                "Acknowledge an alert (it still resolves by itself). Cookie sessions "
                "must send X-Requested-With: devora-dashboard.", _acknowledge,
                (Param("alert_id", "The alert's id.", where="path"),), changes_state=True),
    ApiEndpoint("GET", "/health", "getHealth",
                "Overall status and each component's status, reason and numbers.", _health),
)  # fmt: skip


def _error(status: int, message: str) -> Response:
    return json_response({"error": redact(message)}, status=status)


def endpoint_route(endpoint: ApiEndpoint, slot: ManagerSlot, key: AdminKey) -> Route:
    """The Starlette route of `endpoint`, behind the admin key, with errors as JSON."""

    async def serve(request: Request) -> Response:
        try:
            data = await endpoint.handler(slot.get(), request)
        except NotReady as exc:
            return _error(503, str(exc))
        except (ConfigurationError, ValueError) as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        return json_response(data)

    guarded = api_guard(key, serve, changes_state=endpoint.changes_state)
    return Route(f"/api{endpoint.path}", guarded, methods=[endpoint.method], name=endpoint.name)


def api_routes(slot: ManagerSlot, key: AdminKey) -> list[BaseRoute]:
    """Every route of `ENDPOINTS`."""
    return [endpoint_route(endpoint, slot, key) for endpoint in ENDPOINTS]
