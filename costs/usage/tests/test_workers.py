"""Imports and rollups on real workers (a real Redis, real `celery worker` processes): the same figures as
inline, and a worker killed with SIGKILL mid-rollup leaves the rollup to the next one, nothing duplicated.

They need PostgreSQL (a worker is another process: pytest-django's SQLite database lives in this one's
memory) and redis-server; ops/testing.py skips them, saying why, where either is missing.
"""

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.rollup import usage_rollup
from costs.usage.tasks import rollup_days, rollup_range
from jobs.models import ImportRecord, Job
from jobs.services.imports import JobImportOptions, jobs_import
from jobs.services.uploads import import_enqueue
from jobs.tests.factories import JobFactory
from ops.models import TaskRun
from ops.testing import task_run, wait_for
from teams.models import Team
from teams.tests.factories import TeamFactory

PHILLIPS = Path("/work/shared/data/slurm/phillips_sacct.log")
if not PHILLIPS.exists():  # a checkout without the shared data: the project's copy of the same file
    PHILLIPS = Path(__file__).parents[3] / "jobs" / "tests" / "fixtures" / "phillips_sacct.log"
SLOW = ["costs.usage.tests.slow_rollup"]
LIMITS = {"CELERY_TASK_TIME_LIMIT": "8", "CELERY_VISIBILITY_TIMEOUT": "9", "CELERY_RESTORE_INTERVAL": "1"}


FIGURES = ("date", "team__name", "provider", "gpu_type", "gpu_hours", "estimated_cost_usd", "job_count",
           "unpriced_gpu_hours")  # fmt: skip


def _figures() -> list[tuple]:
    return sorted(UsageSnapshot.objects.values_list(*FIGURES))


def _wipe() -> None:
    for model in (ModelUsageSnapshot, UsageSnapshot, Job, ImportRecord, Team, TaskRun):
        model.objects.all().delete()


def _rollups_done(expected: int) -> bool:
    runs = TaskRun.objects.filter(name="usage.rollup_days")
    return runs.count() >= expected and not runs.exclude(state="succeeded").exists()


def test_a_worker_imports_a_real_file_and_rolls_up_a_month_with_the_inline_figures(celery_worker):
    GpuPriceFactory(provider="on-prem", gpu_type="V100", usd_per_gpu_hour=Decimal("2.5000"),
                    effective_from=datetime(2016, 1, 1, tzinfo=UTC))  # fmt: skip
    options = JobImportOptions(fmt="sacct", gpu_type="V100")
    jobs_import(path=PHILLIPS, options=options)
    usage_rollup(start=date(2016, 12, 1), end=date(2017, 1, 2))
    inline = _figures()
    assert sum(row[5] for row in inline) == Decimal("1267.28")  # 506.9127 GPU-h x $2.50, rounded per day
    _wipe()

    celery_worker(concurrency=2)
    upload = ContentFile(PHILLIPS.read_bytes(), name=PHILLIPS.name)
    parameters = {"format": "sacct", "gpu_type": "V100", "create_teams": True}
    record = import_enqueue(file=upload, kind="jobs", parameters=parameters, run_by="test")
    wait_for(lambda: ImportRecord.objects.get(pk=record.pk).finished, 60, "the import on the worker")
    record.refresh_from_db()
    assert (record.status, record.rows_read, record.progress_total) == ("succeeded", 4285, 4285)
    wait_for(lambda: _rollups_done(11), 60, "the 11 days the import changed, rolled up on the worker")
    assert _figures() == inline

    rollup_range.delay("2016-12-01", "2017-01-02")  # a month and a day, fanned out: 32 tasks
    wait_for(lambda: _rollups_done(11 + 32), 90, "the month's rollup, one task per day")
    assert _figures() == inline


def test_a_worker_killed_mid_rollup_leaves_it_whole_to_the_next_worker(celery_worker):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    team = TeamFactory(name="nlp")
    first_day = datetime(2025, 3, 1, tzinfo=UTC)
    for n in range(31):  # one 2-hour job on 2 GPUs each day of March, and one across each midnight
        start = first_day + timedelta(days=n, hours=10)
        JobFactory(team=team, gpu_count=2, start_time=start, end_time=start + timedelta(hours=2))
        JobFactory(team=team, gpu_count=1, start_time=start + timedelta(hours=13), end_time=start + timedelta(hours=15))
    usage_rollup(start=date(2025, 3, 1), end=date(2025, 4, 2))
    inline = _figures()
    assert (len(inline), sum(row[5] for row in inline)) == (32, Decimal("744.00"))  # 31 x (4 + 2) GPU-h x $4
    UsageSnapshot.objects.all().delete()
    ModelUsageSnapshot.objects.all().delete()

    first = celery_worker(include=SLOW, env=LIMITS)
    sent = rollup_days.delay("2025-03-01", "2025-04-02")  # 32 days at 0.1 s more each: 3 s or more
    task_run(sent.id, states=("running",))
    time.sleep(1.0)
    first.kill()
    assert UsageSnapshot.objects.count() == 0  # one transaction: nothing half-written

    second = celery_worker(include=SLOW, env=LIMITS)
    run = task_run(sent.id, timeout=60)
    assert (run.state, run.attempts) == ("succeeded", 2)
    assert run.worker.startswith("test-worker-2@")
    assert _figures() == inline  # nothing duplicated: the same 32 rows
    assert f"Task usage.rollup_days[{sent.id}] succeeded" in second.log()


def test_the_per_day_lock_keeps_two_rollups_of_one_day_apart(postgres_only, transactional_db):
    """A second rollup of a day waits for the first's transaction (an advisory lock per day)."""
    from django.db import connection, connections, transaction

    from costs.usage.services.rollup import ROLLUP_LOCK

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK, date(2025, 3, 10).toordinal()])
            with transaction.atomic(), connection.cursor() as mine:
                mine.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK, date(2025, 3, 10).toordinal()])
                assert mine.fetchone() == (False,)  # the day is taken
                mine.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK, date(2025, 3, 11).toordinal()])
                assert mine.fetchone() == (True,)  # another day is free: rollups of other days run in parallel
            cursor.execute("ROLLBACK")
    finally:
        other.close()
