"""Section 10, the dashboard: `ml_ops.DashboardManager` over the monitor, cost tracker and
A/B tester of the sections before (the spec's Quick Start 5), plus its model-routing and
experiment panels, the cost analysis with its forecast, and alert management: the
error-rate alert of section 7, listed and acknowledged. The web app serving these
views comes in section 11.
"""

from __future__ import annotations

from rich.console import Console

from ml_ops.dashboard import DashboardManager
from ml_ops.walkthrough.observers import ERROR_RATE_RULE, Observers


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
    _cost_analysis(console, manager)
    await _alerts(console, manager)


def _cost_analysis(console: Console, manager: DashboardManager) -> None:
    """The cost analysis (report, forecast, recommendations) and the forecast's band."""
    analysis = manager.get_cost_analysis()
    totals = analysis["report"]["totals"]
    titles = [row["title"] for row in analysis["recommendations"]]
    console.print(
        f"cost analysis: {totals['requests']} requests kept, ${totals['cost']:.2f}; "
        f"recommendations {titles}",
        markup=False,
    )
    forecast = manager.get_forecast()
    if forecast is None:  # never here: the manager has a cost tracker
        return
    band = forecast["band"]
    console.print(
        f"forecast: ${forecast['total']:.2f} over the next {len(band['day'])} days "
        f"({forecast['method']}), from {band['day'][0]} to {band['day'][-1]}"
    )


async def _alerts(console: Console, manager: DashboardManager) -> None:
    """The alerts, then section 7's acknowledged. Whether it still fires depends on when
    the monitor last judged the error rate (it fell below the threshold in section 8)."""
    alerts = await manager.get_alerts()
    recent = alerts["recent"]
    console.print(
        f"get_alerts(): {len(recent)} recent {[alert['rule'] for alert in recent]}, "
        f"{len(alerts['active'])} active"
    )
    fired = next((alert for alert in recent if alert["rule"] == ERROR_RATE_RULE.name), None)
    if fired is None:
        return
    acknowledged = await manager.acknowledge_alert(fired["alert_id"])
    again = (await manager.get_alerts())["recent"]
    marked = [alert["rule"] for alert in again if alert["acknowledged_at"] is not None]
    console.print(
        f"acknowledge_alert: {acknowledged['rule']} ({acknowledged['status']}) acknowledged; "
        f"acknowledged in get_alerts(): {marked}"
    )


__all__ = ["dashboard"]
