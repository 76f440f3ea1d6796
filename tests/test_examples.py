"""Every script in examples/ runs offline and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = {
    "llm_quickstart.py": ["Response: ", "Cost: $"],
    "llm_streaming.py": ["time to first token", "cost: $"],
    "llm_resilience.py": ["attempts=2", "answered by anthropic/", "fallback=True"],
    "rag_quickstart.py": [
        "context for the prompt:\n[1] (source: 1)",
        "hybrid: best source 3",
        "['1', '2']",
    ],
    "prompts_quickstart.py": [
        "built-in code review templates: ['code_review', 'pull_request_description']",
        "labels: {'production': 1, 'staging': 2} latest: 2",
        "changed between v1 and v2: ('messages',)",
        "ana gets version 2 (staging)\ndia gets version 1 (production)\nana gets version 2",
        "exposures per (variant, version): {('staging', 2): 2, ('production', 1): 1}",
        "production is version 1",
    ],
    "llm_cache.py": [
        "second call cached=True",
        "-> 1 provider call(s)",
        "provider requests in total: 2",
    ],
    "model_routing.py": [
        "'auto' -> gpt-4o-mini (route simple:rule:short_prompt)",
        "'gpt-4o' -> gpt-4o (route complex:rule:hard_category)",
        "'gpt-4o' -> gpt-4o-mini (route simple:hint)",
        "2 calls routed to gpt-4o-mini cost $",
    ],
    "monitoring_quickstart.py": [
        "one call failed: HTTP 503",
        "requests: 10, success rate 90%",
        "latency P50 ",
        "errors: {'overloaded': 1}",
        "  gpt-4o-mini: 9 requests",
        "  openai/gpt-4o-mini: 1 requests, $0.020000",
        "ALERT firing: error-rate: error_rate > 0.05 over 5m is 0.1",
        "alerts firing: ['error-rate']",
    ],
    "costs_budget.py": [
        "alice call 1: gpt-4o, $",
        "alice call 5: gpt-4o-mini, $",
        "bob call 3: refused: BudgetExceededError",
        "report: 8 requests, $0.00",
        ", 1 refused",
        "budget alice: 58.9% used, in effect: True",
    ],
    "ab_testing_quickstart.py": [
        "user-7 got concise, and asking again: concise",
        "prompt_test: running, 40 results",
        "  concise: 22 results, success 100%",
        "  detailed: 18 results, success 100%",
        "decision: insufficient_sample: no winner yet: n=22/18 (concise/detailed)",
    ],
    "dashboard_quickstart.py": [
        "Total requests: 12",
        "Total cost: $0.0",
        "Top models by cost: ['gpt-4o', 'gpt-4o-mini']",
        "System health: healthy",
        "budgets: healthy (1 budgets, none spent)",
        "experiment cheaper-model: running, results per variant {'current': 2, 'mini': 10}",
    ],
    "gateway_openai_sdk.py": [
        "POST /admin/keys: 201, a key for ana: sk-dvr-",
        "answer: Hello from the devora fake (gpt-4o-mini). You said: Hello, gateway!",
        "dashboard: 1 request, $0.0000",
    ],
}


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for expected in EXPECTED[script]:
        assert expected in done.stdout, done.stdout
