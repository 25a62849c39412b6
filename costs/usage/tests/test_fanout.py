"""Rollups on workers: a range fanned out per day (per month when long), the change hook, `rollup --async`, beat."""

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import redis
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import UsageSnapshot
from costs.usage.services.fanout import rollup_parts
from costs.usage.services.rollup import usage_rollup
from jobs.services.changes import AffectedDays, jobs_changed
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory


def test_a_short_range_is_cut_into_days_a_long_one_into_months():
    assert rollup_parts(start=date(2025, 3, 30), end=date(2025, 4, 2)) == [
        (date(2025, 3, 30), date(2025, 3, 31)), (date(2025, 3, 31), date(2025, 4, 1)),
        (date(2025, 4, 1), date(2025, 4, 2)),
    ]  # fmt: skip
    assert len(rollup_parts(start=date(2025, 1, 1), end=date(2025, 4, 3))) == 92
    assert rollup_parts(start=date(2025, 1, 15), end=date(2025, 4, 20)) == [
        (date(2025, 1, 15), date(2025, 2, 1)), (date(2025, 2, 1), date(2025, 3, 1)),
        (date(2025, 3, 1), date(2025, 4, 1)), (date(2025, 4, 1), date(2025, 4, 20)),
    ]  # fmt: skip
    assert len(rollup_parts(start=date(2025, 1, 1), end=date(2026, 1, 1))) == 12


def _jobs():
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    team = TeamFactory(name="nlp")
    day = datetime(2025, 3, 10, tzinfo=UTC)
    JobFactory(team=team, gpu_count=4, start_time=day.replace(hour=22), end_time=day.replace(day=11, hour=2))
    JobFactory(team=team, gpu_count=1, start_time=day.replace(day=12, hour=1), end_time=day.replace(day=12, hour=3))


def _figures():
    return sorted(UsageSnapshot.objects.values_list("date", "gpu_hours", "estimated_cost_usd", "job_count"))


def test_rollup_async_gives_the_figures_of_the_inline_rollup(db):
    _jobs()
    usage_rollup(start=date(2025, 3, 9), end=date(2025, 3, 14))
    inline = _figures()
    UsageSnapshot.objects.all().delete()

    out = io.StringIO()
    call_command("rollup", "--start", "2025-03-09", "--end", "2025-03-14", "--async", stdout=out)  # embedded

    assert out.getvalue() == "Queued 5 rollup task(s) for 5 day(s) [2025-03-09, 2025-03-14).\n"
    assert (
        _figures()
        == inline
        == [
            (date(2025, 3, 10), Decimal("8.0000"), Decimal("32.00"), 1),
            (date(2025, 3, 11), Decimal("8.0000"), Decimal("32.00"), 1),
            (date(2025, 3, 12), Decimal("2.0000"), Decimal("8.00"), 1),
        ]
    )


def test_with_a_broker_a_change_enqueues_exactly_the_changed_days_a_long_range_as_one_message(
    db, celery_broker, redis_server, django_capture_on_commit_callbacks
):
    days = AffectedDays()
    days.add_span(date(2022, 1, 1), date(2024, 12, 31))  # years: one message, whatever the span
    days.add_span(date(2025, 3, 10), date(2025, 3, 11))
    days.add_span(date(2025, 3, 20), date(2025, 3, 20))
    with django_capture_on_commit_callbacks(execute=True):
        jobs_changed(days)

    messages = [json.loads(m)["headers"] for m in redis.Redis(port=redis_server.port).lrange("celery", 0, -1)]
    assert sorted((m["task"], m["argsrepr"]) for m in messages) == [
        ("usage.rollup_days", "('2025-03-10', '2025-03-11')"),
        ("usage.rollup_days", "('2025-03-11', '2025-03-12')"),
        ("usage.rollup_days", "('2025-03-20', '2025-03-21')"),
        ("usage.rollup_range", "('2022-01-01', '2025-01-01')"),  # a worker fans it out by month
    ]
    assert UsageSnapshot.objects.count() == 0  # nothing rolled up in this process


def test_beat_has_the_hourly_rollup_the_daily_price_refreshes_and_the_hourly_budget_check(db):
    schedules = {
        task.name: (task.task, task.crontab.minute, task.crontab.hour)
        for task in PeriodicTask.objects.select_related("crontab")
    }
    assert schedules == {
        "Prune the task-run log": ("ops.prune_task_runs", "30", "3"),
        "Roll up yesterday and today": ("usage.rollup_recent", "5", "*"),
        "Refresh GPU prices": ("catalog.refresh_prices", "15", "0"),
        "Refresh LLM model prices": ("catalog.refresh_model_prices", "20", "0"),
        "Check budgets": ("budgets.check_budgets", "20", "*"),
        "Sync Kubernetes GPU pods from Prometheus": ("jobs.sync_prometheus", "*/15", "*"),
    }
