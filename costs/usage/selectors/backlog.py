"""Which days of a range a rollup still owes (costs.usage.services.backlog): their figures predate a change."""

from datetime import date, timedelta

from django.db.models import Max, Min

from costs.usage.models import RollupBacklog


def owed_days(*, start: date, end: date) -> dict | None:
    """The first and last owed UTC day within [start, end), or None when every day of it is up to date. One query.

    A change made in a web request without workers rolls up only its latest days; the older ones
    show the figures from before the change until `rollup` (or the hourly task) rebuilds them.
    """
    found = RollupBacklog.objects.filter(start__lt=end, end__gt=start).aggregate(first=Min("start"), after=Max("end"))
    if found["first"] is None:
        return None
    return {"first": max(found["first"], start), "last": min(found["after"], end) - timedelta(days=1)}
