"""Spend forecasts: method choice, accuracy against the seasonal naive baseline, interval
coverage, degenerate input, warnings kept out of the caller's way, JSON output."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from ml_ops.cost_tracker.forecast import (
    SEASONAL_MIN_DAYS,
    TREND_MIN_DAYS,
    ForecastMethod,
    forecast_period_end,
    forecast_spend,
)
from ml_ops.cost_tracker.forecast_eval import evaluate_holdout, mase, seasonal_naive
from ml_ops.cost_tracker.forecast_models import captured_warnings
from tests.ml_ops.cost_tracker.synthetic import START, seasonal_spend


def constant(value: float, days: int, start: date = START) -> dict[date, float]:
    return {start + timedelta(days=i): value for i in range(days)}


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


# --- method choice -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "method"),
    [
        (1, ForecastMethod.INSUFFICIENT_DATA),
        (TREND_MIN_DAYS - 1, ForecastMethod.INSUFFICIENT_DATA),
        (TREND_MIN_DAYS, ForecastMethod.LINEAR_TREND),
        (SEASONAL_MIN_DAYS - 1, ForecastMethod.LINEAR_TREND),
        (SEASONAL_MIN_DAYS, ForecastMethod.SEASONAL_ETS),
        (120, ForecastMethod.SEASONAL_ETS),
    ],
)
def test_the_method_follows_the_length_of_history(days: int, method: ForecastMethod) -> None:
    result = forecast_spend(seasonal_spend(3, days), 7)
    assert result.method is method
    assert result.history_days == days
    assert len(result.days) == 7
    assert result.days[0].day == START + timedelta(days=days)
    assert result.total == pytest.approx(sum(d.point for d in result.days))


def test_linear_fallback_recovers_trend_and_weekday_pattern() -> None:
    history = seasonal_spend(0, 21, slope=0.3, noise=0.01)
    truth = seasonal_spend(0, 28, slope=0.3, noise=0.0)
    result = forecast_spend(history, 7)
    assert result.method is ForecastMethod.LINEAR_TREND
    for day in result.days:
        assert day.point == pytest.approx(truth[day.day], abs=0.1)


def test_gaps_are_zero_spend_and_last_day_extends_them() -> None:
    history = {date(2026, 3, 1): 4.0, date(2026, 3, 3): 2.0}
    result = forecast_spend(history, 2)
    assert result.history_days == 3
    assert result.days[0].day == date(2026, 3, 4)
    assert result.total == pytest.approx(4.0)  # mean 2/day over three days
    later = forecast_spend(history, 2, last_day=date(2026, 3, 6))
    assert later.history_days == 6
    assert later.days[0].day == date(2026, 3, 7)


def test_long_histories_are_cut_to_52_weeks() -> None:
    result = forecast_spend(seasonal_spend(1, 400), 3)
    assert result.history_days == 364
    assert result.days[0].day == START + timedelta(days=400)


# --- accuracy ----------------------------------------------------------------------------


def test_seasonal_model_beats_the_seasonal_naive_baseline_on_held_out_weeks() -> None:
    """Eight weeks of training, the ninth held out, forty seeds.

    What is compared: the mean absolute error of the model's point forecast on the held-out
    week against that of "same weekday last week", pooled over the seeds (the sum of model
    errors over the sum of baseline errors), and per seed as MASE, where both share the same
    in-sample scale, so model MASE below naive MASE means the model's error is lower.
    """
    results = [evaluate_holdout(seasonal_spend(seed, 63)) for seed in range(40)]
    assert all(r.method is ForecastMethod.SEASONAL_ETS for r in results)
    pooled = sum(r.model_mae for r in results) / sum(r.naive_mae for r in results)
    assert pooled < 0.92  # 0.85 measured; about 0.71 is the best possible (noise alone)
    model_mase = float(np.mean([r.model_mase for r in results]))
    naive_mase = float(np.mean([r.naive_mase for r in results]))
    assert model_mase < naive_mase
    assert sum(r.model_mae < r.naive_mae for r in results) >= 24


def test_holdout_evaluation_reports_comparable_mase() -> None:
    result = evaluate_holdout(seasonal_spend(7, 84))
    assert result.model_mase is not None
    assert result.naive_mase is not None
    assert result.relative_mae == pytest.approx(result.model_mase / result.naive_mase)
    assert as_json(result.to_dict())["method"] == "seasonal_ets"


def test_mase_and_seasonal_naive_by_hand() -> None:
    training = [1.0, 2, 3, 4, 5, 6, 7, 2, 3, 4]  # in-sample lag-7 errors: 1, 1, 1
    assert list(seasonal_naive(training, 9)) == [4, 5, 6, 7, 2, 3, 4, 4, 5]
    assert mase([3.0, 5.0], [4.0, 5.0], training) == pytest.approx(0.5)
    assert mase([1.0], [1.0], [2.0] * 10) is None  # no week-to-week change: undefined
    assert mase([1.0], [1.0], [2.0] * 7) is None  # too short for a lag-7 difference
    with pytest.raises(ValueError, match="at least 7 days"):
        seasonal_naive([1.0, 2.0], 3)


def test_holdout_needs_a_week_of_training() -> None:
    with pytest.raises(ValueError, match="at least 7 training days"):
        evaluate_holdout(seasonal_spend(0, 10))


# --- intervals ---------------------------------------------------------------------------


def test_intervals_contain_the_truth_at_roughly_their_nominal_rate() -> None:
    """Forty series from the model family's own kind of process: eight weeks of history,
    a week ahead. Loose bounds: with 280 day-forecasts the standard error of an 80%
    coverage estimate is about 2.4 points, and the intervals are known to run a little
    narrow (estimated parameters)."""
    hits: dict[float, list[bool]] = {0.8: [], 0.95: []}
    total_hits: dict[float, list[bool]] = {0.8: [], 0.95: []}
    for seed in range(40):
        series = seasonal_spend(100 + seed, 63)
        days = sorted(series)
        history = {d: series[d] for d in days[:56]}
        truth = [series[d] for d in days[56:]]
        result = forecast_spend(history, 7, seed=seed)
        for day, actual in zip(result.days, truth, strict=True):
            for interval in day.intervals:
                hits[interval.level].append(interval.lower <= actual <= interval.upper)
        for interval in result.total_intervals:
            total_hits[interval.level].append(interval.lower <= sum(truth) <= interval.upper)
    assert 0.68 <= np.mean(hits[0.8]) <= 0.92
    assert 0.86 <= np.mean(hits[0.95]) <= 1.0
    assert 0.6 <= np.mean(total_hits[0.8]) <= 0.97
    assert np.mean(total_hits[0.95]) >= 0.8


def test_intervals_are_ordered_and_hold_the_point() -> None:
    for days in (5, 20, 60):
        result = forecast_spend(seasonal_spend(2, days), 10)
        for forecast in result.days:
            narrow, wide = forecast.intervals
            assert (narrow.level, wide.level) == (0.8, 0.95)
            assert 0.0 <= wide.lower <= narrow.lower <= narrow.upper <= wide.upper
        narrow, wide = result.total_intervals
        assert wide.lower <= narrow.lower <= result.total <= narrow.upper <= wide.upper


def test_the_total_interval_is_narrower_than_summed_day_intervals() -> None:
    result = forecast_spend(seasonal_spend(5, 60), 14)
    summed_width = sum(d.intervals[0].upper - d.intervals[0].lower for d in result.days)
    total = result.total_intervals[0]
    assert total.upper - total.lower < summed_width


def test_same_seed_same_answer_and_custom_levels() -> None:
    history = seasonal_spend(4, 40)
    assert forecast_spend(history, 5) == forecast_spend(history, 5)
    custom = forecast_spend(history, 5, levels=[0.5])
    assert [i.level for i in custom.total_intervals] == [0.5]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        forecast_spend(history, 5, levels=[95])


# --- degenerate input --------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 7, 20, 40])
def test_all_zeros_forecast_zero_with_a_zero_interval(days: int) -> None:
    result = forecast_spend(constant(0.0, days), 7)
    assert result.total == 0.0
    assert all(i.lower == i.upper == 0.0 for i in result.total_intervals)
    assert result.notes


@pytest.mark.parametrize("days", [1, 10, 20, 40])
def test_constant_spend_forecasts_that_constant(days: int) -> None:
    result = forecast_spend(constant(3.0, days), 4)
    assert result.total == pytest.approx(12.0)
    for day in result.days:
        assert day.point == pytest.approx(3.0)


def test_one_day_gets_a_wide_interval() -> None:
    result = forecast_spend({date(2026, 5, 1): 10.0}, 7)
    assert result.method is ForecastMethod.INSUFFICIENT_DATA
    assert result.total == pytest.approx(70.0)
    wide = result.total_intervals[1]
    assert wide.lower < 35.0
    assert wide.upper > 140.0


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({}, "history is empty"),
        ({date(2026, 1, 1): -1.0}, "finite and >= 0"),
        ({date(2026, 1, 1): math.nan}, "finite and >= 0"),
        ({date(2026, 1, 1): math.inf}, "finite and >= 0"),
        ({date(2026, 1, 1): "3"}, "must be a number"),
        ({datetime(2026, 1, 1, tzinfo=UTC): 1.0}, "keys must be dates"),
    ],
)
def test_bad_history_is_a_clear_error(history: dict[Any, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forecast_spend(history, 7)


def test_bad_horizon_and_last_day_are_clear_errors() -> None:
    history = constant(1.0, 5)
    with pytest.raises(ValueError, match="positive integer"):
        forecast_spend(history, 0)
    with pytest.raises(ValueError, match="before the history's last day"):
        forecast_spend(history, 3, last_day=START)


@pytest.mark.parametrize(
    "history",
    [
        constant(0.0, 40),
        {**constant(0.0, 39), START + timedelta(days=39): 1.0},
        {START + timedelta(days=i): 1000.0 if i % 13 == 0 else 0.01 for i in range(40)},
        {START + timedelta(days=i): 1e6 * (i % 2) for i in range(40)},
        {START + timedelta(days=i): 1e-9 * (i % 3) for i in range(40)},
    ],
    ids=["zeros", "one-late-spend", "spikes", "alternating-huge", "tiny"],
)
def test_odd_series_never_raise_nor_warn(history: dict[date, float]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = forecast_spend(history, 7)
    assert caught == []
    assert all(math.isfinite(d.point) and d.point >= 0 for d in result.days)
    as_json(result.to_dict())


# --- statsmodels warnings and failures ---------------------------------------------------


def test_statsmodels_warnings_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    real_fit = ETSModel.fit

    def warning_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        warnings.warn("optimizer gave up", ConvergenceWarning, stacklevel=1)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(ETSModel, "fit", warning_fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = forecast_spend(seasonal_spend(0, 40), 7)
    assert caught == []
    assert result.method is ForecastMethod.SEASONAL_ETS
    assert any("ConvergenceWarning: optimizer gave up" in note for note in result.notes)


def test_a_failing_ets_fit_falls_back_to_the_linear_trend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    def failing_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(ETSModel, "fit", failing_fit)
    result = forecast_spend(seasonal_spend(0, 40), 7)
    assert result.method is ForecastMethod.LINEAR_TREND
    assert any("LinAlgError: singular matrix" in note for note in result.notes)


def test_captured_warnings_deduplicates() -> None:
    with captured_warnings() as notes:
        for _ in range(3):
            warnings.warn("same", RuntimeWarning, stacklevel=1)
    assert notes == ["RuntimeWarning: same"]


# --- JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [3, 20, 50])
def test_results_are_json_serialisable(days: int) -> None:
    result = forecast_spend(seasonal_spend(9, days), 3)
    data = as_json(result.to_dict())
    assert data["method"] == result.method.value
    assert data["days"][0]["day"] == result.days[0].day.isoformat()
    assert [i["level"] for i in data["total_intervals"]] == [0.8, 0.95]


# --- to the end of a budget period -------------------------------------------------------


def test_period_end_adds_the_rest_of_today_and_the_remaining_days() -> None:
    history = constant(10.0, 20, start=date(2026, 3, 1))  # 1 to 20 March: zero-width fit
    now = datetime(2026, 3, 21, 12, tzinfo=UTC)  # half of 21 March gone
    result = forecast_period_end(history, "monthly", now, spent=215.0, limit=300.0)
    # 0.5 x 10 for the rest of today, 10 x 10 for 22 to 31 March.
    assert result.projected_total == pytest.approx(215.0 + 5.0 + 100.0)
    assert result.key == "monthly:2026-03@UTC"
    assert (result.start, result.end) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert result.forecast.days[0].day == date(2026, 3, 21)
    assert len(result.forecast.days) == 11
    assert result.probability_over_limit == 1.0
    assert result.intervals[0].lower == pytest.approx(320.0)
    data = as_json(result.to_dict())
    assert data["forecast"]["method"] == "linear_trend"


def test_period_end_counts_real_hours_on_a_dst_day() -> None:
    history = constant(23.0, 20, start=date(2026, 2, 16))
    # 8 March 2026 in New York has 23 hours; at 12:00 local (16:00 UTC) 11 have passed.
    now = datetime(2026, 3, 8, 16, tzinfo=UTC)
    result = forecast_period_end(history, "daily", now, spent=11.0, tz="America/New_York")
    assert result.projected_total == pytest.approx(11.0 + 23.0 * 12 / 23)
    assert result.probability_over_limit is None
    assert result.end - result.start == timedelta(hours=23)


def test_period_end_with_seasonal_history_brackets_the_projection() -> None:
    history = seasonal_spend(11, 56)  # 5 January to 1 March 2026
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    result = forecast_period_end(history, "weekly", now, spent=4.0, limit=1e6)
    narrow, wide = result.intervals
    assert wide.lower <= narrow.lower <= result.projected_total <= narrow.upper <= wide.upper
    assert result.probability_over_limit == 0.0
    assert result.forecast.method is ForecastMethod.SEASONAL_ETS


def test_period_end_refuses_today_in_history_and_bad_amounts() -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="whole days before today"):
        forecast_period_end({date(2026, 3, 2): 1.0}, "daily", now, spent=0.0)
    with pytest.raises(ValueError, match="spent must be"):
        forecast_period_end({date(2026, 3, 1): 1.0}, "daily", now, spent=-1.0)
    with pytest.raises(ValueError, match="no time zone"):
        forecast_period_end({date(2026, 3, 1): 1.0}, "daily", datetime(2026, 3, 2), spent=0.0)
