"""A change to a long job through the API: how long the request takes, against rolling up all its days in it.

    .venv/bin/python bench/bench_job_change.py [--jobs 100000] [--skip-build]

Builds a year (2025) of jobs in SQL (bench/common.py's generator), then, embedded (no broker: the
rollup runs in this process), POSTs as staff through DRF's test client: a finished job of 91 days,
one of three years, a running job started three years ago and its `finish`. Each request is timed
with its queries; then the days it left owed are rolled up as `rollup` does (`usage_rollup_backlog`).
The anchor is the request before this change, which rolled up every day the job covered inside it:
reproduced by turning the request's bound off (`jobs_changed(inline_days=None)`), for the 91-day job
only (the three-year ones would take minutes). Target: every request answers in well under a second
whatever the job's span, with a number of queries that does not grow with it.
"""

import argparse
import time

from common import generate, setup_django

CASES = (
    ("create a finished job of 91 days", {"start_time": "2025-10-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}),
    ("create a finished job of 3 years", {"start_time": "2023-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}),
    ("create a running job of 3 years", {"start_time": "2023-11-01T00:00:00Z", "status": "running"}),
)


def request(client, label: str, method: str, url: str, body: dict) -> dict:
    """One request, timed, with its queries (DEBUG is on) and what it left owed; then the owed days rolled up."""
    from django.db import connection, reset_queries

    from costs.usage.models import RollupBacklog
    from costs.usage.services.backlog import usage_rollup_backlog

    reset_queries()
    started = time.perf_counter()
    response = getattr(client, method)(url, body, format="json")
    seconds = time.perf_counter() - started
    assert response.status_code in (200, 201), response.content
    queries = len(connection.queries)
    owed = sum((end - start).days for start, end in RollupBacklog.objects.values_list("start", "end"))
    started = time.perf_counter()
    usage_rollup_backlog()
    later = time.perf_counter() - started
    print(f"{label:44s} {seconds * 1000:8,.0f} ms, {queries:4d} queries; {owed:5d} day(s) owed, "
          f"rolled up after in {later:6.1f} s", flush=True)  # fmt: skip
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--skip-build", action="store_true", help="Reuse the jobs of the previous run.")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from costs.catalog.services.gpu_prices import prices_refresh
    from jobs.models import Job
    from jobs.services import changes
    from teams.models import Team

    assert settings.CELERY_TASK_ALWAYS_EAGER, "run without CELERY_BROKER_URL: this measures the embedded request"
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
    if not args.skip_build:
        prices_refresh()
        generate(args.jobs, "2025-01-01", 365, 30, 3, 3)
    Job.objects.filter(model_name="bench-change").delete()
    user, _ = get_user_model().objects.update_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = APIClient()
    client.force_authenticate(user)
    team = str(Team.objects.order_by("name").values_list("pk", flat=True).first())
    job = {"team": team, "model_name": "bench-change", "provider": "aws", "gpu_type": "H100", "gpu_count": 8}

    bound = changes.jobs_changed.__kwdefaults__["inline_days"]
    changes.jobs_changed.__kwdefaults__["inline_days"] = None  # the request as it was: every day in it
    try:
        request(client, f"before: {CASES[0][0]}", "post", "/api/v1/jobs/", {**job, **CASES[0][1]})
    finally:
        changes.jobs_changed.__kwdefaults__["inline_days"] = bound
    running = None
    for label, times in CASES:
        running = request(client, f"now: {label}", "post", "/api/v1/jobs/", {**job, **times})
    assert running is not None
    request(client, "now: finish the running job of 3 years", "post", f"/api/v1/jobs/{running['id']}/finish/", {})
    Job.objects.filter(model_name="bench-change").delete()


if __name__ == "__main__":
    main()
