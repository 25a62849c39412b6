"""Job costs and cost labels on PostgreSQL: what the job slices cost the rollup, and the reads they serve.

    .venv/bin/python bench/bench_job_costs.py [--jobs 2000000] [--requests 30]

Generates a year of jobs in SQL (bench/common.py), labels them (project: 12 values,
user: 60, cost_center: 6; about a tenth without each), then, in the same run:
1. the rollup of 2025 without job costs (the anchor: rollup rows only), then with them
   (job slices, 3 label keys, job totals), then again with them (a re-run: slices
   rewritten, no job changed). Target: with / without <= 1.3.
2. GET /api/v1/jobs/?ordering=-estimated_usd (and -allocated_usd) as staff: p95 < 300 ms, bounded queries.
3. GET /api/v1/costs/summary/?group_by=label:project over 2025: p95 < 100 ms.
4. The member UI and the admin at that size: a member's home over the last 90 days (< 300 ms, as fast as
   the staff dashboard over the same days), the job list sorted by cost (member of one team, superuser;
   first page and page 20) and the admin's job list sorted by its estimated and allocated USD columns, most
   and least first: p95 < 300 ms.

With --skip-rollup-anchor the data of an earlier run is read again (after `migrate`, which setup_django runs);
with --rollup-only the run stops after item 1; with --floor item 1 ends with the floor of its writes
(bench/write_floor.py: the rows it produced written again into tables shaped like the real ones).
"""

import argparse
from datetime import UTC, date, datetime

from common import admin_total_sorts, generate, p95, peak_rss_mb, setup_django, time_requests, timed

