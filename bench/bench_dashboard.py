"""Admin dashboard render time with a year of rollups built from 2,000,000 jobs (PostgreSQL).

    .venv/bin/python bench/bench_api.py            # builds the data, once
    .venv/bin/python bench/bench_dashboard.py [--requests 20]

Times the server side of the dashboard (whole request through Django's test
client) for 30 days and for the whole year, and a team page, with their query
counts. Target (issue #6): under 300 ms with a bounded number of queries.
"""

import argparse
import statistics

from common import p95, setup_django, time_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from jobs.models import Job
    from teams.models import Team

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    settings.DEBUG = True  # record queries
    team = Team.objects.order_by("name").first()
    print(f"{Job.objects.count():,} jobs")
    for label, url in (
        ("dashboard, 30 days", "/admin/?start=2025-06-01&end=2025-07-01"),
        ("dashboard, a year", "/admin/?start=2025-01-01&end=2026-01-01"),
        ("team page, a year", f"/admin/dashboard/team/{team.pk}/?start=2025-01-01&end=2026-01-01"),
    ):
        samples, queries = time_requests(client, url, args.requests)
        print(f"{label:22s} median {statistics.median(samples):6.1f} ms  p95 {p95(samples):6.1f} ms  {queries} queries")


if __name__ == "__main__":
    main()
