"""The next cheaper model of a family."""

from __future__ import annotations

import pytest

from ml_ops.cost_tracker.downgrades import DEFAULT_DOWNGRADES, cheaper_model
from tests.ml_ops.cost_tracker.records import PRICING


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o-mini"),
        ("GPT-4o ", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o-mini"),
        ("gpt-4o-2024-05-13", "gpt-4o-mini"),
        ("openai/gpt-4o", "openai/gpt-4o-mini"),
        ("claude-sonnet-4-5-20250929", "claude-haiku-4-5"),
        ("anthropic/claude-sonnet-4.5", "anthropic/claude-haiku-4.5"),
        ("gemini-2.5-pro", "gemini-2.5-flash"),
        ("gpt-4o-mini", None),
        ("my-finetune", None),
    ],
)
def test_cheaper_model(model: str, expected: str | None) -> None:
    assert cheaper_model(model) == expected


def test_a_custom_table_replaces_the_default() -> None:
    assert cheaper_model("gpt-4o", {"GPT-4o": "gpt-4.1-nano"}) == "gpt-4.1-nano"
    assert cheaper_model("gpt-5", {}) is None


def test_every_default_pair_is_priced_and_cheaper() -> None:
    for expensive, cheap in DEFAULT_DOWNGRADES.items():
        high, low = PRICING.get(expensive), PRICING.get(cheap)
        assert high is not None, expensive
        assert low is not None, cheap
        assert low.input <= high.input, (expensive, cheap)
        assert low.output <= high.output, (expensive, cheap)
        assert (low.input, low.output) != (high.input, high.output), (expensive, cheap)