LABELS_SQL = """
UPDATE jobs_job SET labels = jsonb_strip_nulls(jsonb_build_object(
    'project', CASE WHEN random() < 0.9 THEN 'project-' || floor(random() * 12)::int END,
    'user', CASE WHEN random() < 0.9 THEN 'user-' || floor(random() * 60)::int END,
    'cost_center', CASE WHEN random() < 0.9 THEN 'cc-' || floor(random() * 6)::int END))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--pages-only", action="store_true", help="With --skip-rollup-anchor: the pages of item 4.")
    parser.add_argument("--skip-rollup-anchor", action="store_true", help="Only the reads (data already rolled up).")
    parser.add_argument("--rollup-only", action="store_true", help="Only item 1: the rollups and their ratio.")
    parser.add_argument("--floor", action="store_true", help="After item 1: the floor of its writes (write_floor).")
    parser.add_argument(
        "--no-anchor",
        action="store_true",
        help="Generate and roll up once with job costs (no anchor, no re-run): data for the reads.",
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from costs.catalog.services.gpu_prices import prices_refresh

    prices_refresh()
    print(f"label keys rolled up: {', '.join(settings.HELIOX_COST_LABELS)}")
    if not args.skip_rollup_anchor:
        _generate_and_roll_up(args.jobs, anchor=not args.no_anchor, floor=args.floor)
    if args.rollup_only:
        return

    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
    user, _ = get_user_model().objects.update_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = APIClient()
    client.force_authenticate(user)
    if not args.pages_only:
        _time_reads(client, args.requests)
    _time_pages(user, args.requests)


def _generate_and_roll_up(jobs: int, *, anchor: bool, floor: bool) -> None:
    """A year of labelled jobs, rolled up with job costs (and without, first, as the anchor)."""
    from django.db import connection

    from costs.usage.models import JobDaySlice, LabelUsageSnapshot
    from costs.usage.services.rollup import usage_rollup

    results: dict[str, float] = {}
    year = {"start": date(2025, 1, 1), "end": date(2026, 1, 1), "now": datetime(2026, 1, 1, tzinfo=UTC)}
    generate(jobs, "2025-01-01", 365, 30, 3, 3)
    with connection.cursor() as cursor:
        cursor.execute(LABELS_SQL)
        cursor.execute("VACUUM ANALYZE jobs_job")
    print(f"generated and labelled {jobs:,} jobs over 2025; peak RSS {peak_rss_mb():.0f} MiB", flush=True)
    if anchor:
        with timed("rollup of 2025 without job costs (anchor)", results):
            usage_rollup(**year, job_costs=False)
    with timed("rollup of 2025 with job slices, 3 label keys and job totals", results):
        summary = usage_rollup(**year)
    print(f"  {JobDaySlice.objects.count():,} job slices, {LabelUsageSnapshot.objects.count():,} label rows, "
          f"{summary.jobs_updated:,} job totals set; peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip
    if anchor:
        with timed("rollup of 2025 with job costs again (re-run)", results):
            usage_rollup(**year)
        ratio = results["rollup of 2025 with job slices, 3 label keys and job totals"] / results[
            "rollup of 2025 without job costs (anchor)"]  # fmt: skip
        print(f"with job costs / without: {ratio:.2f}x (target <= 1.3x)", flush=True)
        if floor:
            _print_floor(results["rollup of 2025 without job costs (anchor)"])
    with connection.cursor() as cursor:
        for table in ("jobs_job", "costs_jobdayslice", "costs_labelusagesnapshot", "costs_labelmonthsnapshot"):
            cursor.execute(f"VACUUM ANALYZE {table}")  # as autovacuum would before long: fresh plans


def _print_floor(anchor: float) -> None:
    """The job-cost writes alone, nothing computed (write_floor), against the rollup without job costs."""
    from write_floor import write_floor

    for name, seconds in write_floor().items():
        print(f"  floor, {name}: {seconds:.2f} s = {seconds / anchor:.2f}x the rollup without job costs", flush=True)
    print("  (1.3x leaves 0.30x for all the job-cost work, writes included)", flush=True)


def _time_reads(client, requests: int) -> None:
    for url, target in (
        ("/api/v1/jobs/?ordering=-estimated_usd", 300),
        ("/api/v1/jobs/?ordering=-allocated_usd&page_size=100", 300),
        ("/api/v1/costs/top-jobs?start=2025-01-01&end=2026-01-01&limit=50", None),
        ("/api/v1/costs/summary?start=2025-01-01&end=2026-01-01&group_by=label:project", 100),
        ("/api/v1/costs/summary?start=2025-01-01&end=2026-01-01&group_by=label:user,team", None),
    ):
        # top-jobs sums a year of slices per job (seconds a request): a few requests are enough to say so.
        samples, queries = time_requests(client, url, 3 if "top-jobs" in url else requests)
        goal = f" (target < {target})" if target else ""
        print(f"GET {url}: p95 {p95(samples):.0f} ms{goal}, median {samples[len(samples) // 2]:.0f} ms, "
              f"{queries} queries", flush=True)  # fmt: skip


def _time_pages(superuser, requests: int) -> None:
    """The member UI (a member of one team, the superuser) and the admin, server side through the test client."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from teams.models import Membership, Team

    member, _ = get_user_model().objects.get_or_create(username="bench-member")
    team = Team.objects.order_by("name").first()
    Membership.objects.get_or_create(user=member, team=team)
    clients = {}
    for who, user in (("member", member), ("superuser", superuser)):
        clients[who] = Client()
        clients[who].force_login(user)
    days90 = "start=2025-10-03&end=2026-01-01"
    for who, url, target in (
        ("superuser", f"/admin/?{days90}", None),  # the staff dashboard: the anchor of the member home
        ("member", f"/?{days90}", 300),
        ("member", f"/teams/{team.pk}/?{days90}", 300),  # by model and by each label key
        ("member", f"/teams/{team.pk}/label/?key=project&value=project-3&{days90}", 300),
        ("superuser", f"/?{days90}", 300),
        ("member", "/jobs/?sort=-cost", 300),
        ("member", "/jobs/?sort=-cost&page=20", 300),
        ("member", "/jobs/?sort=cost", 300),
        ("superuser", "/jobs/?sort=-cost", 300),
        ("superuser", "/jobs/?sort=-allocated&page=20", 300),
        ("superuser", "/admin/jobs/job/", None),  # the admin's job list unsorted: the anchor of the sorted ones
        *[("superuser", f"/admin/jobs/job/?o={sort}", 300) for sort in admin_total_sorts()],
    ):
        samples, queries = time_requests(clients[who], url, requests)
        goal = f" (target < {target})" if target else ""
        print(f"{who} GET {url}: p95 {p95(samples):.0f} ms{goal}, median {samples[len(samples) // 2]:.0f} ms, "
              f"{queries} queries", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
