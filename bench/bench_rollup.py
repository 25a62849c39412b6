"""Rollup speed and memory on PostgreSQL: one busy day, and a full year.

    .venv/bin/python bench/bench_rollup.py [--day-jobs 100000] [--year-jobs 2000000]

Generates its own jobs in SQL (generate_series, no Python memory), prices them from
the shipped catalog, then times `usage_rollup`. Targets (issue #3): one day of
100,000 jobs under 2 s; a year over 2,000,000 jobs under 60 s; peak memory of the
rollup under 300 MB whatever the job count.
"""

import argparse
from datetime import UTC, date, datetime

from common import generate, peak_rss_mb, setup_django, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day-jobs", type=int, default=100_000)
    parser.add_argument("--year-jobs", type=int, default=2_000_000)
    parser.add_argument("--models", type=int, default=3, help="Models per team (default 3).")
    parser.add_argument("--fleets", type=int, default=3, help="(provider, GPU type) pairs per team (default 3).")
    args = parser.parse_args()
    setup_django()
    from costs.catalog.services.gpu_prices import prices_refresh
    from costs.usage.services.rollup import usage_rollup

    prices_refresh()
    results: dict[str, float] = {}
    now = datetime(2026, 1, 1, tzinfo=UTC)

    generate(args.day_jobs, "2025-06-15", 1, 6, args.models, args.fleets)
    print(f"generated {args.day_jobs:,} jobs on one day; peak RSS {peak_rss_mb():.0f} MiB", flush=True)
    with timed(f"rollup of 1 day with {args.day_jobs:,} jobs", results):
        summary = usage_rollup(start=date(2025, 6, 15), end=date(2025, 6, 16), now=now)
    print(f"  {summary.rows} rows, {summary.jobs:,} job-days, peak RSS {peak_rss_mb():.0f} MiB")

    generate(args.year_jobs, "2025-01-01", 365, 30, args.models, args.fleets)
    print(f"generated {args.year_jobs:,} jobs over 2025; peak RSS {peak_rss_mb():.0f} MiB", flush=True)
    with timed(f"rollup of 365 days with {args.year_jobs:,} jobs", results):
        summary = usage_rollup(start=date(2025, 1, 1), end=date(2026, 1, 1), now=now)
    from costs.usage.models import ModelUsageSnapshot

    print(
        f"  {summary.rows:,} team rows, {ModelUsageSnapshot.objects.count():,} model rows, "
        f"{summary.jobs:,} job-days, peak RSS {peak_rss_mb():.0f} MiB"
    )


if __name__ == "__main__":
    main()
