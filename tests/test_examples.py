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
