"""Reciprocal rank fusion and MMR: properties and hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.rag.ranking import maximal_marginal_relevance, mmr_select, reciprocal_rank_fusion

ids = st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10)


def test_rrf_hand_computed() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert next(id for id, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]])) == "b"


@given(st.lists(ids, min_size=1, max_size=4))
def test_rrf_covers_every_id_once_and_is_sorted(rankings: list[list[str]]) -> None:
    fused = reciprocal_rank_fusion(rankings)
    assert {id for id, _ in fused} == {id for ranking in rankings for id in ranking}
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


@given(ids)
def test_rrf_of_one_list_keeps_its_order(ranking: list[str]) -> None:
    assert [id for id, _ in reciprocal_rank_fusion([ranking])] == ranking


def test_mmr_prefers_diverse_results() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    near_duplicates = np.array([[0.99, 0.141], [0.99, 0.141], [0.7, -0.714]], dtype=np.float32)
    near_duplicates /= np.linalg.norm(near_duplicates, axis=1, keepdims=True)
    assert maximal_marginal_relevance(query, near_duplicates, 2, lambda_mult=0.5) == [0, 2]
    assert maximal_marginal_relevance(query, near_duplicates, 2, lambda_mult=1.0) == [0, 1]


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=2**32 - 1))
def test_mmr_returns_distinct_rows(top_k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    candidates = rng.normal(size=(8, 5)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    picked = maximal_marginal_relevance(candidates[0], candidates, top_k, 0.3)
    assert len(picked) == min(top_k, 8) == len(set(picked))
    assert picked[0] == int(
        np.argmax(candidates @ candidates[0])
    )  # nothing chosen yet: pure relevance


def test_mmr_validates_lambda() -> None:
    with pytest.raises(ValueError, match="lambda"):
        maximal_marginal_relevance(
            np.ones(2, dtype=np.float32), np.ones((1, 2), dtype=np.float32), 1, 1.5
        )


@given(
    st.integers(min_value=1, max_value=8),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_mmr_picks_are_a_prefix_whatever_top_k(top_k: int, lambda_mult: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    candidates = rng.normal(size=(10, 4)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    relevance = rng.random(10)
    fewer = mmr_select(relevance, candidates, top_k, lambda_mult)
    assert mmr_select(relevance, candidates, top_k + 2, lambda_mult)[:top_k] == fewer


def test_mmr_with_full_weight_on_relevance_sorts_by_it() -> None:
    candidates = np.eye(3, dtype=np.float32)
    assert mmr_select(np.array([0.2, 0.9, 0.5]), candidates, 3, 1.0) == [1, 2, 0]
