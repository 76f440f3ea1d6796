"""Budget periods: calendar days, weeks and months in a configured time zone.

A daily budget of a team in New York resets at midnight in New York, not at midnight
UTC, so a period is a span of *local calendar dates* converted to UTC instants. A day is
therefore 23 or 25 hours long on the days the clocks change, a week or month holding a
change is an hour shorter or longer, and a month is 28 to 31 days long. Everything here
is computed from local dates with `zoneinfo`, never by adding fixed durations to an
instant, so the periods of one zone tile time with no gap and no overlap.

Local midnight can itself be missing or doubled where a zone changes its clocks at
midnight (America/Santiago, America/Havana, Asia/Beirut): a missing midnight maps to the
instant the clocks jump (PEP 495, ``fold=0`` uses the offset before the change), a
doubled one to its first occurrence, so a period starts at the first instant whose local
date is its first date. Where the local date itself briefly ran backwards (Newfoundland
and Labrador fell back at 00:01 to 23:01 until 2011, Antarctica/Casey in 2010), the
repeated hour belongs to the later period, so periods still tile time.

Public names: `BudgetPeriod`, `Weekday`, `period_bounds`, `period_key`,
`fraction_elapsed`, `resolve_zone`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BudgetPeriod",
    "Weekday",
    "fraction_elapsed",
    "period_bounds",
    "period_key",
    "resolve_zone",
]


class BudgetPeriod(StrEnum):
    """How often a budget resets: every local day, week or month.

    The values are the spec's strings, so ``BudgetPeriod("daily")`` works; case and
    surrounding spaces are forgiven (``"Monthly "``), a misspelt name is an error that
    lists the valid ones.
    """

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @classmethod
    def _missing_(cls, value: object) -> BudgetPeriod:
        if isinstance(value, str):
            normalised = value.strip().lower()
            for member in cls:
                if member.value == normalised:
                    return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"unknown budget period {value!r}; expected one of {allowed}")


class Weekday(IntEnum):
    """Days of the week numbered as `datetime.date.weekday()` and `calendar` number them
    (Monday 0), so ``calendar.SUNDAY`` or a plain int is accepted wherever a `Weekday` is."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


def resolve_zone(tz: str | ZoneInfo) -> ZoneInfo:
    """`tz` as a `ZoneInfo`: an IANA name (``"Europe/Berlin"``) or a `ZoneInfo` as is.

    An unknown name raises `ValueError` naming it (zoneinfo's own error is a `KeyError`,
    which reads like a bug rather than a misconfiguration).
    """
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {tz!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from exc


def period_bounds(
    period: BudgetPeriod | str,
    moment: datetime,
    tz: str | ZoneInfo = "UTC",
    week_start: Weekday | int = Weekday.MONDAY,
) -> tuple[datetime, datetime]:
    """The period holding `moment`: ``(start, end)`` as UTC datetimes, start inclusive,
    end exclusive, aligned to local midnights in `tz`.

    `moment` must carry a time zone (a naive datetime names no instant). `week_start` is
    the first day of a weekly period (Monday by default, as ISO 8601 has it).
    """
    zone = resolve_zone(tz)
    first, after = _containing_dates(BudgetPeriod(period), moment, zone, week_start)
    return _local_midnight(first, zone), _local_midnight(after, zone)


def period_key(
    period: BudgetPeriod | str,
    moment: datetime,
    tz: str | ZoneInfo = "UTC",
    week_start: Weekday | int = Weekday.MONDAY,
) -> str:
    """A stable name of the period holding `moment`, for counters keyed by period.

    ``daily:2026-03-08@America/New_York``, ``weekly:2026-03-02@UTC`` (the week's first
    date, so weeks starting on different weekdays never share a key),
    ``monthly:2026-03@Europe/Berlin``. Two moments share a key exactly when they share
    the period.
    """
    kind = BudgetPeriod(period)
    zone = resolve_zone(tz)
    first, _ = _containing_dates(kind, moment, zone, week_start)
    label = first.strftime("%Y-%m") if kind is BudgetPeriod.MONTHLY else first.isoformat()
    return f"{kind.value}:{label}@{zone.key or zone}"


def fraction_elapsed(
    period: BudgetPeriod | str,
    moment: datetime,
    tz: str | ZoneInfo = "UTC",
    week_start: Weekday | int = Weekday.MONDAY,
) -> float:
    """How much of the period holding `moment` has passed, from 0.0 (its first instant)
    up to, not including, 1.0.

    Measured in elapsed seconds, not on the wall clock: at 12:00 on a 23-hour day
    (spring forward) 11 of 23 hours have passed, so the fraction is 11/23, which is what
    a spend-rate projection needs.
    """
    start, end = period_bounds(period, moment, tz, week_start)
    return (moment - start) / (end - start)


def _containing_dates(
    period: BudgetPeriod, moment: datetime, zone: ZoneInfo, week_start: Weekday | int
) -> tuple[date, date]:
    """First date of the period whose UTC span holds `moment`, and the first date after.

    Usually the period of `moment`'s local date; a step forward or back where the local
    date ran backwards for an hour (see the module docstring).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"moment {moment.isoformat()} has no time zone; pass an aware datetime "
            "(datetime.now(UTC), clock.now())"
        )
    first, after = _local_dates(period, moment.astimezone(zone).date(), week_start)
    if moment >= _local_midnight(after, zone):
        return _local_dates(period, after, week_start)
    if moment < _local_midnight(first, zone):
        return _local_dates(period, first - timedelta(days=1), week_start)
    return first, after


def _local_dates(period: BudgetPeriod, day: date, week_start: Weekday | int) -> tuple[date, date]:
    """First date of the period holding `day`, and the first date after it."""
    if period is BudgetPeriod.DAILY:
        return day, day + timedelta(days=1)
    if period is BudgetPeriod.WEEKLY:
        start_day = Weekday(week_start)
        first = day - timedelta(days=(day.weekday() - start_day) % 7)
        return first, first + timedelta(days=7)
    first = day.replace(day=1)
    after = (
        date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    )
    return first, after


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`, in UTC (see the module docstring for
    zones whose clocks change at midnight)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
