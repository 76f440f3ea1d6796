"""`devora demo` from the shell: the tour with `--exit` prints its summary and the
dashboard's address and stops, leaving nothing behind; the Quick Start stays reachable."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from ai.cli.app import app
from tests.ai.cli.running import child_env, run_devora

ADMIN_KEY = "dvr-admin-demo-cli-test-0123456789"


def test_demo_help_names_the_tour_and_the_quick_start() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--duration", "--exit", "--port", "--docs", "--quick", "--prompt"):
        assert option in result.output


def test_a_short_tour_prints_the_summary_and_the_dashboard_then_exits(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cache.md").write_text("# Cache\n\nRepeated requests are answered from the cache.")
    env = child_env({"DEVORA_ADMIN_KEY": ADMIN_KEY, "COLUMNS": "220"}, drop=("REDIS_URL",))
    result = run_devora(
        "demo", "--exit", "--duration", "3", "--port", "0", "--docs", str(docs), env=env
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "devora's loopback fakes" in out and "Created 6 virtual keys" in out
    assert "devora demo: what happened" in out
    for row in ("Calls through the gateway", "Saved by the response cache", "Latency P50 / P95",
                "Upstream faults injected", "Errors seen by users", "Prompt experiment",
                "Budget research-daily", "Alerts"):  # fmt: skip
        assert row in out
    dashboard = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+/)\s+\(admin key: (\S+)\)", out)
    # The user's own admin key is named, never echoed (as `devora serve` does).
    assert dashboard is not None and dashboard.group(2) == "$DEVORA_ADMIN_KEY"
    assert ADMIN_KEY not in out
    assert "Serving until Ctrl-C" not in out
    state = re.search(r"State: (\S+) \(SQLite; removed at exit\)", out)
    assert state is not None and not Path(state.group(1)).exists()
