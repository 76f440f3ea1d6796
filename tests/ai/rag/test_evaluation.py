"""Retrieval metrics: hand-checked values, agreement with pytrec_eval (trec_eval), the
bootstrap, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.rag.evaluation import (
    DEFAULT_METRICS,
    Gain,
    Metric,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    paired_bootstrap,
    per_query,
    recall_at_k,
)

pytrec_eval = pytest.importorskip("pytrec_eval")


def test_recall_hand_computed() -> None:
    assert recall_at_k(["a", "x", "b"], {"a": 2, "b": 1, "c": 1}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "x", "b"], {"a": 2, "b": 1, "c": 1}, 3) == pytest.approx(2 / 3)
    assert recall_at_k(["a"], {"a": 0}, 5) == 0.0


def test_ndcg_hand_computed_with_linear_gains() -> None:
    # gains 2 (grade 2) at rank 2, 1 (grade 1) at rank 1: trec_eval's convention
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(1.0)


def test_exponential_gains_on_request() -> None:
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    got = ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10, gain=Gain.EXPONENTIAL)
    assert got == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10, gain="exponential") == got


def test_mrr_hand_computed() -> None:
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert mrr_at_k(["x", "x", "a"], {"a": 1}, 2) == pytest.approx(1 / 2)  # repeats count once


def test_metric_names() -> None:
    assert [str(m) for m in DEFAULT_METRICS] == ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    assert Metric.parse(" NDCG@5 ") == Metric("ndcg", 5)
    with pytest.raises(ValueError, match="unknown metric"):
        Metric.parse("map@10")
    with pytest.raises(ValueError, match="reads like"):
        Metric.parse("ndcg")


QRELS = {
    "q1": {"a": 2, "b": 1, "c": 0, "d": 1},
    "q2": {"x": 1},
    "q3": {"m": 0},  # judged only not relevant: left out of the means
}
RUN = {"q1": ["c", "b", "z", "a"], "q2": ["y", "w"], "q3": ["m"]}


def pytrec(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int) -> dict:
    """pytrec_eval on `run` cut at k, scores derived from the ranks (no ties)."""
    scored = {q: {d: float(len(ids) - i) for i, d in enumerate(ids[:k])} for q, ids in run.items()}
    measures = {f"ndcg_cut.{k}", f"recall.{k}", "recip_rank"}
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(scored)


def test_equal_to_pytrec_eval_on_hand_made_qrels() -> None:
    theirs = pytrec(RUN, QRELS, 10)
    for query in ("q1", "q2"):
        assert ndcg_at_k(RUN[query], QRELS[query], 10) == pytest.approx(
            theirs[query]["ndcg_cut_10"]
        )
        assert recall_at_k(RUN[query], QRELS[query], 10) == pytest.approx(
            theirs[query]["recall_10"]
        )
        assert mrr_at_k(RUN[query], QRELS[query], 10) == pytest.approx(theirs[query]["recip_rank"])
    means = evaluate(RUN, QRELS)
    assert means["ndcg@10"] == pytest.approx(
        (theirs["q1"]["ndcg_cut_10"] + theirs["q2"]["ndcg_cut_10"]) / 2
    )
    assert set(per_query(RUN, QRELS, Metric("ndcg", 10))) == {"q1", "q2"}


docs = st.sampled_from("abcdefghijklmnop")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(docs, st.integers(min_value=0, max_value=3), min_size=1, max_size=10),
    st.lists(docs, unique=True, max_size=16),
    st.sampled_from([1, 3, 5, 10]),
)
def test_equal_to_pytrec_eval_on_generated_judgments(
    judged: dict[str, int], ranked: list[str], k: int
) -> None:
    if not any(grade > 0 for grade in judged.values()):
        judged = {**judged, "a": 1}
    theirs = pytrec({"q": ranked}, {"q": judged}, k)["q"]
    assert ndcg_at_k(ranked, judged, k) == pytest.approx(theirs[f"ndcg_cut_{k}"], abs=1e-9)
    assert recall_at_k(ranked, judged, k) == pytest.approx(theirs[f"recall_{k}"], abs=1e-9)
    assert mrr_at_k(ranked, judged, k) == pytest.approx(theirs["recip_rank"], abs=1e-9)


grades = st.dictionaries(
    st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=2), max_size=8
)
rankings = st.lists(st.sampled_from("abcdefghxyz"), unique=True, max_size=11)


@given(rankings, grades, st.integers(min_value=1, max_value=12))
def test_metrics_are_between_zero_and_one(
    ranked: list[str], relevant: dict[str, int], k: int
) -> None:
    for gain in Gain:
        assert 0.0 <= ndcg_at_k(ranked, relevant, k, gain=gain) <= 1.0 + 1e-9
    assert 0.0 <= recall_at_k(ranked, relevant, k) <= 1.0
    assert 0.0 <= mrr_at_k(ranked, relevant, k) <= 1.0


@given(grades)
def test_the_ideal_ranking_scores_one(relevant: dict[str, int]) -> None:
    ideal = sorted((id for id, g in relevant.items() if g > 0), key=lambda id: -relevant[id])
    if ideal:
        assert ndcg_at_k(ideal, relevant, len(ideal)) == pytest.approx(1.0)
        assert recall_at_k(ideal, relevant, len(ideal)) == 1.0
        assert mrr_at_k(ideal, relevant, 1) == 1.0


@given(rankings, grades, st.integers(min_value=1, max_value=10))
def test_recall_never_drops_as_k_grows(ranked: list[str], relevant: dict[str, int], k: int) -> None:
    assert recall_at_k(ranked, relevant, k) <= recall_at_k(ranked, relevant, k + 1)


def test_bootstrap_of_identical_systems_is_zero() -> None:
    same = paired_bootstrap([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])
    assert (same.mean, same.low, same.high, same.significant) == (0.0, 0.0, 0.0, False)


def test_bootstrap_of_a_constant_shift_is_that_shift() -> None:
    shifted = paired_bootstrap([0.3, 0.6, 0.8, 0.5], [0.1, 0.4, 0.6, 0.3])
    assert shifted.mean == pytest.approx(0.2)
    assert shifted.low == pytest.approx(0.2) and shifted.high == pytest.approx(0.2)
    assert shifted.significant and shifted.queries == 4
    assert str(shifted) == "+0.200 [+0.200, +0.200]"


@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.floats(0, 1)),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=0, max_value=1000),
)
def test_bootstrap_interval_holds_the_mean_and_is_deterministic(
    pairs: list[tuple[float, float]], seed: int
) -> None:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    result = paired_bootstrap(a, b, samples=500, seed=seed)
    assert result.low - 1e-9 <= result.high
    assert min(x - y for x, y in pairs) - 1e-9 <= result.low
    assert result.high <= max(x - y for x, y in pairs) + 1e-9
    assert paired_bootstrap(a, b, samples=500, seed=seed) == result


def test_bootstrap_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([1.0], [1.0], confidence=1.0)
    assert paired_bootstrap([], []).queries == 0
