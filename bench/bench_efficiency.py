"""GPU efficiency in the rollup on PostgreSQL: the full rollup with utilisation on every job against the same rollup
of the same jobs without any (all unmeasured), same run.

    .venv/bin/python bench/bench_efficiency.py [--jobs 200000] [--days 30] [--rounds 2]

Generates the jobs in SQL (bench/common.py) with the three cost labels of bench_job_costs.py,
then alternates, `rounds` times: the rollup (job slices, label rows and job totals included)
with every job unmeasured, then with a utilisation (0-100 %) on every job. The figure is the
median "with" over the median "without" (alternating keeps a busy machine's drift out of the
ratio; the best of each is printed too). Target (issue 18): with utilisation <= 1.2x without.
"""

import argparse
from datetime import UTC, date, datetime, timedelta
from statistics import median

from bench_job_costs import LABELS_SQL
from common import generate, peak_rss_mb, setup_django, timed

SET_UTIL = "UPDATE jobs_job SET gpu_util_avg = round((random() * 100)::numeric, 2), gpu_util_source = 'import'"
CLEAR_UTIL = "UPDATE jobs_job SET gpu_util_avg = NULL, gpu_util_source = ''"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from costs.catalog.services.gpu_prices import prices_refresh
    from costs.usage.models import UsageSnapshot
    from costs.usage.selectors.spend import spend_summary
    from costs.usage.services.rollup import usage_rollup

    prices_refresh()
    first = date(2025, 1, 1)
    span = {"start": first, "end": first + timedelta(days=args.days), "now": datetime(2026, 1, 1, tzinfo=UTC)}
    generate(args.jobs, first.isoformat(), args.days, 30, 3, 3)
    with connection.cursor() as cursor:
        cursor.execute(LABELS_SQL)
        cursor.execute("VACUUM ANALYZE jobs_job")
    print(f"generated and labelled {args.jobs:,} jobs over {args.days} days", flush=True)
    results: dict[str, float] = {}
    times: dict[str, list[float]] = {"without": [], "with": []}
    for round_ in range(1, args.rounds + 1):
        for kind, statement in (("without", CLEAR_UTIL), ("with", SET_UTIL)):
            with connection.cursor() as cursor:
                cursor.execute(statement)
                cursor.execute("VACUUM ANALYZE jobs_job")
            label = f"round {round_}: rollup {kind} utilisation"
            with timed(label, results):
                usage_rollup(**span)
            times[kind].append(results[label])
    totals = spend_summary(start=span["start"], end=span["end"], group_by=()).totals
    print(f"  {UsageSnapshot.objects.count():,} team rows; efficiency {totals['efficiency_pct']} %, "
          f"waste USD {totals['waste_usd']:,}; peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip
    with_, without = median(times["with"]), median(times["without"])
    print(f"with utilisation / without: {with_ / without:.2f}x (medians {with_:.2f} s / {without:.2f} s; best "
          f"{min(times['with']):.2f} s / {min(times['without']):.2f} s; target <= 1.2x)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
