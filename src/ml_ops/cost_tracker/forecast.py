"""Spend forecasts: the next N days, and where a budget period will end up.

Input is a daily spend series, local calendar dates to amounts, with missing days meaning
no spend. The model depends on how much history there is, because a model that needs
more data than it has is worse than a simple one:

- 28 days or more: ETS with weekly seasonality (`ForecastMethod.SEASONAL_ETS`).
  statsmodels' `ETSModel` rather than `holtwinters.ExponentialSmoothing`: it is the
  state-space form with a likelihood, so candidate trends can be compared by AICc and
  future paths simulated from the fitted error distribution. Below four weeks, our
  measurements showed its intervals covering far less than their nominal rate.
- 14 to 27 days: a linear trend plus day-of-week offsets (`LINEAR_TREND`), with
  intervals from the residuals. Under two weeks a trend cannot be told apart from where
  the weekend falls (a week ending on a Saturday "trends" down).
- 1 to 13 days: the mean of what exists with a wide interval (`INSUFFICIENT_DATA`).

Intervals are quantiles of simulated paths (`forecast_models`), so the interval of a
total is that of the sum, not a sum of intervals. Everything returned has `to_dict()`
giving plain JSON types. No warning escapes: what statsmodels warns about lands in
`notes`. Negative or non-finite amounts are a `ValueError`; every other series (all
zeros, one day, a constant) gets an answer.

Public names: `ForecastMethod`, `ForecastInterval`, `DayForecast`, `SpendForecast`,
`PeriodForecast`, `forecast_spend`, `forecast_period_end`, `daily_series`, `DEFAULT_LEVELS`,
`SEASONAL_MIN_DAYS`, `TREND_MIN_DAYS`, `MAX_HISTORY_DAYS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ml_ops.cost_tracker.forecast_models import (
    FloatArray,
    ForecastMethod,
    ModelFitError,
    SimulatedForecast,
    fit_linear_trend,
    fit_mean,
    fit_seasonal_ets,
)
from ml_ops.cost_tracker.periods import (
    BudgetPeriod,
    Weekday,
    fraction_elapsed,
    period_bounds,
    period_key,
    resolve_zone,
)

__all__ = [
    "DEFAULT_LEVELS",
    "MAX_HISTORY_DAYS",
    "SEASONAL_MIN_DAYS",
    "TREND_MIN_DAYS",
    "DayForecast",
    "ForecastInterval",
    "ForecastMethod",
    "PeriodForecast",
    "SpendForecast",
    "daily_series",
    "forecast_period_end",
    "forecast_spend",
]

SEASONAL_MIN_DAYS = 28
"""Days of history from which the seasonal ETS model is used."""
TREND_MIN_DAYS = 14
"""Days of history from which the linear trend is used (below: the mean)."""
MAX_HISTORY_DAYS = 364
"""Only the latest 52 weeks are fitted: older spend says little and costs fit time."""
DEFAULT_LEVELS = (0.8, 0.95)
"""Prediction interval levels reported unless others are asked for."""
DEFAULT_PATHS = 2000


@dataclass(frozen=True, slots=True)
class ForecastInterval:
    """A central prediction interval: the truth should fall in ``[lower, upper]`` with
    probability `level` if the model is right."""

    level: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, float]:
        """Plain JSON types."""
        return {"level": self.level, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True, slots=True)
class DayForecast:
    """Expected spend on one local calendar day, with its intervals."""

    day: date
    point: float
    intervals: tuple[ForecastInterval, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "day": self.day.isoformat(),
            "point": self.point,
            "intervals": [i.to_dict() for i in self.intervals],
        }


@dataclass(frozen=True, slots=True)
class SpendForecast:
    """Forecast spend for the days after the history: which method and model, the point
    forecast per day, the total over those days and its intervals, and `notes` on what
    the fit warned about or fell back from."""

    method: ForecastMethod
    model: str
    history_days: int
    days: tuple[DayForecast, ...]
    total: float
    total_intervals: tuple[ForecastInterval, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "method": self.method.value,
            "model": self.model,
            "history_days": self.history_days,
            "days": [d.to_dict() for d in self.days],
            "total": self.total,
            "total_intervals": [i.to_dict() for i in self.total_intervals],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    """Where a budget period's spend will end: what is spent so far plus the forecast for
    the rest of it, with intervals, and the chance of going over `limit` when one is given.
    `forecast` holds the per-day forecast (whole days, today included)."""

    period: BudgetPeriod
    key: str
    start: datetime
    end: datetime
    spent: float
    projected_total: float
    intervals: tuple[ForecastInterval, ...]
    forecast: SpendForecast
    limit: float | None = None
    probability_over_limit: float | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "period": self.period.value,
            "key": self.key,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "spent": self.spent,
            "projected_total": self.projected_total,
            "intervals": [i.to_dict() for i in self.intervals],
            "limit": self.limit,
            "probability_over_limit": self.probability_over_limit,
            "forecast": self.forecast.to_dict(),
            "notes": list(self.notes),
        }


def forecast_spend(
    history: Mapping[date, float],
    horizon_days: int = 7,
    *,
    last_day: date | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    seed: int = 0,
) -> SpendForecast:
    """Forecast spend for the `horizon_days` days after `last_day`.

    `history` maps local dates to the day's spend; days between its first date and
    `last_day` (default: its last date) that it lacks count as zero, so pass `last_day`
    when recent days had no spend. `seed` makes the simulated intervals reproducible.
    """
    checked = _check_levels(levels)
    days, used, simulated = _simulate(history, horizon_days, last_day, seed)
    return _spend_forecast(simulated, days, used, checked)


def forecast_period_end(
    history: Mapping[date, float],
    period: BudgetPeriod | str,
    now: datetime,
    *,
    spent: float,
    tz: str | ZoneInfo = "UTC",
    week_start: Weekday | int = Weekday.MONDAY,
    limit: float | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    seed: int = 0,
) -> PeriodForecast:
    """Project the spend of the budget period holding `now` to its end.

    `history` holds whole local days before today (in `tz`); `spent` is what the period
    has cost so far, today's part included. The rest of today is forecast as the
    unelapsed fraction of today's forecast (spend assumed even through the day), then
    every later day of the period in full.
    """
    kind = BudgetPeriod(period)
    zone = resolve_zone(tz)
    for name, amount in (("spent", spent), ("limit", limit)):
        if amount is not None and (not math.isfinite(amount) or amount < 0):
            raise ValueError(f"{name} must be a finite amount >= 0, got {amount!r}")
    start, end = period_bounds(kind, now, zone, week_start)  # refuses a naive `now`
    today = now.astimezone(zone).date()
    daily_series(history)  # validates before the dates are compared
    if max(history) >= today:
        raise ValueError(f"history must hold whole days before today ({today.isoformat()})")
    last_date = (end - timedelta(microseconds=1)).astimezone(zone).date()
    horizon = max((last_date - today).days + 1, 1)
    checked = _check_levels(levels)
    days, used, simulated = _simulate(history, horizon, today - timedelta(days=1), seed)
    weights = np.ones(horizon)
    weights[0] = 1.0 - fraction_elapsed(BudgetPeriod.DAILY, now, zone)
    remaining = simulated.paths @ weights
    projected = spent + float(simulated.point @ weights)
    over = None if limit is None else float(np.mean(spent + remaining > limit))
    return PeriodForecast(
        period=kind,
        key=period_key(kind, now, zone, week_start),
        start=start,
        end=end,
        spent=spent,
        projected_total=projected,
        intervals=tuple(_interval(spent + remaining, level) for level in checked),
        forecast=_spend_forecast(simulated, days, used, checked),
        limit=limit,
        probability_over_limit=over,
        notes=simulated.notes,
    )


def _simulate(
    history: Mapping[date, float], horizon: int, last_day: date | None, seed: int
) -> tuple[list[date], int, SimulatedForecast]:
    """Validate and densify the history, pick the model by its length, fit, simulate.

    Returns the forecast dates, the number of history days used, and the simulation.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon_days must be a positive integer, got {horizon!r}")
    first, y = daily_series(history, last_day)
    if len(y) > MAX_HISTORY_DAYS:
        first += timedelta(days=len(y) - MAX_HISTORY_DAYS)
        y = y[-MAX_HISTORY_DAYS:]
    start = first + timedelta(days=len(y))
    days = [start + timedelta(days=i) for i in range(horizon)]
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    if len(y) >= SEASONAL_MIN_DAYS:
        try:
            if np.ptp(y) == 0:
                raise ModelFitError("history is constant")
            return days, len(y), fit_seasonal_ets(y, horizon, rng, DEFAULT_PATHS)
        except ModelFitError as exc:
            notes.append(f"seasonal ETS not used, fell back to a linear trend: {exc}")
    if len(y) >= TREND_MIN_DAYS:
        fitted = fit_linear_trend(y, first.weekday(), horizon, rng, DEFAULT_PATHS)
    else:
        fitted = fit_mean(y, horizon, rng, DEFAULT_PATHS)
    return days, len(y), _with_notes(fitted, notes)


