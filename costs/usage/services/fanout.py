"""Rollups on workers: a range of days fanned out as one task per day (per month for long ranges).

Each part is `usage.rollup_days` over its own [start, end): `usage_rollup` in its own
transaction, which takes a PostgreSQL advisory lock per day (so two workers never roll up the
same day at once, and a part that overlaps another waits for it) and applies the bill's
allocation day by day inside it: no final step has to wait for all parts. A part that runs
twice (a redelivery after a lost worker) writes the same rows: the rollup replaces a day's rows.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from costs.usage.models import RollupBacklog
from costs.usage.services.backlog import rollup_backlog_add, split_latest
from costs.usage.services.rollup import RollupSummary, usage_rollup

logger = logging.getLogger(__name__)

# Past this many days a range goes out by calendar month: fewer, longer tasks.
DAILY_PARTS_UP_TO = 92


def rollup_parts(*, start: date, end: date) -> list[tuple[date, date]]:
    """[start, end) cut into one [day, day+1) per day, or into calendar months for a long range."""
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    if (end - start).days <= DAILY_PARTS_UP_TO:
        return [(start + timedelta(days=n), start + timedelta(days=n + 1)) for n in range((end - start).days)]
    parts, first = [], start
    while first < end:
        following = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        parts.append((first, min(following, end)))
        first = following
    return parts


def rollup_enqueue(*, ranges: list[tuple[date, date]]) -> int:
    """Send one `usage.rollup_days` task per part of each [start, end) range; returns the tasks sent."""
    from costs.usage.tasks import rollup_days  # the task calls this domain's services

    sent = 0
    for start, end in ranges:
        for first, last in rollup_parts(start=start, end=end):
            rollup_days.delay(first.isoformat(), last.isoformat())
            sent += 1
    return sent


def rollup_recent_enqueue(*, today: date) -> int:
    """Yesterday and today (UTC) fanned out, and one task for the days owed (backlog); returns the tasks sent.

    The owed days go as one `usage.rollup_backlog` task, which clears the backlog only once its
    rollups succeed: a task that fails (or a message lost) leaves the days owed, and the notice up.
    """
    from costs.usage.tasks import rollup_backlog

    sent = rollup_enqueue(ranges=[(today - timedelta(days=1), today + timedelta(days=1))])
    if RollupBacklog.objects.exists():
        rollup_backlog.delay()
        sent += 1
    return sent


def rollup_after_change(ranges: list[tuple[date, date]], inline_days: int | None = None) -> object:
    """What a change to jobs calls (jobs.services.changes) with the days it changed.

    On workers: enqueue them, a long range as one `usage.rollup_range` that a worker fans out
    (so a request sends a few messages whatever the span). Embedded: roll up the latest
    `inline_days` days here (all of them when None) and owe the rest to the next `rollup`
    (costs.usage.services.backlog); a rollup that fails here owes its days too (_rollup_or_owe).
    """
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from costs.usage.tasks import rollup_range

        short = [(start, end) for start, end in ranges if (end - start).days <= DAILY_PARTS_UP_TO]
        for start, end in ranges:
            if (start, end) not in short:
                rollup_range.delay(start.isoformat(), end.isoformat())
        return rollup_enqueue(ranges=short) + len(ranges) - len(short)
    if inline_days is not None:
        ranges, owed = split_latest(ranges, inline_days, until=timezone.now().date() + timedelta(days=1))
        if owed:
            rollup_backlog_add(ranges=owed)
    return _rollup_or_owe(ranges, answering=inline_days is not None)


def _rollup_or_owe(ranges: list[tuple[date, date]], *, answering: bool) -> list[RollupSummary]:
    """Roll up each range here; from the first that fails on, the days are owed to the next `rollup`.

    The change to jobs is committed by then: a web request (`answering`) logs the failure and
    answers, its days owed rather than lost (stale rollups nobody would rebuild); a command or a
    task owes them too, then raises, so that it exits non-zero.
    """
    summaries = []
    for index, (start, end) in enumerate(ranges):
        try:
            summaries.append(usage_rollup(start=start, end=end))
        except Exception:
            rollup_backlog_add(ranges=ranges[index:])
            if not answering:
                raise
            logger.exception("The rollup of [%s, %s) after a change to jobs failed; its days are owed", start, end)
            break
    return summaries
