"""`python -m ai.example_usage` (the spec's walk-through) runs offline, with no API key."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from contextlib import AsyncExitStack

import pytest
from rich.console import Console

from ai.example_usage import ml_ops_sections

# Sections 1-5: the `ai` half.
AI_FACTS = [
    "using devora's loopback fake of OpenRouter",
    "1. Completion",
    "Response: Hello from the devora fake",
    "streamed: ",
    "call 1: cached=False",
    "call 2: cached=True cost=$0.000000",
    "hit rate 33%",
    "indexed 3 documents as 3 chunks",
    "[1] (source: budgets > Costs)",
    "built-in library: 17 templates in 10 categories",
    "rag_answer versions [1, 2, 3], labels {'production': 2, 'concise': 3}",
    "user-1 gets version 3 (concise)",
    "user-2 gets version 2 (production)",
    "'prompt': 'rag_answer', 'prompt_version': '2', 'experiment': 'answer-style'",
]
# Sections 6-11: `ml_ops.walkthrough`. Counts are those of the walk-through's own calls.
ML_OPS_FACTS = [
    # 6. the router sends the short question to the cheap model and keeps the review
    "6. Model selection",
    "simple question: asked for gpt-4o, answered by gpt-4o-mini (route simple:rule:short_prompt)",
    "design review: asked for gpt-4o, answered by gpt-4o (route complex:rule:hard_category)",
    "routing_savings: 1 routed call cost $",
    # 7. two routed + six bus calls + four by hand, two of them rate limited
    "7. Monitoring",
    "get_real_time_stats('5m'): 12 requests, success rate 83.3%, errors {'rate_limit': 2}",
    "  gpt-4o-mini: 7 requests, latency P50 ",
    "  gpt-4o: 5 requests, latency P50 ",
    "alert firing: error-rate: error_rate > 0.1 over 5m is 0.166667 (12 requests)",
    # 8. one budget downgrades, the other refuses; the report counts the refusal
    "8. Cost tracking",
    "bob call 3: refused before any request (BudgetExceededError",
    "budget ana-daily: 53% used, in effect: True",
    # 9. Quick Start 4 over 20 sticky users
    "9. A/B testing",
    "experiment prompt_test (running): 20 exposures, 20 results tracked",
    "decision (insufficient_sample): no winner yet: n=12/8 (concise/detailed), below the 100 "
    "needed",
    # 10. the dashboard over the same monitor, tracker and tester
    "10. Dashboard",
    "Total requests: 39",
    "System health: degraded",
    "budgets: degraded (downgrading calls: ana-daily)",
    "model routing: 2 decisions, 1 call(s) sent to the cheap model",
    "experiment prompt_test: running, significant: False",
    # 11. devora serve in-process
    "11. Gateway and dashboard served",
    "POST /admin/keys -> 201: virtual key sk-dvr-",
    "openai SDK: fast answered 'Hello from the devora fake (gpt-4o-mini). You said: Hello "
    "through the gateway!'",
    "dashboard /api/overview: total_requests 1, $0.0000",
]
ML_OPS_PATTERNS = [
    r"all models: latency P50 \d+\.\d ms, P95 \d+\.\d ms, time to first token P50 \d+\.\d ms",
    r"ana call [2-9]: gpt-4o -> gpt-4o-mini \(downgraded\), \$0\.0000\d\d, ana-daily 5\d% used",
    r"get_report\(\): 15 requests, \$0\.00\d+, 1 refused",
    r"  concise: 12 results, success 100% \(CI \d+%-100%\), latency P50 \d+\.\d ms",
    r"  detailed: 8 results, success 100% \(CI \d+%-100%\), latency P50 \d+\.\d ms",
    r"\(\d+ tokens\)\ndashboard /api/overview: total_requests 1, \$0\.0000\d+, P95 \d+\.\d ms",
]


def test_walk_through_runs_every_section_against_the_fakes() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"  # keep Rich from wrapping lines
    done = subprocess.run(
        [sys.executable, "-m", "ai.example_usage"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in [*AI_FACTS, *ML_OPS_FACTS]:
        assert expected in out, f"missing {expected!r} in:\n{out}"
    for pattern in ML_OPS_PATTERNS:
        assert re.search(pattern, out), f"no match for {pattern!r} in:\n{out}"
    assert "Loading weights" not in done.stderr + out
    assert "Traceback" not in done.stderr


async def test_ml_ops_sections_say_which_extra_to_install_without_uvicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.split(".")[:2] == ["ml_ops", "walkthrough"]]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails
    output = io.StringIO()
    console = Console(file=output, width=200)
    async with AsyncExitStack() as stack:
        await ml_ops_sections(console, stack)
    printed = output.getvalue()
    assert "Sections 6-11" in printed
    assert "skipped: uvicorn is missing; pip install 'devora-ai[server]'" in printed
    assert "6. Model selection" not in printed


async def test_ml_ops_sections_call_the_gateway_with_httpx_without_the_openai_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` now fails
    output = io.StringIO()
    console = Console(file=output, width=200)
    async with AsyncExitStack() as stack:
        await ml_ops_sections(console, stack)
    printed = output.getvalue()
    assert "httpx: fast answered 'Hello from the devora fake (gpt-4o-mini)." in printed
    assert "dashboard /api/overview: total_requests 1," in printed
