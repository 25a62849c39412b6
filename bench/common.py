"""Shared set-up for the benchmarks: a dedicated PostgreSQL database, migrated."""

import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heliox_bench"


def setup_django() -> None:
    """Point Django at the bench database (BENCH_DATABASE_URL), create it if needed, migrate it."""
    sys.path.insert(0, str(ROOT))
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "on")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heliox.settings")
    import psycopg

    admin_url, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"{label}: {results[label]:.2f} s", flush=True)


PRICED = [
    ("aws", "H100"), ("aws", "A100"), ("aws", "L4"), ("aws", "A10G"), ("aws", "T4"), ("gcp", "A100"),
    ("gcp", "L4"), ("azure", "A100-80GB"), ("lambda", "H100"), ("coreweave", "H100"), ("on-prem", "A100"),
]  # fmt: skip


def generate(jobs: int, first_day: str, days: int, max_hours: int, models: int, fleets: int) -> None:
    """`jobs` jobs starting uniformly over `days` days from `first_day`, lasting up to `max_hours`.

    Like a real organisation, each of the 8 teams runs its own `models` models on its
    own `fleets` (provider, GPU type) pairs; raise both for a worst case.
    """
    from django.db import connection

    from costs.billing.models import CostSnapshot
    from costs.usage.models import (
        JobDaySlice,
        LabelMonthSnapshot,
        LabelUsageSnapshot,
        ModelUsageSnapshot,
        UsageSnapshot,
    )  # fmt: skip
    from teams.models import Team

    # TRUNCATE, not DELETE: every run starts from empty tables and indexes, whatever ran before (with autovacuum
    # off or behind, as on the shared bench server, deleted rows stay as dead tuples and slow the next rollups).
    tables = (JobDaySlice, LabelUsageSnapshot, LabelMonthSnapshot, ModelUsageSnapshot, UsageSnapshot, CostSnapshot)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(model._meta.db_table for model in tables)}, jobs_jobtotals, jobs_job")
    Team.objects.all().delete()
    teams = [Team.objects.create(name=f"team-{n}") for n in range(8)]
    combos = ",".join(f"({n}, '{p}', '{g}')" for n, (p, g) in enumerate(PRICED))
    team_ids = ",".join(f"'{team.pk}'::uuid" for team in teams)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""
            WITH c(n, provider, gpu_type) AS (VALUES {combos}),
            raw AS (
                SELECT i, date_trunc('second', %s::timestamptz + random() * %s * interval '1 day') AS start_time,
                       floor(random() * %s)::int AS combo_pick, floor(random() * %s)::int AS model_pick,
                       floor(random() * 8)::int AS team,
                       1 + floor(random() * 8)::int AS gpus,
                       300 + floor(random() * random() * %s * 3600)::int AS seconds
                FROM generate_series(1, %s) AS i
            )
            INSERT INTO jobs_job (id, created_at, updated_at, team_id, model_name, provider, gpu_type, gpu_count,
                                  region, pricing, start_time, end_time, status, external_id, metadata, labels,
                                  gpu_util_source)
            SELECT gen_random_uuid(), now(), now(), (ARRAY[{team_ids}])[raw.team + 1],
                   'model-' || raw.team || '-' || raw.model_pick,
                   c.provider, c.gpu_type, raw.gpus, '', 'on_demand', raw.start_time,
                   raw.start_time + raw.seconds * interval '1 second', 'succeeded', NULL, '{{}}'::jsonb,
                   '{{}}'::jsonb, ''
            FROM raw JOIN c ON c.n = (raw.team * 3 + raw.combo_pick) %% {len(PRICED)}
            """,
            [first_day, days, fleets, models, max_hours, jobs],
        )
        cursor.execute("ANALYZE jobs_job")


def time_requests(client, url: str, count: int) -> tuple[list[float], int]:
    """GET `url` `count` times after one warm-up: (sorted milliseconds, queries of the last request).

    Query counts are recorded only with settings.DEBUG on.
    """
    from django.db import connection, reset_queries

    client.get(url)
    samples = []
    for _ in range(count):
        reset_queries()
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return sorted(samples), len(connection.queries)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def admin_total_sorts() -> list[str]:
    """?o= of the admin job list's estimated and allocated USD columns, most first and least first."""
    from jobs.admin import JobAdmin

    columns = ["action_checkbox", *JobAdmin.list_display]  # the actions checkbox comes first
    return [f"{sign}{columns.index(name)}" for name in ("estimated_column", "allocated_column") for sign in ("", "-")]
