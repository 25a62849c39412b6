"""Default beat schedules: declared beside their task, stored by `migrate`, edited by staff in the admin.

A tasks module declares `default_schedule(name=..., task=..., crontab="m h dom mon dow")`.
After every `migrate`, each declared schedule whose name is not in the database yet is stored
(django-celery-beat's PeriodicTask, times in UTC). One that exists is left alone, whatever
staff changed in it. To stop a default schedule, disable it in the admin: a deleted one comes
back at the next `migrate`.
"""

import json
from dataclasses import dataclass, field

from django.db import transaction

CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


@dataclass(frozen=True)
class DefaultSchedule:
    name: str  # what staff see in the admin; the key
    task: str  # the registered task name, e.g. ops.prune_task_runs
    crontab: str  # five cron fields, UTC: "30 3 * * *"
    kwargs: dict = field(default_factory=dict)
    description: str = ""


DEFAULT_SCHEDULES: dict[str, DefaultSchedule] = {}


def default_schedule(*, name: str, task: str, crontab: str, kwargs: dict | None = None, description: str = "") -> None:
    """Declare a schedule that `migrate` stores if no schedule of that name exists."""
    if len(crontab.split()) != len(CRONTAB_FIELDS):
        raise ValueError(f"default schedule {name!r}: crontab {crontab!r} needs five fields (m h dom mon dow)")
    DEFAULT_SCHEDULES[name] = DefaultSchedule(name, task, crontab, dict(kwargs or {}), description)


@transaction.atomic
def schedules_ensure(*, schedules: list[DefaultSchedule] | None = None) -> list[str]:
    """Store each default schedule not in the database yet; return the names stored."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    schedules = list(DEFAULT_SCHEDULES.values()) if schedules is None else schedules
    existing = set(PeriodicTask.objects.filter(name__in=[s.name for s in schedules]).values_list("name", flat=True))
    created = []
    for schedule in schedules:
        if schedule.name in existing:
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            **dict(zip(CRONTAB_FIELDS, schedule.crontab.split(), strict=True)), timezone="UTC"
        )
        PeriodicTask.objects.create(
            name=schedule.name,
            task=schedule.task,
            crontab=crontab,
            kwargs=json.dumps(schedule.kwargs),
            description=schedule.description,
        )
        created.append(schedule.name)
    return created


def schedules_ensure_after_migrate(using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """post_migrate: import every tasks module (they declare the schedules), then store the missing ones."""
    from heliox.celery import import_task_modules

    if using != "default":
        return
    import_task_modules()
    for name in schedules_ensure():
        if verbosity >= 1:
            print(f"  Stored the default schedule {name!r} (edit it in the admin: Periodic tasks).")
