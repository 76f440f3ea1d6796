"""`devora monitor stats|alerts` in a subprocess, reading a real SQLite event store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ml_ops.store import AlertRecord, AlertStatus, SQLiteEventStore
from tests.ml_ops.monitoring.records import make_record


def devora(*args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("devora")
    return subprocess.run(
        [str(command), *args], capture_output=True, text=True, env={**os.environ}, check=False
    )


def seed(path: Path) -> None:
    async def write() -> None:
        store = SQLiteEventStore(path)
        now = datetime.now(UTC)
        await store.append(
            [make_record(timestamp=now, latency_ms=100.0 * (i + 1)) for i in range(9)]
            + [make_record(timestamp=now, success=False)]
        )
        await store.save_alert(
            AlertRecord(
                alert_id="a1",
                rule="error-rate",
                severity="critical",
                status=AlertStatus.FIRING,
                message="error rate 10% > 5% over 5m",
                metric="error_rate",
                value=0.1,
                threshold=0.05,
                fired_at=now,
            )
        )
        await store.aclose()

    asyncio.run(write())


def test_stats_and_alerts_read_the_store(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    seed(path)
    stats = devora("monitor", "stats", "--window", "1h", "--store", str(path), "--json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert data["total_requests"] == 10 and abs(data["error_rate"] - 0.1) < 1e-9
    plain = devora("monitor", "stats", "--window", "1h", "--store", str(path))
    assert "requests\t10" in plain.stdout.splitlines()
    alerts = devora("monitor", "alerts", "--active", "--store", str(path), "--json")
    assert [a["rule"] for a in json.loads(alerts.stdout)] == ["error-rate"]


def test_a_bad_window_or_store_is_one_line_and_status_1(tmp_path: Path) -> None:
    missing = tmp_path / "events.db"
    bad_window = devora("monitor", "stats", "--window", "bogus", "--store", str(missing))
    assert bad_window.returncode == 1
    assert bad_window.stderr == (
        "error: unknown window 'bogus'; choose one of ['1m', '5m', '1h', '24h', 'all']\n"
    )
    assert not missing.exists()  # refused before the store was opened
    for command in ("stats", "alerts"):
        bad_store = devora("monitor", command, "--store", "redis://localhost")
        assert bad_store.returncode == 1
        assert bad_store.stderr.startswith("error: event store redis:// is not supported")
        assert "Traceback" not in bad_store.stderr and len(bad_store.stderr.splitlines()) == 1


def test_a_missing_store_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "evnets.db"
    for command in ("stats", "alerts"):
        result = devora("monitor", command, "--store", str(missing))
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith(f"error: no event store at '{missing}'")
        assert len(result.stderr.splitlines()) == 1
    assert not missing.parent.exists()
