"""devora-ai's ML operations layer: monitoring, cost tracking, A/B testing, the dashboard
and the OpenAI-compatible gateway.

The spec's names are importable from here (`from ml_ops import MLMonitor, CostTracker,
Budget, ABTester, Experiment, Variant, DashboardManager`); each loads its package on
first use, so `import ml_ops` stays light.

One package per area, bottom to top (checked by import-linter in the test command):

    ml_ops.store                  the event store every record is appended to
    ml_ops.monitoring             MLMonitor, alerts, Prometheus and OpenTelemetry export
    ml_ops.cost_tracker, ml_ops.ab_testing
                                  budgets (a guard) and experiments (a guard and a
                                  prompt-experiment backend), both reading the store
    ml_ops.runtime, ml_ops.web    one process's parts wired together; shared HTTP pieces
    ml_ops.dashboard, ml_ops.gateway
                                  read-only views and the OpenAI-compatible service
    ml_ops.serve                  `devora serve`: both in one app

It sees calls only through the seams of `ai`: records on a shared
`ai.core.records.RecordBus`, and guards (`ai.core.guards.CallGuard`) that act before and
after each call. `ai` never imports `ml_ops`.
"""

from ai.core import lazy as _lazy

__version__ = "0.2.0"

_EXPORTS = {
    "MLMonitor": "ml_ops.monitoring",
    "AlertRule": "ml_ops.monitoring",
    "CostTracker": "ml_ops.cost_tracker",
    "Budget": "ml_ops.cost_tracker",
    "ABTester": "ml_ops.ab_testing",
    "Experiment": "ml_ops.ab_testing",
    "Variant": "ml_ops.ab_testing",
    "DashboardManager": "ml_ops.dashboard",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy.lazy_exports(__name__, __all__, _EXPORTS)
