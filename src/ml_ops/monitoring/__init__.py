"""Monitoring: `MLMonitor` subscribes to the record bus (or follows the event store) and
keeps windowed, mergeable latency sketches, error, token and cost counts per model,
provider, agent and user; alerts on thresholds; Prometheus and OpenTelemetry exporters.

    monitor = MLMonitor()
    monitor.track_request(success=True, latency_ms=1500, cost=0.02, tokens=800,
                          model="openai/gpt-4o-mini")
    stats = monitor.get_real_time_stats()          # the "5m" window; "1m", "1h", "24h", "all"

See docs/monitoring.md. The Prometheus collector and the OpenTelemetry exporter load on
first use, so importing this package imports neither library.
"""

from ai.core import lazy as _lazy
from ml_ops.monitoring.alerts import AlertRule, Comparison, Severity
from ml_ops.monitoring.groups import GroupStats, KeyLimits
from ml_ops.monitoring.handlers import (
    AlertHandler,
    CallbackAlertHandler,
    LogAlertHandler,
    WebhookAlertHandler,
    WebhookRetry,
    alert_payload,
    safe_url,
)
from ml_ops.monitoring.monitor import MLMonitor
from ml_ops.monitoring.sketch import LatencySketch
from ml_ops.monitoring.stats import ALERT_METRICS
from ml_ops.monitoring.windows import ALL_TIME, DEFAULT_WINDOWS, WindowSpec

_LAZY = {
    "DEFAULT_BUCKETS": "ml_ops.monitoring.prometheus",
    "MonitorCollector": "ml_ops.monitoring.prometheus",
    "OTelExporter": "ml_ops.monitoring.otel",
    "register_prometheus": "ml_ops.monitoring.prometheus",
}

__all__ = [
    "ALERT_METRICS",
    "ALL_TIME",
    "DEFAULT_BUCKETS",
    "DEFAULT_WINDOWS",
    "AlertHandler",
    "AlertRule",
    "CallbackAlertHandler",
    "Comparison",
    "GroupStats",
    "KeyLimits",
    "LatencySketch",
    "LogAlertHandler",
    "MLMonitor",
    "MonitorCollector",
    "OTelExporter",
    "Severity",
    "WebhookAlertHandler",
    "WebhookRetry",
    "WindowSpec",
    "alert_payload",
    "register_prometheus",
    "safe_url",
]

__getattr__, __dir__ = _lazy.lazy_exports(__name__, __all__, _LAZY)
