"""Fusion of hybrid search's two lists: hand-checked values and properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.rag.fusion import (
    DEFAULT_FUSION,
    ConvexCombination,
    Fusion,
    Normalization,
    ReciprocalRankFusion,
    ScoredList,
)

FUSIONS: list[Fusion] = [
    ReciprocalRankFusion(),
    ReciprocalRankFusion(10, (1.0, 0.5)),
    ConvexCombination(0.7, Normalization.MIN_MAX),
    ConvexCombination(0.7, Normalization.THEORETICAL_MIN),
    ConvexCombination(0.3, Normalization.THEORETICAL_MIN),
]

ids = st.sampled_from("abcdefghij")
scores = st.floats(min_value=-1.0, max_value=30.0, allow_nan=False)


@st.composite
def legs(draw: st.DrawFn) -> list[ScoredList]:
    found = []
    for floor in (-1.0, 0.0):
        chosen = draw(st.lists(ids, unique=True, max_size=8))
        values = draw(st.lists(scores, min_size=len(chosen), max_size=len(chosen)))
        found.append(ScoredList(chosen, [max(v, floor) for v in values], floor))
    return found


def test_rrf_hand_computed() -> None:
    fused = dict(
        ReciprocalRankFusion(60).fuse([ScoredList("ab", [2, 1]), ScoredList("bc", [5, 4])])
    )
    assert fused == pytest.approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61, "c": 1 / 62})
    weighted = dict(
        ReciprocalRankFusion(60, (1.0, 0.5)).fuse([ScoredList("a", [1]), ScoredList("b", [1])])
    )
    assert weighted == pytest.approx({"a": 1 / 61, "b": 0.5 / 61})


def test_convex_combination_hand_computed() -> None:
    vector = ScoredList(["a", "b", "c"], [0.8, 0.6, 0.0], floor=-1.0)
    bm25 = ScoredList(["b", "d"], [10.0, 5.0], floor=0.0)
    theoretical = dict(ConvexCombination(0.5, Normalization.THEORETICAL_MIN).fuse([vector, bm25]))
    assert theoretical == pytest.approx(
        {"a": 0.5 * 1.0, "b": 0.5 * (1.6 / 1.8) + 0.5 * 1.0, "c": 0.5 * (1 / 1.8), "d": 0.25}
    )
    minmax = dict(ConvexCombination(0.5, Normalization.MIN_MAX).fuse([vector, bm25]))
    assert minmax == pytest.approx({"a": 0.5, "b": 0.5 * 0.75 + 0.5, "c": 0.0, "d": 0.0})


def test_the_default_is_the_measured_choice() -> None:
    # docs/rag.md, "Choosing the defaults": chosen on five collections
    assert ConvexCombination(0.8, Normalization.THEORETICAL_MIN) == DEFAULT_FUSION


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        ConvexCombination(1.5)
    with pytest.raises(ValueError, match="k must"):
        ReciprocalRankFusion(0)
    with pytest.raises(ValueError, match="weights"):
        ReciprocalRankFusion(60, (1.0,)).fuse([ScoredList("a", [1]), ScoredList("b", [1])])
    with pytest.raises(ValueError, match="twice"):
        ScoredList(["a", "a"], [1, 2])


@given(legs())
def test_every_id_appears_once_best_first(lists: list[ScoredList]) -> None:
    for fusion in FUSIONS:
        fused = fusion.fuse(lists)
        assert sorted(id for id, _ in fused) == sorted({id for leg in lists for id in leg.ids})
        values = [score for _, score in fused]
        assert values == sorted(values, reverse=True)


@given(legs())
def test_scores_stay_in_range(lists: list[ScoredList]) -> None:
    for fusion in FUSIONS:
        for _, score in fusion.fuse(lists):
            if isinstance(fusion, ConvexCombination):
                assert 0.0 <= score <= 1.0
            else:
                weights = fusion.weights or (1.0, 1.0)
                assert 0.0 < score <= sum(weights) / (fusion.k + 1) + 1e-12


@given(legs(), st.randoms(use_true_random=False))
def test_the_order_of_the_input_does_not_matter(
    lists: list[ScoredList], rng: random.Random
) -> None:
    shuffled = []
    for leg in lists:
        pairs = list(zip(leg.ids, leg.scores, strict=True))
        rng.shuffle(pairs)
        shuffled.append(ScoredList([p[0] for p in pairs], [p[1] for p in pairs], leg.floor))
    for fusion in FUSIONS:
        assert fusion.fuse(shuffled) == fusion.fuse(lists)


@given(legs())
def test_swapping_equally_weighted_legs_changes_nothing(lists: list[ScoredList]) -> None:
    same_floor = [ScoredList(leg.ids, leg.scores, 0.0) for leg in lists]
    for fusion in (ReciprocalRankFusion(), ConvexCombination(0.5, Normalization.MIN_MAX)):
        assert fusion.fuse(same_floor) == fusion.fuse(same_floor[::-1])


@given(legs(), st.integers(min_value=0, max_value=1), st.floats(min_value=0.0, max_value=20.0))
def test_raising_a_score_never_lowers_that_result(
    lists: list[ScoredList], which: int, boost: float
) -> None:
    leg = lists[which]
    if not leg.ids:
        return
    target = leg.ids[0]
    raised = list(lists)
    raised[which] = ScoredList(leg.ids, [leg.scores[0] + boost, *leg.scores[1:]], leg.floor)
    for fusion in FUSIONS:
        before = [id for id, _ in fusion.fuse(lists)]
        after = [id for id, _ in fusion.fuse(raised)]
        assert after.index(target) <= before.index(target)
