"""Usage tasks. Like every task: one call of a service, nothing more."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from costs.usage.services.backlog import usage_rollup_backlog
from costs.usage.services.fanout import rollup_enqueue, rollup_recent_enqueue
from costs.usage.services.rollup import usage_rollup
from ops.schedules import default_schedule


@shared_task(name="usage.rollup_days")
def rollup_days(start: str, end: str) -> dict[str, object]:
    """Roll up the UTC days [start, end) (ISO dates): one part of a fanned-out range."""
    summary = usage_rollup(start=date.fromisoformat(start), end=date.fromisoformat(end))
    return {
        "days": summary.days,
        "rows": summary.rows,
        "jobs": summary.jobs,
        "estimated_usd": str(summary.estimated_usd),
    }


@shared_task(name="usage.rollup_range")
def rollup_range(start: str, end: str) -> int:
    """Fan the UTC days [start, end) out as one rollup task per day (per month past 92 days); returns the tasks."""
    return rollup_enqueue(ranges=[(date.fromisoformat(start), date.fromisoformat(end))])


@shared_task(name="usage.rollup_backlog")
def rollup_backlog() -> int:
    """Roll up the days that changes left owed, then clear them (not before: a failure leaves them owed)."""
    return len(usage_rollup_backlog())


@shared_task(name="usage.rollup_recent")
def rollup_recent() -> int:
    """Yesterday and today (UTC) and any days owed, fanned out: the hourly schedule, like `rollup` without dates."""
    return rollup_recent_enqueue(today=timezone.now().date())


default_schedule(
    name="Roll up yesterday and today",
    task="usage.rollup_recent",
    crontab="5 * * * *",
    description="Hourly at :05 UTC: rolls up yesterday and today (running jobs accrue up to now).",
)
