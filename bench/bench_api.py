"""API speed on PostgreSQL with a year of rollups built from 2,000,000 jobs.

    .venv/bin/python bench/bench_api.py [--jobs 2000000] [--requests 50] [--skip-build]

Builds the data (jobs in SQL, `usage_rollup` for 2025, a bill per day at 110 % of
the estimate), then measures in-process with DRF's test client: costs/summary over
30 days and over the year, a 100-job page, and serialising 10,000 jobs against
`values()` + `json.dumps` of the same rows. Targets (issue #5): summary p95 < 50 ms
(30 days) and < 200 ms (a year); a job page p95 < 30 ms; serialising within 1.5x.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime

from common import generate, p95, setup_django, time_requests


def build(jobs: int) -> None:
    from django.db import connection

    from costs.catalog.services.gpu_prices import prices_refresh
    from costs.usage.services.allocation import allocation_refresh
    from costs.usage.services.rollup import usage_rollup

    prices_refresh()
    generate(jobs, "2025-01-01", 365, 30, 3, 3)
    usage_rollup(start=date(2025, 1, 1), end=date(2026, 1, 1), now=datetime(2026, 1, 1, tzinfo=UTC))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO costs_costsnapshot (id, created_at, updated_at, date, provider, gpu_type, cost_usd, "
            "idle_usd, idle_shared_usd) SELECT gen_random_uuid(), now(), now(), date, provider, gpu_type, "
            "round(sum(estimated_cost_usd) * 1.1, 2), 0, 0 FROM costs_usagesnapshot GROUP BY date, provider, gpu_type "
            "ON CONFLICT DO NOTHING"
        )
    allocation_refresh(days=[date.fromordinal(date(2025, 1, 1).toordinal() + n) for n in range(365)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-build", action="store_true", help="Reuse the data of the previous run.")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from jobs.api.serializers import JobSerializer
    from jobs.models import Job

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
    if not args.skip_build:
        started = time.perf_counter()
        build(args.jobs)
        print(f"built a year of rollups from {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s")
    # A superuser: staff without permissions would see only their own teams (none).
    user, _ = get_user_model().objects.update_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = APIClient()
    client.force_authenticate(user)
    for label, url in (
        ("costs/summary, 30 days, by team", "/api/v1/costs/summary?start=2025-06-01&end=2025-07-01&group_by=team"),
        ("costs/summary, a year, by team", "/api/v1/costs/summary?start=2025-01-01&end=2026-01-01&group_by=team"),
        ("costs/summary, a year, by team,model_name",
         "/api/v1/costs/summary?start=2025-01-01&end=2026-01-01&group_by=team,model_name"),
        ("jobs, a page of 100", "/api/v1/jobs/?page_size=100"),
    ):  # fmt: skip
        samples, _ = time_requests(client, url, args.requests)
        print(f"{label:42s} median {statistics.median(samples):6.1f} ms  p95 {p95(samples):6.1f} ms")

    rows = list(Job.objects.select_related("team").order_by("-created_at")[:10_000])
    context = {"now": datetime.now(UTC), "request": None}
    start = time.perf_counter()
    json.dumps(JobSerializer(rows, many=True, context=context).data, default=str)
    drf = time.perf_counter() - start
    values = list(Job.objects.order_by("-created_at").values()[:10_000])
    start = time.perf_counter()
    json.dumps(values, default=str)
    plain = time.perf_counter() - start
    print(f"serialise 10,000 jobs: JobSerializer {drf * 1000:.0f} ms, values()+json.dumps {plain * 1000:.0f} ms "
          f"({drf / plain:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
