"""The dashboard: `DashboardManager` (read-only views over monitoring, costs, experiments,
alerts and health, the spec's Quick Start 5) and the web app served by `devora serve`.

    dashboard = DashboardManager(monitor=monitor, cost_tracker=cost_tracker,
                                 ab_tester=ab_tester)
    dashboard.get_overview()["overview"]["total_requests"]
    dashboard.get_health_check()["overall_status"]      # healthy, degraded, unhealthy

    app = create_dashboard_app(dashboard, admin_key)     # Starlette; mount it anywhere

The web app (`create_dashboard_app`, `create_app`, `dashboard_routes`,
`DashboardSettings`) needs the `server` extra and loads on first use, so importing this
package never imports Starlette. See docs/dashboard.md.
"""

from ai.core import lazy as _lazy
from ml_ops.dashboard.health import (
    ComponentHealth,
    HealthStatus,
    HealthThresholds,
    ProbeResult,
)
from ml_ops.dashboard.manager import DashboardManager

_LAZY = {
    "DashboardSettings": "ml_ops.dashboard.app",
    "create_app": "ml_ops.dashboard.app",
    "create_dashboard_app": "ml_ops.dashboard.app",
    "dashboard_routes": "ml_ops.dashboard.app",
}

__all__ = [
    "ComponentHealth",
    "DashboardManager",
    "DashboardSettings",
    "HealthStatus",
    "HealthThresholds",
    "ProbeResult",
    "create_app",
    "create_dashboard_app",
    "dashboard_routes",
]

__getattr__, __dir__ = _lazy.lazy_exports(__name__, __all__, _LAZY)
