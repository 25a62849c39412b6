import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ops.schedules import DEFAULT_SCHEDULES, DefaultSchedule, default_schedule, schedules_ensure

PRUNE = "Prune the task-run log"


def test_migrate_stores_the_default_schedules_in_utc(db):
    """The test database was migrated: the prune schedule declared in ops/tasks.py is there, for beat."""
    task = PeriodicTask.objects.select_related("crontab").get(name=PRUNE)
    crontab = task.crontab
    assert (task.task, task.enabled, task.kwargs) == ("ops.prune_task_runs", True, "{}")
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == (
        "30", "3", "*", "*", "*"
    )  # fmt: skip
    assert str(crontab.timezone) == "UTC"


def test_a_schedule_staff_edited_is_left_as_it_is(db):
    task = PeriodicTask.objects.get(name=PRUNE)
    task.crontab = CrontabSchedule.objects.create(minute="0", hour="5", timezone="UTC")
    task.enabled = False
    task.save()
    assert schedules_ensure() == []
    call_command("migrate", verbosity=0)
    task.refresh_from_db()
    assert (task.crontab.hour, task.enabled) == ("5", False)


def test_a_deleted_default_schedule_comes_back_at_the_next_migrate(db):
    PeriodicTask.objects.filter(name=PRUNE).delete()
    call_command("migrate", verbosity=0)
    assert PeriodicTask.objects.filter(name=PRUNE, task="ops.prune_task_runs").count() == 1


def test_schedules_ensure_stores_only_the_missing_ones_and_shares_crontabs(db):
    schedules = [
        DefaultSchedule("Hourly a", "ops.ping", "5 * * * *", {"days": 2}),
        DefaultSchedule("Hourly b", "ops.ping", "5 * * * *"),
    ]
    assert schedules_ensure(schedules=schedules) == ["Hourly a", "Hourly b"]
    assert schedules_ensure(schedules=schedules) == []
    a, b = PeriodicTask.objects.get(name="Hourly a"), PeriodicTask.objects.get(name="Hourly b")
    assert a.crontab_id == b.crontab_id
    assert a.kwargs == '{"days": 2}'


def test_a_default_schedule_needs_five_cron_fields(monkeypatch):
    monkeypatch.setattr("ops.schedules.DEFAULT_SCHEDULES", dict(DEFAULT_SCHEDULES))
    with pytest.raises(ValueError, match=r"default schedule 'Bad': crontab '5 \* \* \*' needs five fields"):
        default_schedule(name="Bad", task="ops.ping", crontab="5 * * *")
