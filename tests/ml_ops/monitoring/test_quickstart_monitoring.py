"""The spec's Quick Start 3, monitoring lines as written."""

from __future__ import annotations

import json

from ml_ops.monitoring import MLMonitor


def test_quick_start_3_monitoring_lines() -> None:
    # Initialize
    monitor = MLMonitor()

    # Track request
    monitor.track_request(
        success=True,
        latency_ms=1500,
        cost=0.02,
        tokens=800,
        model="openai/gpt-4o-mini",
    )

    # Get stats
    stats = monitor.get_real_time_stats()

    assert stats["total_requests"] == 1
    assert stats["total_cost"] == 0.02
    assert stats["success_rate"] == 1.0
    assert stats["cost_by_model"] == {"openai/gpt-4o-mini": 0.02}
    assert abs(stats["latency_ms"]["p95"] - 1500) <= 15
    assert stats["tokens"]["total"] == 800
    json.dumps(stats)
