"""Days a change to jobs owes the rollup: what a web request leaves for later when there are no workers.

Without workers a task runs in the process that sends it, so a request that changed a job
of three years would roll up three years before answering (minutes: past any proxy's
timeout). Instead the request rolls up only the latest days of the change
(jobs.services.changes.REQUEST_INLINE_DAYS) and writes the older ones here, one row per
change; `rollup` without dates (the hourly cron line) and the hourly `usage.rollup_recent`
roll them up and then delete the rows: a rollup that fails leaves them owed.
"""

import logging
from datetime import date, timedelta

from costs.usage.models import RollupBacklog
from costs.usage.services.rollup import RollupSummary, usage_rollup
from jobs.services.changes import AffectedDays

Ranges = list[tuple[date, date]]
logger = logging.getLogger(__name__)


def split_latest(ranges: Ranges, days: int, *, until: date | None = None) -> tuple[Ranges, Ranges]:
    """(the latest `days` days before `until` of the sorted, disjoint [start, end) ranges, all the other days).

    Days from `until` on (a job that ends in the future) are among the others: the days
    nearest today are the ones people look at.
    """
    later: Ranges = []
    if until is not None:
        later = [(max(start, until), end) for start, end in ranges if end > until]
        ranges = [(start, min(end, until)) for start, end in ranges if start < until]
    latest: Ranges = []
    earlier = list(ranges)
    while earlier and days > 0:
        start, end = earlier.pop()
        first = max(start, end - timedelta(days=days))
        latest.insert(0, (first, end))
        days -= (end - first).days
        if first > start:
            earlier.append((start, first))
    return latest, earlier + later


def rollup_backlog_add(*, ranges: Ranges) -> None:
    """Owe the rollup of these [start, end) ranges (one query)."""
    RollupBacklog.objects.bulk_create([RollupBacklog(start=start, end=end) for start, end in ranges])


def rollup_backlog_take() -> tuple[list, Ranges]:
    """(the ids of the rows owed now, their days as merged [start, end) ranges).

    Not locked: two runs at once roll up the same days twice, which is harmless. The caller
    clears the rows once their days are rolled up, so a failure leaves them owed.
    """
    rows = list(RollupBacklog.objects.values_list("pk", "start", "end"))
    days = AffectedDays()  # keeps the days a job may cover (jobs.times); the others are cleared unrolled
    days.update((start, end - timedelta(days=1)) for _, start, end in rows)
    floor, last = days.bounds
    outside = sum(1 for _, start, end in rows if start < floor or end > last + timedelta(days=1))
    if outside:
        logger.warning("%d owed rollup range(s) reach outside %s..%s, the days a job may cover: those days are "
                       "skipped and cleared", outside, floor, last)  # fmt: skip
    return [pk for pk, _, _ in rows], days.ranges()


def usage_rollup_backlog() -> list[RollupSummary]:
    """Roll up every owed day here, each range in its own transaction (as the workers would), then clear them."""
    pks, ranges = rollup_backlog_take()
    summaries = [usage_rollup(start=start, end=end) for start, end in ranges]
    rollup_backlog_clear(pks)
    return summaries


def rollup_backlog_clear(pks: list) -> None:
    for first in range(0, len(pks), 500):
        RollupBacklog.objects.filter(pk__in=pks[first : first + 500]).delete()
