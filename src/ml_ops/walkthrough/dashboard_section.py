"""Section 10, the dashboard: `ml_ops.DashboardManager` over the monitor, cost tracker and
A/B tester of the sections before (the spec's Quick Start 5), plus its model-routing and
experiment panels. The web app serving these views comes in section 11.
"""

from __future__ import annotations

from rich.console import Console

from ml_ops.dashboard import DashboardManager
from ml_ops.walkthrough.observers import Observers


async def dashboard(console: Console, observers: Observers) -> None:
    """Overview, health, routing and experiments, as the dashboard's API serves them."""
    manager = DashboardManager(
        monitor=observers.monitor,
        cost_tracker=observers.cost_tracker,
        ab_tester=observers.ab_tester,
    )
    overview = manager.get_overview()
    figures = overview["overview"]
    console.print(f"Total requests: {figures['total_requests']}")
    console.print(f"Total cost: ${figures['total_cost']:.4f}")
    health = manager.get_health_check()
    console.print(f"System health: {health['overall_status']}")
    for name, component in health["components"].items():
        console.print(f"  {name}: {component['status']} ({component['reason']})", markup=False)
    routing = await manager.get_routing("all")
    savings = routing["savings"]
    console.print(
        f"model routing: {routing['decisions']} decisions, {routing['routed_calls']} call(s) "
        f"sent to the cheap model, saving {savings['saving_share']:.0%} of what the capable "
        "model would have cost"
    )
    for view in manager.get_experiments()["experiments"]:
        console.print(
            f"experiment {view['name']}: {view.get('status')}, significant: "
            f"{view.get('significant')}"
        )


__all__ = ["dashboard"]
