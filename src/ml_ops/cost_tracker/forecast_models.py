"""The three models behind spend forecasts, each turning a daily series into simulated paths.

Every model answers the same way, with a `SimulatedForecast`: a point forecast per day
and a few thousand simulated future paths. Intervals for single days, for a week's total
and for "the rest of this month, counting only 40% of today" are then all quantiles of
the same paths, so they agree with each other and the interval of a sum accounts for how
consecutive days move together, which per-day intervals cannot give.

- `fit_seasonal_ets`: statsmodels' `ETSModel` (additive errors, additive weekly
  seasonality, either a damped additive trend or none, picked by AICc). Used from four
  weeks of history; see `ml_ops.cost_tracker.forecast` for why.
- `fit_linear_trend`: ordinary least squares on a linear trend plus day-of-week offsets,
  with parameter uncertainty in the paths. Used from two weeks.
- `fit_mean`: the mean of what exists with a deliberately wide spread, below that.

statsmodels is imported inside `fit_seasonal_ets` only, so importing this module (and
`ml_ops.cost_tracker`) stays cheap.

Public names: `ForecastMethod`, `SimulatedForecast`, `ModelFitError`,
`fit_seasonal_ets`, `fit_linear_trend`, `fit_mean`, `captured_warnings`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ForecastMethod",
    "ModelFitError",
    "SimulatedForecast",
    "captured_warnings",
    "fit_linear_trend",
    "fit_mean",
    "fit_seasonal_ets",
]

FloatArray = NDArray[np.float64]

SEASON = 7
"""Days in the seasonal cycle: spend follows the working week."""
WIDE_SPREAD = 0.5
"""The least spread (as a fraction of the mean) `fit_mean` assumes: with under two weeks
of data the observed spread says little, so the interval is never narrower than this."""


class ForecastMethod(StrEnum):
    """Which model produced a forecast; chosen by how much history there is."""

    SEASONAL_ETS = "seasonal_ets"
    LINEAR_TREND = "linear_trend"
    INSUFFICIENT_DATA = "insufficient_data"


class ModelFitError(RuntimeError):
    """A model could not be fitted to this series; the caller falls back to a simpler one."""


@dataclass(frozen=True, slots=True)
class SimulatedForecast:
    """A model's answer: per-day point forecasts (shape ``(h,)``), simulated paths
    (shape ``(paths, h)``), both clipped at zero since spend cannot be negative, a short
    description of the fitted model, and what went wrong on the way (warnings raised by
    the fit, fallbacks taken)."""

    method: ForecastMethod
    model: str
    point: FloatArray
    paths: FloatArray
    notes: tuple[str, ...] = ()


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect every warning raised inside the block as ``"Category: message"`` text,
    deduplicated, instead of letting it reach the caller's log or test run.

    statsmodels warns freely (ConvergenceWarning, RuntimeWarnings from logs of zero);
    a forecast reports them in its result. Not thread-safe, like `warnings` itself.
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield notes
        finally:
            for item in caught:
                text = f"{item.category.__name__}: {item.message}"
                if text not in notes:
                    notes.append(text)


def fit_seasonal_ets(
    y: FloatArray, horizon: int, rng: np.random.Generator, n_paths: int
) -> SimulatedForecast:
    """ETS with additive errors and weekly seasonality, the trend (damped additive or
    none) chosen by AICc; raises `ModelFitError` when neither candidate fits.

    Parameters are fitted by maximum likelihood with heuristic initial states: ten times
    faster than estimating the states as well, and as accurate on our synthetic series
    (the differences were within the noise of 60 seeds). The series is divided by its
    scale before fitting so amounts of 1e-6 or 1e6 dollars fit alike.
    """
    scale = _scale(y)
    fitted, notes = _fit_candidates(y / scale)
    if not fitted:
        raise ModelFitError("; ".join(notes) or "no ETS model could be fitted")
    aicc, label, states, result = min(fitted, key=lambda item: item[0])
    with captured_warnings() as caught:
        point = np.asarray(result.forecast(horizon), dtype=np.float64)
        raw = np.asarray(
            result.simulate(horizon, anchor="end", repetitions=n_paths, rng=rng), dtype=np.float64
        ).reshape(horizon, n_paths)
    notes.extend(f"{label}: {text}" for text in caught)
    if not (np.isfinite(point).all() and np.isfinite(raw).all()):
        raise ModelFitError(f"{label} produced non-finite forecasts")
    # Parameters and initial states are estimated, not known; the simulation treats them as
    # known, so widen the spread around the mean by sqrt(n / (n - k)) for k estimated values.
    estimated = len(result.params) + states
    inflate = math.sqrt(len(y) / max(len(y) - estimated, 1))
    paths = point[None, :] + (raw.T - point[None, :]) * inflate
    return SimulatedForecast(
        method=ForecastMethod.SEASONAL_ETS,
        model=f"{label}, weekly seasonality, AICc {aicc:.1f}",
        point=_clip(point * scale),
        paths=_clip(paths * scale),
        notes=tuple(notes),
    )


def _fit_candidates(y: FloatArray) -> tuple[list[tuple[float, str, int, Any]], list[str]]:
    """Fit both ETS candidates; returns ``(aicc, label, initial states, result)`` for
    those that fitted with a finite AICc, and notes on warnings and failures."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    candidates = (
        ("add", True, "ETS(A,Ad,A)", 1 + 1 + (SEASON - 1)),  # level, trend, seasonal states
        (None, False, "ETS(A,N,A)", 1 + (SEASON - 1)),
    )
    fitted: list[tuple[float, str, int, Any]] = []
    notes: list[str] = []
    for trend, damped, label, states in candidates:
        result: Any = None
        with captured_warnings() as caught:
            try:
                result = ETSModel(
                    y,
                    error="add",
                    trend=trend,
                    damped_trend=damped,
                    seasonal="add",
                    seasonal_periods=SEASON,
                    initialization_method="heuristic",
                ).fit(disp=False)
            except Exception as exc:  # statsmodels raises a variety of errors on odd data
                notes.append(f"{label} could not be fitted: {type(exc).__name__}: {exc}")
        notes.extend(f"{label}: {text}" for text in caught)
        if result is not None and math.isfinite(result.aicc):
            fitted.append((float(result.aicc), label, states, result))
    return fitted, notes