def daily_series(
    history: Mapping[date, float], last_day: date | None = None
) -> tuple[date, FloatArray]:
    """The history as a dense array from its first date to `last_day` (default: its
    last date), days it lacks as 0, and that first date.

    Raises `ValueError` for an empty history, keys that are not dates (a `datetime` is
    refused: which local day it falls on depends on a time zone), amounts that are
    negative or not finite, and a `last_day` before the history's last date.
    """
    if not history:
        raise ValueError("history is empty: there is nothing to forecast from")
    for day, amount in history.items():
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"history keys must be dates, got {day!r}")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise ValueError(f"spend on {day.isoformat()} must be a number, got {amount!r}")
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"spend on {day.isoformat()} must be finite and >= 0, got {amount!r}")
    first, latest = min(history), max(history)
    end = latest if last_day is None else last_day
    if end < latest:
        raise ValueError(
            f"last_day {end.isoformat()} is before the history's last day {latest.isoformat()}"
        )
    y = np.zeros((end - first).days + 1, dtype=np.float64)
    for day, amount in history.items():
        y[(day - first).days] = float(amount)
    return first, y


def _spend_forecast(
    simulated: SimulatedForecast, days: list[date], history_days: int, levels: tuple[float, ...]
) -> SpendForecast:
    """Turn simulated paths into per-day and total intervals."""
    per_day = tuple(
        DayForecast(
            day=day,
            point=float(simulated.point[i]),
            intervals=tuple(_interval(simulated.paths[:, i], level) for level in levels),
        )
        for i, day in enumerate(days)
    )
    totals = simulated.paths.sum(axis=1)
    return SpendForecast(
        method=simulated.method,
        model=simulated.model,
        history_days=history_days,
        days=per_day,
        total=float(simulated.point.sum()),
        total_intervals=tuple(_interval(totals, level) for level in levels),
        notes=simulated.notes,
    )


def _interval(samples: FloatArray, level: float) -> ForecastInterval:
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(samples, [tail, 1.0 - tail])
    return ForecastInterval(level=level, lower=float(lower), upper=float(upper))


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    checked = tuple(float(level) for level in levels)
    if not checked or any(not 0.0 < level < 1.0 for level in checked):
        raise ValueError(f"interval levels must lie strictly between 0 and 1, got {levels!r}")
    return checked


def _with_notes(fitted: SimulatedForecast, notes: list[str]) -> SimulatedForecast:
    if not notes:
        return fitted
    return SimulatedForecast(
        method=fitted.method,
        model=fitted.model,
        point=fitted.point,
        paths=fitted.paths,
        notes=(*notes, *fitted.notes),
    )
