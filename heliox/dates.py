"""Calendar arithmetic on UTC days, shared by ranges, periods, budgets and presets: the one home of periods."""

from datetime import UTC, date, datetime, time, timedelta

# The steps a series or a budget is cut into; each period starts on its first day.
INTERVALS = ("day", "week", "month", "quarter")
INTERVAL_MONTHS = {"month": 1, "quarter": 3}


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after (or before) the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(day: date, interval: str) -> date:
    """The first day of the day, ISO week (Monday), month or quarter that holds `day`."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return month_start(day)
    if interval == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    raise ValueError(f"unknown interval {interval!r}; use {', '.join(INTERVALS)}")


def next_period(start: date, interval: str) -> date:
    """The first day of the period after the one that starts on `start`."""
    if interval in INTERVAL_MONTHS:
        return add_months(start, INTERVAL_MONTHS[interval])
    return start + timedelta(days=7 if interval == "week" else 1)


def period_bounds(day: date, interval: str) -> tuple[date, date]:
    """[start, end) of the period that holds `day`."""
    start = period_start(day, interval)
    return start, next_period(start, interval)


def periods_between(start: date, end: date, interval: str) -> list[date]:
    """The first day of every period that meets [start, end)."""
    periods, current = [], period_start(start, interval)
    while current < end:
        periods.append(current)
        current = next_period(current, interval)
    return periods


def utc_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day as the instants [start, end)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def how_long(span: timedelta) -> str:
    """A duration as people say it, in its largest whole unit: "14 minutes", "3 hours", "less than a minute"."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count:,} {unit}{'' if count == 1 else 's'}"
    return "less than a minute"
