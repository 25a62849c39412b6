"""A year's rollup inline, then fanned out on Celery workers (1 and 2 processes), on PostgreSQL.

    .venv/bin/python bench/bench_workers.py [--jobs 2000000] [--again]

Generates the jobs in SQL (bench/common.py), times `usage_rollup` over 2025 in this process
(the anchor), then starts a throwaway redis-server and `celery worker` processes against the
bench database and times `rollup --async`'s fan-out (one task per month for a year) until every
part has succeeded, with 1 and then 2 worker processes. Each way starts from the same state
(`reset`). Target (issue 17): 2 processes at least 1.6x faster than inline on a 2-core machine.
Prints the figures, each part's start, end and worker from the task-run log (where a worker run
loses time), and checks that every way gives the same rows.
"""

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from common import generate, setup_django, timed


def rows() -> list[tuple]:
    from costs.usage.models import UsageSnapshot

    return sorted(UsageSnapshot.objects.values_list("date", "team_id", "provider", "gpu_type", "gpu_hours",
                                                    "estimated_cost_usd", "job_count"))  # fmt: skip


def reset(again: bool) -> None:
    """Every way starts from the same state: no rollup written yet (or, `again`, the year rolled up already), the
    tables vacuumed and analysed (as autovacuum leaves a table that has stood for a while), so that no way pays for
    the others' dead rows or hint bits."""
    from django.db import connection

    from costs.usage.models import (
        JobDaySlice,
        LabelMonthSnapshot,
        LabelUsageSnapshot,
        ModelUsageSnapshot,
        UsageSnapshot,
    )
    from jobs.models import JobTotals
    from ops.models import TaskRun

    models = (JobDaySlice, LabelUsageSnapshot, LabelMonthSnapshot, ModelUsageSnapshot, UsageSnapshot, JobTotals,
              TaskRun)  # fmt: skip
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables[-1]}" if again else f"TRUNCATE {', '.join(tables)}")
        for table in ["jobs_job", *tables]:
            cursor.execute(f"VACUUM ANALYZE {table}")


def on_workers(processes: int, folder: Path, results: dict, again: bool) -> None:
    from costs.usage.services.fanout import rollup_enqueue
    from ops.models import TaskRun
    from ops.testing import CeleryProcess, RedisServer, process_env, use_broker

    reset(again)
    redis = RedisServer(folder)
    redis.start()
    worker = CeleryProcess(
        ["worker", "--loglevel", "INFO", "--concurrency", str(processes), "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--hostname", f"bench-{processes}@%h"],
        process_env(redis.url(0)), folder / f"worker-{processes}.log", "ready.", f"worker x{processes}",
    )  # fmt: skip
    try:
        worker.start()
        with use_broker(redis.url(0)), timed(f"rollup of 2025 on {processes} worker process(es)", results):
            sent = rollup_enqueue(ranges=[(date(2025, 1, 1), date(2026, 1, 1))])
            while TaskRun.objects.filter(name="usage.rollup_days", state="succeeded").count() < sent:
                if TaskRun.objects.filter(name="usage.rollup_days", state="failed").exists():
                    raise SystemExit(f"a part failed; see {worker.log_path}")
                time.sleep(0.2)
    finally:
        worker.stop()
        redis.stop()
    print_parts(processes)


def print_parts(processes: int) -> None:
    """Each part from the task-run log: when it started and ended (from the first start), and its worker."""
    from ops.models import TaskRun

    parts = list(TaskRun.objects.filter(name="usage.rollup_days").order_by("started_at"))
    if not parts or parts[0].started_at is None:
        return
    first = parts[0].started_at
    print(f"  parts on {processes} worker process(es), seconds from the first start:")
    for part in parts:
        start = (part.started_at - first).total_seconds()
        end = (part.finished_at - first).total_seconds() if part.finished_at else float("nan")
        seconds = (part.duration_ms or 0) / 1000
        days = " to ".join(json.loads(part.arguments)["args"])
        print(f"    {days} {start:7.1f} -> {end:7.1f} ({seconds:6.1f} s) {part.worker}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000_000)
    again = "every way rolls up a year rolled up already (as after a price change), not a new one"
    parser.add_argument("--again", action="store_true", help=again)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from costs.catalog.services.gpu_prices import prices_refresh
    from costs.usage.services.rollup import usage_rollup

    prices_refresh()
    generate(args.jobs, "2025-01-01", 365, 30, 3, 3)
    print(f"generated {args.jobs:,} jobs over 2025", flush=True)
    results: dict[str, float] = {}
    # Finished jobs only (they end in 2025): `now` does not change the figures between the runs.
    if args.again:
        usage_rollup(start=date(2025, 1, 1), end=date(2026, 1, 1), now=datetime(2026, 2, 1, tzinfo=UTC))
    reset(args.again)
    with timed("rollup of 2025 inline (one process)", results):
        usage_rollup(start=date(2025, 1, 1), end=date(2026, 1, 1), now=datetime(2026, 2, 1, tzinfo=UTC))
    inline = rows()
    with tempfile.TemporaryDirectory(prefix="heliox-bench-") as folder:
        settings.MEDIA_ROOT = folder
        for processes in (1, 2):
            on_workers(processes, Path(folder), results, args.again)
            assert rows() == inline, f"{processes} worker process(es) gave other rows than inline"
    anchor = results["rollup of 2025 inline (one process)"]
    for label, seconds in results.items():
        print(f"  {label}: {seconds:.1f} s, {anchor / seconds:.2f}x inline")


if __name__ == "__main__":
    main()
