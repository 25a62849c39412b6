"""Which UTC days a change to jobs makes stale, and who is told.

A job covers the UTC days that its interval [start, end) overlaps; a running job's
interval ends now, as the rollup accrues running jobs up to the moment it runs. Any
change to a job (an import, the API's create, update, finish and delete, an admin edit,
action or delete) makes stale every day the job covered before the change *and* after
it: a job that ends earlier than its rollups said must leave the days it no longer
covers, one that moves must fill the new ones. `AffectedDays` collects those days from
the old and new intervals; `jobs_changed` hands them, once the transaction commits, to
the handlers other apps register (`costs` registers the rollup). Every writer of jobs
goes through this one place. A web request's change rolls up at most REQUEST_INLINE_DAYS
of its latest days before it answers, so that its time does not grow with the job's span;
the workers take the rest, or without workers the next `rollup` (costs.usage.services.backlog).
"""

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from jobs.times import day_bounds

DayRanges = list[tuple[date, date]]
# Called with [start, end) ranges of UTC days after a commit that changed jobs covering them, and how
# many of the latest of those days may be rolled up at once (None: all; the rest is queued).
DAY_HANDLERS: list[Callable[[DayRanges, int | None], object]] = []
ONE_DAY = timedelta(days=1)
# Commands and the upload form roll up this many days at once; more, and they print the `rollup` to run.
MAX_INLINE_DAYS = 62
# A change made in a web request (API, admin, member UI) rolls up at most this many of its latest days
# before the request answers; the others are queued (workers) or owed to the next `rollup` (embedded),
# so that a job of any span answers as fast as one of a week.
REQUEST_INLINE_DAYS = 7


class AffectedDays:
    """A set of UTC days, gathered from job intervals and kept as the latest last day per first day.

    Memory grows with the distinct first days (a few thousand for years of jobs), not
    with the jobs added.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.bounds = day_bounds()
        self._last: dict[date, date] = {}  # first day -> latest last day (inclusive)

    def add(self, start: datetime | None, end: datetime | None) -> None:
        """The days of one job interval as stored: no start covers nothing; no end runs until now."""
        if start is None:
            return
        stop = end if end is not None else self.now
        if stop <= start:  # no time held (or a start still ahead of a running job): no rollup row
            return
        self.add_span(start.astimezone(UTC).date(), (stop.astimezone(UTC) - timedelta(microseconds=1)).date())

    def add_span(self, first: date, last: date) -> None:
        """Days first..last, both included, within the days a job may cover (jobs.times: none before the floor,
        none past tomorrow), so that a row stored before that rule cannot owe the rollup a century."""
        first, last = max(first, self.bounds[0]), min(last, self.bounds[1])
        known = self._last.get(first)  # (first - ONE_DAY as a default overflows on 0001-01-01)
        if last >= first and (known is None or known < last):
            self._last[first] = last

    def add_jobs(self, jobs: QuerySet) -> None:
        """The days every job of a queryset covers, in one grouped query (a day too many at most, never fewer)."""
        spans = (
            jobs.filter(start_time__isnull=False, start_time__lt=Coalesce("end_time", self.now))
            .annotate(first=TruncDate("start_time", tzinfo=UTC))
            .order_by()
            .values("first")
            .annotate(last=Max(TruncDate(Coalesce("end_time", self.now), tzinfo=UTC)))
        )
        for span in spans:
            self.add_span(span["first"], span["last"])

    def update(self, spans: Iterable[tuple[date, date]]) -> None:
        for first, last in spans:
            self.add_span(first, last)

    def merge(self, other: "AffectedDays") -> None:
        """Add every day of `other`."""
        self.update(other._last.items())

    def ranges(self) -> DayRanges:
        """The days as sorted, disjoint [start, end) ranges; touching ranges are merged."""
        merged: DayRanges = []
        for first in sorted(self._last):
            end = self._last[first] + ONE_DAY
            if merged and first <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((first, end))
        return merged

    def count(self) -> int:
        return sum((end - start).days for start, end in self.ranges())

    def __bool__(self) -> bool:
        return bool(self._last)

    def __str__(self) -> str:
        return ", ".join(f"[{start}, {end})" for start, end in self.ranges()) or "no days"


def jobs_changed(days: AffectedDays, *, inline_days: int | None = REQUEST_INLINE_DAYS) -> None:
    """Tell the handlers (the rollup) about the days, once the current transaction commits.

    At most `inline_days` of the latest days are rolled up before this returns (None: every
    day, for commands and tasks); the rest goes to the workers, or without them is owed to the
    next `rollup` (costs.usage.services.fanout).
    """
    if not days:
        return
    ranges = days.ranges()
    transaction.on_commit(lambda: [handler(ranges, inline_days) for handler in DAY_HANDLERS])


def job_days(*jobs) -> AffectedDays:
    """The days that these job instances cover, as they are (a saved job, or its state before a change)."""
    days = AffectedDays()
    for job in jobs:
        if job is not None:
            days.add(job.start_time, job.end_time)
    return days


def rollups_follow(days: AffectedDays, *, enabled: bool = True) -> str:
    """After an import: roll up the days it changed (after commit), or say which `rollup` commands to run.

    Past MAX_INLINE_DAYS days (or when the caller turned it off) nothing rolls up here;
    the returned sentence names the commands. '' when no day changed.
    """
    if not days:
        return ""
    count = days.count()
    if not enabled or count > MAX_INLINE_DAYS:
        hints = "; ".join(f"manage.py rollup --start {start} --end {end}" for start, end in days.ranges())
        return f"The import changed jobs on {count} day(s); run: {hints}"
    jobs_changed(days, inline_days=None)  # a command or a task: it may take its time
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # the handler sends them to the workers
        return f"Queued the rollup of {count} day(s): {days}."
    return f"Rolled up {count} day(s): {days}."
