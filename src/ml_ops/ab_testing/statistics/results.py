"""The value objects every test returns, and the closed sets they refer to.

Results are frozen dataclasses with a `to_dict()` that gives plain JSON types (non-finite
floats become None), so a decision can be stored, logged or served as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    """Which way is better for a metric: success rates go up, cost and latency go down."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class AnalysisMode(StrEnum):
    """How significance is judged: once at a planned sample size, or at any look."""

    FIXED_HORIZON = "fixed_horizon"
    SEQUENTIAL = "sequential"


class ComparisonMethod(StrEnum):
    """Which test produced a `Comparison`."""

    TWO_PROPORTION_Z = "two_proportion_z"
    WELCH_T = "welch_t"
    CONFIDENCE_SEQUENCE = "asymptotic_confidence_sequence"


class DecisionStatus(StrEnum):
    """The outcome of `decide`, from "stop and fix" to "ship"."""

    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch"
    INSUFFICIENT_SAMPLE = "insufficient_sample"
    NOT_SIGNIFICANT = "not_significant"
    CONTROL_WINS = "control_wins"
    WINNER = "winner"


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided interval [lower, upper]."""

    lower: float
    upper: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside the interval (ends included)."""
        return self.lower <= value <= self.upper

    def to_dict(self) -> dict[str, float | None]:
        """`{"lower": ..., "upper": ...}` with JSON-safe floats."""
        return {"lower": json_float(self.lower), "upper": json_float(self.upper)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment against the control on one metric.

    `difference` is treatment minus control on the metric's own scale, `relative_lift` is
    treatment / control - 1 (None when the control mean is 0). Intervals are at level
    1 - `alpha`; in sequential mode they are confidence sequences (valid at every look).
    `p_value` is unadjusted for multiple variants; `decide` applies Holm on top.
    """

    method: ComparisonMethod
    alpha: float
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    difference: float
    difference_ci: Interval
    relative_lift: float | None
    relative_lift_ci: Interval | None
    statistic: float
    p_value: float
    degrees_of_freedom: float | None = None

    @property
    def significant(self) -> bool:
        """Whether p < alpha (no correction for multiple variants)."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON types."""
        return {
            "method": self.method.value,
            "alpha": self.alpha,
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "control_mean": json_float(self.control_mean),
            "treatment_mean": json_float(self.treatment_mean),
            "difference": json_float(self.difference),
            "difference_ci": self.difference_ci.to_dict(),
            "relative_lift": json_float(self.relative_lift),
            "relative_lift_ci": (
                None if self.relative_lift_ci is None else self.relative_lift_ci.to_dict()
            ),
            "statistic": json_float(self.statistic),
            "p_value": json_float(self.p_value),
            "degrees_of_freedom": json_float(self.degrees_of_freedom),
        }


def json_float(value: float | None) -> float | None:
    """A float JSON can carry: None for None, NaN and infinities."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
