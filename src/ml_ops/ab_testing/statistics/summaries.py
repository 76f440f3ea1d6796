"""Per-variant sufficient statistics: everything a test needs, nothing it does not.

The store aggregates outcomes into these summaries (counts and sums, mergeable by
addition), and every function of `ml_ops.ab_testing.statistics` works on them alone, as
GrowthBook's gbstats does. `from_outcomes` and `from_values` build them from raw arrays,
for tests and for small in-memory experiments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ProportionSummary:
    """Units exposed (`n`) and units that succeeded (`successes`) in one variant.

    For rates such as success_rate: each unit counts once and either succeeded or not.
    """

    n: int
    successes: int

    def __post_init__(self) -> None:
        if self.n < 0 or self.successes < 0:
            raise ValueError(f"counts must be >= 0, got n={self.n}, successes={self.successes}")
        if self.successes > self.n:
            raise ValueError(f"successes ({self.successes}) exceed n ({self.n})")

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[bool | int]) -> ProportionSummary:
        """Summarise an array of 0/1 (or boolean) outcomes, one per unit."""
        values = _as_array(outcomes)
        if values.size and not np.isin(values, (0, 1)).all():
            raise ValueError("outcomes must be 0/1 or booleans")
        return cls(n=int(values.size), successes=int(values.sum()))

    @property
    def rate(self) -> float:
        """The observed success rate (0.0 when no unit was exposed)."""
        return self.successes / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The per-unit Bernoulli variance p(1 - p) at the observed rate."""
        return self.rate * (1.0 - self.rate)

    def to_mean_summary(self) -> MeanSummary:
        """The same data as a `MeanSummary` of 0/1 values (for CUPED or Welch on a rate)."""
        return MeanSummary(n=self.n, sum=float(self.successes), sum_squares=float(self.successes))

    def __add__(self, other: ProportionSummary) -> ProportionSummary:
        return ProportionSummary(self.n + other.n, self.successes + other.successes)


@dataclass(frozen=True, slots=True)
class MeanSummary:
    """Count, sum and sum of squares of a numeric metric (cost, latency, a score) in one
    variant, plus optional sums of a pre-period covariate x for CUPED: `sum_x`, `sum_x2`
    (sum of x squared) and `sum_xy` (sum of x times y). The covariate sums are all given or
    all omitted.
    """

    n: int
    sum: float
    sum_squares: float
    sum_x: float | None = None
    sum_x2: float | None = None
    sum_xy: float | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if self.sum_squares < 0 or not math.isfinite(self.sum_squares):
            raise ValueError(f"sum_squares must be finite and >= 0, got {self.sum_squares}")
        covariate = (self.sum_x, self.sum_x2, self.sum_xy)
        if any(c is None for c in covariate) and any(c is not None for c in covariate):
            raise ValueError("give all of sum_x, sum_x2 and sum_xy, or none of them")

    @classmethod
    def from_values(
        cls, values: Iterable[float], covariate: Iterable[float] | None = None
    ) -> MeanSummary:
        """Summarise raw per-unit values, with the pre-period covariate of the same units
        (same order) when given."""
        y = _as_array(values).astype(float)
        if covariate is None:
            return cls(n=int(y.size), sum=float(y.sum()), sum_squares=float((y * y).sum()))
        x = _as_array(covariate).astype(float)
        if x.shape != y.shape:
            raise ValueError(f"covariate has shape {x.shape}, values {y.shape}")
        return cls(
            n=int(y.size),
            sum=float(y.sum()),
            sum_squares=float((y * y).sum()),
            sum_x=float(x.sum()),
            sum_x2=float((x * x).sum()),
            sum_xy=float((x * y).sum()),
        )

    @property
    def has_covariate(self) -> bool:
        """Whether the CUPED covariate sums are present."""
        return self.sum_x is not None

    @property
    def mean(self) -> float:
        """The sample mean (0.0 when empty)."""
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance with n - 1 in the denominator (0.0 below two units)."""
        if self.n < 2:
            return 0.0
        return max(self.sum_squares - self.sum * self.sum / self.n, 0.0) / (self.n - 1)

    def __add__(self, other: MeanSummary) -> MeanSummary:
        if self.has_covariate != other.has_covariate:
            raise ValueError("cannot add a summary with covariate sums to one without")
        return MeanSummary(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=self.sum_squares + other.sum_squares,
            sum_x=_add(self.sum_x, other.sum_x),
            sum_x2=_add(self.sum_x2, other.sum_x2),
            sum_xy=_add(self.sum_xy, other.sum_xy),
        )


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _as_array(values: Iterable[float] | Iterable[bool | int]) -> np.ndarray:
    return values if isinstance(values, np.ndarray) else np.asarray(list(values))
