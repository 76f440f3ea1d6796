"""devora-ai's ML operations layer: monitoring, cost tracking, A/B testing, the dashboard
and the OpenAI-compatible gateway.

One package per area, bottom to top (checked by import-linter in the test command):

    ml_ops.store                  the event store every record is appended to
    ml_ops.monitoring             MLMonitor, alerts, Prometheus and OpenTelemetry export
    ml_ops.cost_tracker, ml_ops.ab_testing
                                  budgets (a guard) and experiments (a guard and a
                                  prompt-experiment backend), both reading the store
    ml_ops.dashboard, ml_ops.gateway
                                  read-only views and the HTTP service

It sees calls only through the seams of `ai`: records on a shared
`ai.core.records.RecordBus`, and guards (`ai.core.guards.CallGuard`) that act before and
after each call. `ai` never imports `ml_ops`.
"""

__version__ = "0.2.0"

__all__: list[str] = []
