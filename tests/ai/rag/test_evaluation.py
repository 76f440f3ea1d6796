"""recall@k and nDCG@k: hand-checked values and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.rag.evaluation import ndcg_at_k, recall_at_k


def test_recall_hand_computed() -> None:
    assert recall_at_k(["a", "x", "b"], {"a": 2, "b": 1, "c": 1}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "x", "b"], {"a": 2, "b": 1, "c": 1}, 3) == pytest.approx(2 / 3)
    assert recall_at_k(["a"], {"a": 0}, 5) == 0.0


def test_ndcg_hand_computed() -> None:
    # gains 3 (grade 2) at rank 2, 1 (grade 1) at rank 1
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(1.0)


grades = st.dictionaries(
    st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=2), max_size=8
)
rankings = st.lists(st.sampled_from("abcdefghxyz"), unique=True, max_size=11)


@given(rankings, grades, st.integers(min_value=1, max_value=12))
def test_metrics_are_between_zero_and_one(
    ranked: list[str], relevant: dict[str, int], k: int
) -> None:
    assert 0.0 <= recall_at_k(ranked, relevant, k) <= 1.0
    assert 0.0 <= ndcg_at_k(ranked, relevant, k) <= 1.0 + 1e-9


@given(grades)
def test_the_ideal_ranking_scores_one(relevant: dict[str, int]) -> None:
    ideal = sorted((id for id, g in relevant.items() if g > 0), key=lambda id: -relevant[id])
    if ideal:
        assert ndcg_at_k(ideal, relevant, len(ideal)) == pytest.approx(1.0)
        assert recall_at_k(ideal, relevant, len(ideal)) == 1.0


@given(rankings, grades, st.integers(min_value=1, max_value=10))
def test_recall_never_drops_as_k_grows(ranked: list[str], relevant: dict[str, int], k: int) -> None:
    assert recall_at_k(ranked, relevant, k) <= recall_at_k(ranked, relevant, k + 1)
