"""Difference and relative lift with their intervals, shared by every frequentist test.

The relative lift uses the delta method (as gbstats does): for means m_c, m_t with
variances of the means v_c, v_t, Var(m_t / m_c) ~= v_t / m_c^2 + m_t^2 v_c / m_c^4. It
assumes the control mean is well away from zero relative to its standard error.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ml_ops.ab_testing.statistics.results import Interval


class Effects(NamedTuple):
    """Absolute difference and relative lift, each with a symmetric interval."""

    difference: float
    difference_ci: Interval
    relative_lift: float | None
    relative_lift_ci: Interval | None


def effects(
    control_mean: float,
    control_var_of_mean: float,
    treatment_mean: float,
    treatment_var_of_mean: float,
    critical: float,
) -> Effects:
    """The difference treatment - control with `critical` times its unpooled standard
    error either side, and the relative lift with its delta-method interval."""
    difference = treatment_mean - control_mean
    half = critical * math.sqrt(control_var_of_mean + treatment_var_of_mean)
    difference_ci = Interval(difference - half, difference + half)
    if control_mean == 0:
        return Effects(difference, difference_ci, None, None)
    lift = treatment_mean / control_mean - 1.0
    lift_var = (
        treatment_var_of_mean / control_mean**2
        + treatment_mean**2 * control_var_of_mean / control_mean**4
    )
    lift_half = critical * math.sqrt(lift_var)
    return Effects(difference, difference_ci, lift, Interval(lift - lift_half, lift + lift_half))
