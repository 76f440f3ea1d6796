"""How good is a spend forecast? Held-out weeks scored against a seasonal naive baseline.

The baseline every forecast must beat is "same weekday last week" (seasonal naive): it
already knows the weekly pattern and costs nothing. Errors are reported as MASE (mean
absolute scaled error, Hyndman & Koehler 2006): the mean absolute error on the held-out
days divided by the in-sample mean absolute error of the one-step seasonal naive
forecast (``|y[t] - y[t-7]|`` averaged over the training days). Model and baseline are
scaled by the same number, so ``model_mase < naive_mase`` exactly when the model's
held-out error is below the baseline's, and ``relative_mae`` is their ratio.

Public names: `HoldoutEvaluation`, `evaluate_holdout`, `mase`, `seasonal_naive`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from ml_ops.cost_tracker.forecast import daily_series, forecast_spend
from ml_ops.cost_tracker.forecast_models import SEASON, FloatArray, ForecastMethod

__all__ = ["HoldoutEvaluation", "evaluate_holdout", "mase", "seasonal_naive"]


@dataclass(frozen=True, slots=True)
class HoldoutEvaluation:
    """A forecast of the last `holdout_days` days made from the days before them, scored.

    ``model_mase`` and ``naive_mase`` are None when MASE is undefined (training spend
    never changed from one week to the next); ``relative_mae`` (model MAE over baseline
    MAE) is None when the baseline was exact.
    """

    method: ForecastMethod
    holdout_days: int
    model_mae: float
    naive_mae: float
    model_mase: float | None
    naive_mase: float | None
    relative_mae: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "method": self.method.value,
            "holdout_days": self.holdout_days,
            "model_mae": self.model_mae,
            "naive_mae": self.naive_mae,
            "model_mase": self.model_mase,
            "naive_mase": self.naive_mase,
            "relative_mae": self.relative_mae,
        }


def seasonal_naive(history: Sequence[float] | FloatArray, horizon: int) -> FloatArray:
    """Forecast each of the next `horizon` days as the same weekday of the last week."""
    values = np.asarray(history, dtype=np.float64)
    if len(values) < SEASON:
        raise ValueError(f"seasonal naive needs at least {SEASON} days, got {len(values)}")
    last_week = values[-SEASON:]
    return np.resize(last_week, horizon).astype(np.float64)


def mase(
    actual: Sequence[float] | FloatArray,
    predicted: Sequence[float] | FloatArray,
    training: Sequence[float] | FloatArray,
) -> float | None:
    """Mean absolute scaled error of `predicted` against `actual`, scaled by the in-sample
    error of the weekly seasonal naive forecast on `training`; None when that scale is 0
    or `training` is shorter than two weeks' worth of differences allows (8 days)."""
    past = np.asarray(training, dtype=np.float64)
    if len(past) <= SEASON:
        return None
    scale = float(np.mean(np.abs(past[SEASON:] - past[:-SEASON])))
    if scale == 0.0:
        return None
    error = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64))
    return float(np.mean(error)) / scale


def evaluate_holdout(
    history: Mapping[date, float],
    holdout_days: int = SEASON,
    *,
    last_day: date | None = None,
    seed: int = 0,
) -> HoldoutEvaluation:
    """Hold out the last `holdout_days` days, forecast them from the rest with
    `forecast_spend`, and score model and seasonal naive baseline on them.

    Needs at least a week of training days before the held-out ones.
    """
    first, y = daily_series(history, last_day)
    if holdout_days < 1 or len(y) - holdout_days < SEASON:
        raise ValueError(
            f"need at least {SEASON} training days before {holdout_days} held-out days, "
            f"got {len(y)} days in all"
        )
    train, test = y[:-holdout_days], y[-holdout_days:]
    training = {first + timedelta(days=i): float(v) for i, v in enumerate(train)}
    forecast = forecast_spend(training, holdout_days, seed=seed)
    predicted = np.array([day.point for day in forecast.days])
    naive = seasonal_naive(train, holdout_days)
    model_mae = float(np.mean(np.abs(test - predicted)))
    naive_mae = float(np.mean(np.abs(test - naive)))
    return HoldoutEvaluation(
        method=forecast.method,
        holdout_days=holdout_days,
        model_mae=model_mae,
        naive_mae=naive_mae,
        model_mase=mase(test, predicted, train),
        naive_mase=mase(test, naive, train),
        relative_mae=model_mae / naive_mae if naive_mae > 0 else None,
    )
