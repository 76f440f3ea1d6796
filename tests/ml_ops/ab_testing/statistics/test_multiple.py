"""Holm's correction equals statsmodels' multipletests(method="holm")."""

from __future__ import annotations

import gc
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from ml_ops.ab_testing.statistics import holm_adjust


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_equals_statsmodels_holm(p_values: list[float]) -> None:
    # multipletests runs gc.collect() on every Holm call (~0.1 s with a test-sized heap).
    with mock.patch.object(gc, "collect", return_value=0):
        reject, adjusted, _, _ = multipletests(p_values, alpha=0.05, method="holm")
    ours = holm_adjust(p_values)
    assert list(ours) == pytest.approx(list(adjusted), abs=1e-12)
    assert [p <= 0.05 for p in ours] == list(reject)


def test_keeps_the_order_given() -> None:
    assert holm_adjust([0.04, 0.01, 0.03]) == pytest.approx((0.06, 0.03, 0.06))
    assert holm_adjust([]) == ()


def test_rejects_values_outside_zero_one() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm_adjust([0.5, 1.2])
