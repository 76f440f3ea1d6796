"""Sample ratio mismatch: are the exposures per variant what the weights promised?

A chi-square goodness-of-fit test of the observed unit counts against the configured
traffic weights. A mismatch means assignment or logging is broken (a variant that crashes
before logging, bots filtered in one arm, a redirect that loses users, weights changed mid
experiment), and then no comparison between the variants can be trusted, however
significant. The threshold is strict (p < 0.001 by default) because the check runs on every
experiment at every look and a false alarm stops a good experiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.special import chdtrc

from ml_ops.ab_testing.statistics.checks import check_probability
from ml_ops.ab_testing.statistics.results import json_float

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    """The chi-square statistic, its p-value, the expected counts and whether it flagged."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    p_value: float
    threshold: float
    mismatch: bool

    def to_dict(self) -> dict[str, Any]:
        """The check as plain JSON types."""
        return {
            "observed": list(self.observed),
            "expected": [json_float(e) for e in self.expected],
            "chi_square": json_float(self.chi_square),
            "p_value": json_float(self.p_value),
            "threshold": self.threshold,
            "mismatch": self.mismatch,
        }


def sample_ratio_mismatch(
    counts: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Test `counts` (units per variant) against `weights` (any positive numbers, scaled
    to sum to 1); flag a mismatch when p < `threshold`. Variants with weight 0 must have no
    units. Assumes units are assigned independently (no clustering) and the weights were the
    same for the whole period the counts cover.
    """
    check_probability("threshold", threshold)
    if len(counts) != len(weights) or len(counts) < 2:
        raise ValueError("give one weight per variant, at least two variants")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    if any(c < 0 for c in counts):
        raise ValueError(f"counts must be >= 0, got {list(counts)}")
    total = sum(counts)
    scale = sum(weights)
    expected = tuple(total * w / scale for w in weights)
    if any(e == 0 and c > 0 for c, e in zip(counts, expected, strict=True)):
        return SampleRatioCheck(tuple(counts), expected, float("inf"), 0.0, threshold, True)
    live = [(c, e) for c, e in zip(counts, expected, strict=True) if e > 0]
    chi_square = sum((c - e) ** 2 / e for c, e in live)
    p_value = float(chdtrc(len(live) - 1, chi_square)) if len(live) > 1 and total else 1.0
    return SampleRatioCheck(
        tuple(int(c) for c in counts), expected, chi_square, p_value, threshold, p_value < threshold
    )
