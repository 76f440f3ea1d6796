"""Seeded synthetic daily spend: a weekday/weekend pattern, a linear trend, Gaussian noise.

Shared by the forecast tests and the numbers quoted in docs/costs.md.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

WEEK = (10.0, 11.0, 10.5, 12.0, 11.0, 4.0, 3.5)
"""Mean spend Monday to Sunday (USD): busy weekdays, quiet weekends."""
START = date(2026, 1, 5)  # a Monday


def seasonal_spend(
    seed: int,
    days: int,
    *,
    base: float = 5.0,
    slope: float = 0.05,
    noise: float = 1.2,
    start: date = START,
) -> dict[date, float]:
    """`days` days of spend from `start`: base + slope x day + weekday mean + N(0, noise),
    floored at zero."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekday = (start.weekday() + t) % 7
    values = base + slope * t + np.asarray(WEEK)[weekday] + rng.normal(0.0, noise, days)
    return {
        start + timedelta(days=int(i)): float(max(v, 0.0)) for i, v in zip(t, values, strict=True)
    }
