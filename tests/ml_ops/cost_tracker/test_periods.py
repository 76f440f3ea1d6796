"""Budget periods: local calendar alignment, DST, month ends, and tiling properties."""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_ops.cost_tracker.periods import (
    BudgetPeriod,
    Weekday,
    fraction_elapsed,
    period_bounds,
    period_key,
    resolve_zone,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"
ZONES = sorted(zoneinfo.available_timezones())

moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 12, 30), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES)
periods = st.sampled_from(list(BudgetPeriod))
week_starts = st.sampled_from(list(Weekday))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def hours(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(hours=1)


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["daily", "Daily", " DAILY "])
def test_spec_strings_are_accepted(text: str) -> None:
    assert BudgetPeriod(text) is BudgetPeriod.DAILY


def test_misspelt_period_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'daily', 'weekly', 'monthly'"):
        BudgetPeriod("dayly")


def test_unknown_zone_and_naive_moment_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        period_bounds("daily", utc(2026, 1, 1), tz="Mars/Olympus")
    with pytest.raises(ValueError, match="no time zone"):
        period_bounds("daily", datetime(2026, 1, 1))


def test_zoneinfo_objects_and_calendar_weekdays_are_accepted() -> None:
    zone = resolve_zone(BERLIN)
    assert resolve_zone(zone) is zone
    sunday = period_bounds("weekly", utc(2026, 3, 11), tz=zone, week_start=calendar.SUNDAY)
    assert sunday[0] == utc(2026, 3, 7, 23)  # Sunday 8 March 00:00 in Berlin (UTC+1)


# --- examples ----------------------------------------------------------------------------


def test_utc_day_week_month() -> None:
    moment = utc(2026, 3, 11, 15, 30)  # a Wednesday
    assert period_bounds("daily", moment) == (utc(2026, 3, 11), utc(2026, 3, 12))
    assert period_bounds("weekly", moment) == (utc(2026, 3, 9), utc(2026, 3, 16))
    assert period_bounds("monthly", moment) == (utc(2026, 3, 1), utc(2026, 4, 1))
    assert period_bounds("monthly", utc(2026, 12, 31, 23, 59)) == (
        utc(2026, 12, 1),
        utc(2027, 1, 1),
    )


def test_new_york_spring_forward_day_has_23_hours() -> None:
    start, end = period_bounds("daily", utc(2026, 3, 8, 12), tz=NY)  # DST starts 8 March
    assert (start, end) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert hours(start, end) == 23
    assert period_key("daily", utc(2026, 3, 8, 12), tz=NY) == "daily:2026-03-08@America/New_York"


def test_new_york_fall_back_day_has_25_hours() -> None:
    start, end = period_bounds("daily", utc(2026, 11, 1, 12), tz=NY)  # DST ends 1 November
    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert hours(start, end) == 25


def test_new_york_week_and_month_holding_a_change() -> None:
    week = period_bounds("weekly", utc(2026, 3, 5), tz=NY)
    assert week == (utc(2026, 3, 2, 5), utc(2026, 3, 9, 4))  # Monday 2 to Monday 9 March
    assert hours(*week) == 7 * 24 - 1
    month = period_bounds("monthly", utc(2026, 11, 15), tz=NY)
    assert month == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert hours(*month) == 30 * 24 + 1


def test_berlin_changes_on_the_last_sundays_of_march_and_october() -> None:
    spring = period_bounds("daily", utc(2026, 3, 29, 10), tz=BERLIN)
    assert spring == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert hours(*spring) == 23
    autumn = period_bounds("daily", utc(2026, 10, 25, 10), tz=BERLIN)
    assert autumn == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert hours(*autumn) == 25
    march = period_bounds("monthly", utc(2026, 3, 15), tz=BERLIN)
    assert march == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert hours(*march) == 31 * 24 - 1


def test_berlin_moment_just_before_local_midnight_is_still_that_day() -> None:
    # 22:59:59 UTC on 31 March is 00:59:59 on 1 April in Berlin (CEST).
    key = period_key("monthly", utc(2026, 3, 31, 22, 0, 0), tz=BERLIN)
    assert key == "monthly:2026-04@Europe/Berlin"
    assert period_key("monthly", utc(2026, 3, 31, 21, 59, 59), tz=BERLIN) == (
        "monthly:2026-03@Europe/Berlin"
    )


