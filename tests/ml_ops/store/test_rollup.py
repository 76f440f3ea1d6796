"""Sketch keys: `sketch_keys` (a whole array at once) gives exactly the keys of
`sketch_key` and of DDSketch's own `LogarithmicMapping`, bin boundaries included."""

from __future__ import annotations

import numpy as np
from ddsketch.mapping import LogarithmicMapping
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_ops.store.rollup import RELATIVE_ACCURACY, sketch_key, sketch_keys

MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=200))
def test_keys_of_an_array_equal_the_keys_one_by_one(values: list[float]) -> None:
    keys = sketch_keys(np.array(values, dtype=np.float64))
    assert keys.tolist() == [sketch_key(value) for value in values]


def test_keys_on_bin_boundaries_and_edges_match_the_mapping() -> None:
    boundaries = [float(MAPPING.value(key)) for key in range(-800, 800)]
    gamma = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
    powers = [gamma**n for n in range(-300, 300)]
    positive = np.array([*boundaries, *powers, 1.0, 2.0, 1e-300, 1e300])
    assert sketch_keys(positive).tolist() == [MAPPING.key(value) for value in positive]
    edges = np.array([0.0, -0.0, -1.0, -1e300, 5e-324])  # the lowest bin, as sketch_key does
    assert sketch_keys(edges).tolist() == [sketch_key(value) for value in edges]
