"""`python -m ai.example_usage` (the spec's walk-through) runs offline, with no API key."""

from __future__ import annotations

import os
import subprocess
import sys


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
    for expected in [
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
    ]:
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert "Loading weights" not in done.stderr + out
