"""How the fake upstream behaves when nothing fails: each model's speed and how long
its answers are, so latency, cost and the experiment's result mean something.

Speeds follow `benchmarks/replay.py` (gpt-4o: 0.40 s to the first token, 60 tokens/s;
gpt-4o-mini: 0.35 s, 110 tokens/s; Claude Sonnet: 1.0 s, 60 tokens/s; Claude Haiku's is
an assumption of the same order), multiplied by the tour's `pace`. Answer lengths are
drawn per prompt (the same prompt gets the same length from every model): support
replies of the thorough version run about four times longer than the concise one's,
research notes 60 tokens exactly (so the budget is crossed on a known call), answers
from the docs about 120 tokens, everything else about 60.
"""

from __future__ import annotations

from typing import Any

from ml_ops.demo.cast import PASTE_PROMPTS
from ml_ops.demo.experiment import CONCISE_MARK, DETAILED_MARK
from ml_ops.demo.settings import TourSettings

RESEARCH_MARK = "You are a research analyst"
RAG_MARK = "You answer questions using only the numbered sources"
RESEARCH_ANSWER_TOKENS = 60

# (time to first token s, tokens per second) at full pace.
LATENCY: dict[str, tuple[float, float]] = {
    "gpt-4o": (0.40, 60.0),
    "gpt-4o-mini": (0.35, 110.0),
    "claude-sonnet-4-5": (1.0, 60.0),
    "claude-haiku-4-5": (0.5, 100.0),
}


def latencies(settings: TourSettings) -> dict[str, tuple[float, float]]:
    """Each model's speed at the tour's pace."""
    pace = settings.pace
    return {model: (ttft * pace, rate / pace) for model, (ttft, rate) in LATENCY.items()}


def answer_lengths(settings: TourSettings) -> dict[str, Any]:
    """The body of `POST /_fake/lengths`: log-normal lengths per kind of prompt."""
    rules: list[dict[str, Any]] = [
        {"contains": DETAILED_MARK, "median": 280, "sigma": 0.3, "maximum": 900},
        {"contains": CONCISE_MARK, "median": 70, "sigma": 0.3, "maximum": 300},
        {"contains": RESEARCH_MARK, "median": RESEARCH_ANSWER_TOKENS, "sigma": 0.0},
        {"contains": RAG_MARK, "median": 120, "sigma": 0.4, "maximum": 600},
    ]
    for paste in PASTE_PROMPTS:
        opening = paste.split("{", 1)[0].strip()
        rules.append({"contains": opening, "median": 220, "sigma": 0.4, "maximum": 800})
    return {
        "seed": settings.seed,
        "default": {"median": 60, "sigma": 0.6, "maximum": 400},
        "rules": rules,
    }


__all__ = [
    "LATENCY",
    "RAG_MARK",
    "RESEARCH_ANSWER_TOKENS",
    "RESEARCH_MARK",
    "answer_lengths",
    "latencies",
]