def test_leap_years() -> None:
    assert period_bounds("monthly", utc(2028, 2, 29, 12)) == (utc(2028, 2, 1), utc(2028, 3, 1))
    assert period_bounds("monthly", utc(2027, 2, 28, 12)) == (utc(2027, 2, 1), utc(2027, 3, 1))
    assert period_bounds("monthly", utc(2100, 2, 28, 12)) == (utc(2100, 2, 1), utc(2100, 3, 1))


def test_midnight_change_santiago_day_starts_at_the_jump() -> None:
    # Chile moved its clocks from 00:00 to 01:00 on 11 September 2022: local midnight
    # does not exist, so the day starts at the jump, 04:00 UTC, and lasts 23 hours.
    start, end = period_bounds("daily", utc(2022, 9, 11, 12), tz="America/Santiago")
    assert start == utc(2022, 9, 11, 4)
    assert hours(start, end) == 23


def test_local_date_running_backwards_keeps_periods_tiled() -> None:
    # St. John's fell back from 00:01 to 23:01 the previous day until 2011: the repeated
    # hour belongs to the new day.
    zone = "America/St_Johns"
    moment = utc(2010, 11, 7, 3, 30)  # 23:31 on 6 November, second time round
    start, end = period_bounds("daily", moment, tz=zone)
    assert start <= moment < end
    assert period_key("daily", moment, tz=zone) == "daily:2010-11-07@America/St_Johns"
    previous = period_bounds("daily", start - timedelta(microseconds=1), tz=zone)
    assert previous[1] == start


def test_keys_name_the_week_start_and_month() -> None:
    moment = utc(2026, 3, 11)
    assert period_key("weekly", moment) == "weekly:2026-03-09@UTC"
    assert period_key("weekly", moment, week_start=Weekday.SUNDAY) == "weekly:2026-03-08@UTC"
    assert period_key("monthly", moment, tz=BERLIN) == "monthly:2026-03@Europe/Berlin"


def test_fraction_elapsed_counts_real_hours() -> None:
    assert fraction_elapsed("daily", utc(2026, 3, 11, 6)) == 0.25
    # 12:00 local on New York's 23-hour day: 11 hours have passed.
    noon = datetime(2026, 3, 8, 12, tzinfo=zoneinfo.ZoneInfo(NY))
    assert fraction_elapsed("daily", noon, tz=NY) == pytest.approx(11 / 23)
    assert fraction_elapsed("monthly", utc(2026, 3, 1)) == 0.0


# --- properties --------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, period=periods, week_start=week_starts)
def test_the_period_holds_the_moment(
    moment: datetime, tz: str, period: BudgetPeriod, week_start: Weekday
) -> None:
    start, end = period_bounds(period, moment, tz, week_start)
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC
    assert start <= moment < end
    assert 0.0 <= fraction_elapsed(period, moment, tz, week_start) < 1.0


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, period=periods, week_start=week_starts)
def test_consecutive_periods_tile_time(
    moment: datetime, tz: str, period: BudgetPeriod, week_start: Weekday
) -> None:
    start, end = period_bounds(period, moment, tz, week_start)
    after = period_bounds(period, end, tz, week_start)
    before = period_bounds(period, start - timedelta(microseconds=1), tz, week_start)
    assert after[0] == end  # no gap, no overlap
    assert before[1] == start
    assert after[1] > after[0]


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, period=periods, week_start=week_starts)
def test_the_key_changes_exactly_at_the_bounds(
    moment: datetime, tz: str, period: BudgetPeriod, week_start: Weekday
) -> None:
    start, end = period_bounds(period, moment, tz, week_start)
    key = period_key(period, moment, tz, week_start)
    tick = timedelta(microseconds=1)
    assert period_key(period, start, tz, week_start) == key
    assert period_key(period, end - tick, tz, week_start) == key
    assert period_key(period, start - tick, tz, week_start) != key
    assert period_key(period, end, tz, week_start) != key


@settings(max_examples=200, deadline=None)
@given(moment=moments, tz=st.sampled_from([NY, BERLIN, "Australia/Lord_Howe", "UTC"]))
def test_period_lengths_stay_within_calendar_limits(moment: datetime, tz: str) -> None:
    day = hours(*period_bounds("daily", moment, tz))
    week = hours(*period_bounds("weekly", moment, tz))
    month = hours(*period_bounds("monthly", moment, tz))
    assert 23 <= day <= 25
    assert 7 * 24 - 1 <= week <= 7 * 24 + 1
    assert 28 * 24 - 1 <= month <= 31 * 24 + 1
