"""Admin dashboard and member UI render times with a year of rollups built from 2,000,000 jobs (PostgreSQL).

    .venv/bin/python bench/bench_api.py            # builds the data, once
    .venv/bin/python bench/bench_dashboard.py [--requests 20]

Times the server side of the dashboard (whole request through Django's test
client) for 30 days and for the whole year, and a team page, with their query
counts. Target (issue #6): under 300 ms with a bounded number of queries.
The member UI (issue #15) in the same run: a member's home, team page and job list
over 90 days, each page and its chart data (a second request), against the staff
dashboard over the same 90 days: as fast as the staff one, under 300 ms.
"""

import argparse
import statistics
from datetime import timedelta

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

    from costs.usage.models import UsageSnapshot
    from jobs.models import Job
    from teams.models import Membership, Team

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    settings.DEBUG = True  # record queries
    team = Team.objects.order_by("name").first()
    member, _ = get_user_model().objects.get_or_create(username="bench-member")
    Membership.objects.get_or_create(user=member, team=team)
    member_client = Client()
    member_client.force_login(member)
    print(f"{Job.objects.count():,} jobs")
    last = UsageSnapshot.objects.latest("date").date + timedelta(days=1)  # the data's last 90 days
    days90 = f"start={last - timedelta(days=90)}&end={last}"
    for who, label, url in (
        (client, "dashboard, 30 days", "/admin/?start=2025-06-01&end=2025-07-01"),
        (client, "dashboard, a year", "/admin/?start=2025-01-01&end=2026-01-01"),
        (client, "team page, a year", f"/admin/dashboard/team/{team.pk}/?start=2025-01-01&end=2026-01-01"),
        (client, "dashboard, 90 days", f"/admin/?{days90}"),
        (member_client, "member home, 90 days", f"/?{days90}"),
        (member_client, "  its chart data", f"/?format=json&{days90}"),
        (member_client, "member team, 90 days", f"/teams/{team.pk}/?{days90}"),
        (member_client, "  its chart data", f"/teams/{team.pk}/?format=json&{days90}"),
        (member_client, "member job list", "/jobs/"),
        (client, "staff home (org), 90 d", f"/?{days90}"),
    ):
        samples, queries = time_requests(who, url, args.requests)
        print(f"{label:22s} median {statistics.median(samples):6.1f} ms  p95 {p95(samples):6.1f} ms  {queries} queries")


if __name__ == "__main__":
    main()
