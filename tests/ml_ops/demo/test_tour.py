"""The tour (`devora demo`, run once for the package by the `served` fixture of
conftest.py): its summary tells every chapter of the story, and while it keeps serving,
the dashboard API shows its data in every panel and the gateway answers a demo key."""

from __future__ import annotations

import httpx
import openai

from ml_ops.demo.experiment import EXPERIMENT
from ml_ops.demo.fake_upstream import FAKE_API_KEY
from ml_ops.demo.tour import RESEARCH_BUDGET
from ml_ops.demo.watch import FAILOVER_RULE
from tests.ml_ops.demo.conftest import ADMIN_KEY, PAGES, Served


def test_summary_tells_every_chapter(served: Served) -> None:
    summary = served.summary
    assert summary.calls > 150 and set(summary.calls_by_stream) == {
        "chat", "experiment", "rag", "research",
    }  # fmt: skip
    assert summary.streamed_calls > 0 and summary.users == 6 and summary.teams == 5
    assert summary.cost_usd > 0
    assert summary.cache_hits > 0 and summary.cache_saved_usd > 0
    assert summary.routed_calls > 0 and summary.routing_saved_usd > 0
    assert summary.latency_p50_s is not None and summary.latency_p95_s is not None
    assert summary.faults_injected["rate_limit"] > 0 and summary.faults_injected["server_error"] > 0
    assert summary.faults_absorbed > 0 and summary.fallback_answers > 0
    assert summary.user_errors == 0, summary.user_error_kinds
    assert summary.breaker_opened
    assert any(line.startswith("gpt-4o (smart): open") for line in summary.breaker_changes)
    assert summary.rag_answers > 0 and summary.rag_documents == len(PAGES)


def test_the_experiment_decides_and_the_budget_alerts_then_downgrades(served: Served) -> None:
    experiment = served.summary.experiment
    assert experiment is not None
    assert experiment.status == "completed" and experiment.winner == "concise"
    assert "beats detailed on cost" in experiment.reason
    budget = served.summary.budget
    assert budget is not None and budget.name == RESEARCH_BUDGET.name
    assert 0.8 in budget.alerts and budget.used >= 0.8
    assert budget.downgraded_calls > 0 and served.summary.downgraded_calls > 0
    assert served.summary.downgrade_saved_usd > 0


def test_alerts_fire_and_the_failover_alert_resolves(served: Served) -> None:
    fired, resolved = served.summary.alerts_fired, served.summary.alerts_resolved
    assert FAILOVER_RULE in fired and FAILOVER_RULE in resolved
    assert f"budget:{RESEARCH_BUDGET.name}" in fired


def test_the_dashboard_shows_the_tour_in_every_panel(served: Served) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=30) as http:
        data = http.get("/api/dashboard", params={"window": "1h"}).json()
        assert http.get("/").status_code == 200
    overview = data["overview"]["overview"]
    assert overview["total_requests"] >= served.summary.calls
    assert overview["cache_hit_rate"] > 0 and overview["saved_cost"] > 0
    assert data["timeseries"]["records"] > 0
    assert sum(point or 0 for point in data["timeseries"]["series"]["requests"]) > 0
    models = {row["name"] for row in data["costs"]["breakdown"]["models"]}
    assert {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"} <= models
    assert {row["name"] for row in data["costs"]["breakdown"]["users"]} >= {"ana", "dev", "gil"}
    assert sum(cost or 0 for cost in data["cost_history"]["cost"]) > 0
    budgets = data["overview"]["budgets"]
    assert [b["name"] for b in budgets] == [RESEARCH_BUDGET.name] and budgets[0]["used"] >= 0.8
    experiments = {e["name"]: e for e in data["experiments"]["experiments"]}
    assert experiments[EXPERIMENT]["status"] == "completed"
    rules = {alert["rule"] for alert in data["alerts"]["recent"]}
    assert {FAILOVER_RULE, f"budget:{RESEARCH_BUDGET.name}"} <= rules
    assert "circuit_breakers" in data["health"]["components"]
    assert data["routing"]["routed_calls"] > 0  # the router alias `auto` at work


def test_the_gateway_keeps_serving_the_cast_keys(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key=served.keys["ana"])
    answer = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "Still there?"}]
    )
    assert answer.choices[0].message.content
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    listed = httpx.get(served.base_url + "/admin/keys", headers=headers, timeout=30).json()
    assert {(k["user"], k["team"]) for k in listed["keys"]} >= {
        ("ana", "search"),
        ("dev", "research"),
    }


def test_no_key_is_written_anywhere_the_tour_keeps_state(served: Served) -> None:
    """Virtual keys, the admin key and the upstream key stay out of the event store, the
    key store, the gateway config, the fake's log and every dashboard answer."""
    secrets = [*served.keys.values(), ADMIN_KEY, FAKE_API_KEY]
    files = [path for path in served.state_dir.rglob("*") if path.is_file()]
    assert "devora.yaml" in {path.name for path in files}
    assert any(path.suffix == ".db" for path in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, (path.name, secret[:8])
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=30) as http:
        answers = [http.get(path).text for path in ("/api/dashboard", "/admin/keys", "/metrics")]
    for text in answers:
        for secret in secrets:
            assert secret not in text