def fit_linear_trend(
    y: FloatArray, first_weekday: int, horizon: int, rng: np.random.Generator, n_paths: int
) -> SimulatedForecast:
    """OLS on a linear trend plus day-of-week offsets (needs two weeks), with paths
    drawn from the predictive distribution under a flat prior: the noise variance from
    its scaled inverse chi-square, the coefficients around their estimate, then the
    day's noise. Per-day quantiles thus match the textbook t prediction interval, and the
    uncertainty of the slope, which dominates longer horizons, is in every path.
    """
    n = len(y)
    design = _trend_design(n + horizon, first_weekday)
    past, future = design[:n], design[n:]
    beta, *_ = np.linalg.lstsq(past, y, rcond=None)
    point = future @ beta
    dof = n - past.shape[1]
    residuals = y - past @ beta
    variance = float(residuals @ residuals) / dof if dof > 0 else 0.0
    notes: list[str] = []
    if variance <= 1e-12 * max(1.0, float(np.mean(y**2))):
        notes.append("history has no variation around the fitted trend: zero-width interval")
        paths = np.repeat(point[None, :], n_paths, axis=0)
    else:
        sigma2 = variance * dof / rng.chisquare(dof, n_paths)
        cov = np.linalg.pinv(past.T @ past)
        unit = rng.multivariate_normal(np.zeros(len(beta)), cov, size=n_paths, method="eigh")
        coefficients = beta[None, :] + np.sqrt(sigma2)[:, None] * unit
        noise = rng.standard_normal((n_paths, horizon)) * np.sqrt(sigma2)[:, None]
        paths = coefficients @ future.T + noise
    return SimulatedForecast(
        method=ForecastMethod.LINEAR_TREND,
        model=f"linear trend + day-of-week offsets (OLS, {n} days, {dof} residual dof)",
        point=_clip(point),
        paths=_clip(paths),
        notes=tuple(notes),
    )


def fit_mean(
    y: FloatArray, horizon: int, rng: np.random.Generator, n_paths: int
) -> SimulatedForecast:
    """The mean of what exists for every future day, for histories too short to tell a
    trend from the weekly pattern.

    The spread is the sample standard deviation but never below `WIDE_SPREAD` times the
    mean, drawn from Student's t with at least 2 degrees of freedom for both the level
    and each day: wide on purpose, since a week of data says little about the next one.
    """
    n = len(y)
    mean = float(np.mean(y))
    observed = float(np.std(y, ddof=1)) if n >= 2 else 0.0
    spread = max(observed, WIDE_SPREAD * mean)
    dof = max(n - 1, 2)
    level = mean + spread / math.sqrt(n) * rng.standard_t(dof, (n_paths, 1))
    paths = level + spread * rng.standard_t(dof, (n_paths, horizon))
    notes = [] if spread > 0 else ["history is all zeros: zero-width interval"]
    return SimulatedForecast(
        method=ForecastMethod.INSUFFICIENT_DATA,
        model=f"mean of {n} day{'s' if n != 1 else ''}, wide interval",
        point=_clip(np.full(horizon, mean)),
        paths=_clip(paths),
        notes=tuple(notes),
    )


def _trend_design(length: int, first_weekday: int) -> FloatArray:
    """Columns: intercept, day index, and one indicator per weekday but the first."""
    t = np.arange(length, dtype=np.float64)
    weekday = (first_weekday + np.arange(length)) % SEASON
    offsets = [(weekday == day).astype(np.float64) for day in range(1, SEASON)]
    return np.column_stack([np.ones(length), t, *offsets])


def _scale(y: FloatArray) -> float:
    """A positive number of the size of the series, to fit it near unit scale."""
    size = float(np.max(np.abs(y))) if len(y) else 0.0
    return size if size > 0 else 1.0


def _clip(values: FloatArray) -> FloatArray:
    """Spend is never negative; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    return np.maximum(values, 0.0) + 0.0
