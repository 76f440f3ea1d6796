"""Monitoring: `MLMonitor` subscribes to the record bus and keeps windowed, mergeable
latency sketches, error and token counts per model, agent and user; alerts on thresholds;
Prometheus and OpenTelemetry exporters."""

__all__: list[str] = []
