"""The `ml_ops` half of `python -m ai.example_usage`: sections 6 to 11 of the walk-through.

    await run_walkthrough(console, openai_base_url=fake.openai_base_url, api_key=fake.api_key)

`ai.example_usage` loads this package by name (`ai` never imports `ml_ops`) and hands it
the loopback fake it started (`ml_ops` never imports `ai.testing`). Importing it needs
the `server` extra (Starlette and uvicorn, for section 11); without it the walk-through
says so and stops after section 5.

One module per section, each printing a few facts that would be wrong if its feature broke:

    routing_section       6. ModelRouter on LLMService, routing_savings
    monitoring_section    7. MLMonitor on the record bus and by hand, P50/P95, tokens
                             per model, agent and user, an alert
    costs_section         8. CostTracker budgets: a downgrade, a refusal, the report,
                             a forecast, recommendations, CSV/JSON export
    experiments_section   9. ABTester: Quick Start 4 with tracked results, the summary,
                             then pause, resume and complete with a winner
    dashboard_section    10. DashboardManager: overview, health, routing, experiments,
                             cost analysis and forecast, alerts listed and acknowledged
    gateway_section      11. devora serve in-process: a virtual key, the openai SDK,
                             the dashboard's /api/overview

`observers` holds what they share (the bus, the monitor, the cost tracker, the tester);
`spend_history` the four weeks of spend the cost tracker starts with, so that sections 8
and 10 have days to forecast from; `runner` runs them in order.
"""

from ml_ops.walkthrough.observers import Observers, Upstream
from ml_ops.walkthrough.runner import SECTIONS, run_walkthrough

__all__ = ["SECTIONS", "Observers", "Upstream", "run_walkthrough"]
