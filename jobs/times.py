"""The bounds of a job's times: the one rule every writer of jobs applies (API, forms, admin, imports).

A job starts no earlier than HELIOX_JOB_TIME_FLOOR (2000-01-01 UTC by default) and neither
starts nor ends later than now plus FUTURE_TOLERANCE (clock skew between a scheduler and
Heliox). Outside those bounds a time is a typo or a unit error, not a GPU job: year 1 overflows
date arithmetic, and a job ending in 2126 would owe the rollup a century of days. The rollup
clamps the days it is owed to the same bounds (`day_bounds`), so that a row stored before this
rule cannot make every later rollup fail.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

FUTURE_TOLERANCE = timedelta(days=1)


def time_floor() -> datetime:
    """The earliest instant a job may start (UTC midnight of HELIOX_JOB_TIME_FLOOR)."""
    return datetime.combine(settings.HELIOX_JOB_TIME_FLOOR, time.min, tzinfo=UTC)


def time_ceiling(now: datetime | None = None) -> datetime:
    """The latest instant a job may start or end: now plus the clock-skew tolerance."""
    return (now or timezone.now()) + FUTURE_TOLERANCE


def day_bounds(now: datetime | None = None) -> tuple[date, date]:
    """The first and last UTC days a job may cover (both included)."""
    return settings.HELIOX_JOB_TIME_FLOOR, time_ceiling(now).astimezone(UTC).date()


def job_times_problem(
    start: datetime | None, end: datetime | None, *, now: datetime | None = None
) -> tuple[str, str] | None:
    """(field, message) for the first of the times out of bounds (start_time, then end_time), else None."""
    floor = time_floor()
    ceiling = time_ceiling(now)
    for field, moment in (("start_time", start), ("end_time", end)):
        if moment is None:
            continue
        if moment < floor:
            return field, f"must not be before {floor:%Y-%m-%d} UTC (HELIOX_JOB_TIME_FLOOR)"
        if moment > ceiling:
            return field, "must not be more than a day ahead of now: a job's times are when it ran"
    return None
