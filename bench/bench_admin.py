"""The job changelist of the admin with 1,000,000 jobs (PostgreSQL).

    .venv/bin/python bench/bench_admin.py [--jobs 1000000] [--requests 20]

Logs a superuser in with Django's test client and times the changelist pages a
user clicks: the first page, a filtered page, a search, a page deep in the list.
Target (issue #2): a page costs the same with a million jobs: no full COUNT, no
query per row. Then the pages to the end of the list (issue 16): the admin's last
page and the member UI's job list (/jobs/) first and last page, each against its
anchor in the same run: the page's own rows fetched by the ORM and nothing else
(the OFFSET's cost is the database's, the rest is the page's). On a rolled-up database (`--keep` over
bench_job_costs.py's) the list sorted by estimated and allocated USD, most and least first (issue 15: p95 < 300 ms).
"""

import argparse
import math
import statistics
import time

from common import admin_total_sorts, generate, p95, setup_django, time_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="reuse the jobs of the last run when there are --jobs")
    parser.add_argument("--end-only", action="store_true", help="only the last pages and their anchors")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    from jobs.models import Job

    if not (args.keep and Job.objects.count() == args.jobs):
        generate(args.jobs, "2025-01-01", 365, 30, 3, 3)
    user, _ = get_user_model().objects.get_or_create(username="bench-admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    settings.DEBUG = True  # record queries
    pages = {
        "first page": "/admin/jobs/job/",
        "filtered (status, provider)": "/admin/jobs/job/?status__exact=succeeded&provider__exact=aws",
        "search model_name": "/admin/jobs/job/?q=model-3-1",
        "page 50": "/admin/jobs/job/?p=50",
        "page 101 (past 10,000)": "/admin/jobs/job/?p=101",
        "last page (estimated count)": f"/admin/jobs/job/?p={args.jobs // 100}",
        "date_hierarchy month": "/admin/jobs/job/?start_time__year=2025&start_time__month=6",
        # By a cost total (a rolled-up database: bench_job_costs.py), most and least first, unknown last.
        **{f"sorted ?o={sort}": f"/admin/jobs/job/?o={sort}" for sort in admin_total_sorts()},
        "sorted least first, page 50": f"/admin/jobs/job/?o={admin_total_sorts()[1]}&p=50",
    }
    print(f"{args.jobs:,} jobs; {args.requests} requests per page")
    for label, url in {} if args.end_only else pages.items():
        times, queries = time_requests(client, url, args.requests)
        print(f"{label:30s} median {statistics.median(times):7.1f} ms  p95 {p95(times):7.1f} ms  {queries} queries")
    _to_the_end(client, args.jobs, args.requests)


def _anchor(offset: int, limit: int, ordering: tuple[str, ...], count: int) -> list[float]:
    """Milliseconds to fetch one page's rows (with their team) by the ORM, nothing else: the page's floor."""
    from jobs.models import Job

    rows = Job.objects.select_related("team").order_by(*ordering)
    list(rows[offset : offset + limit])
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        list(rows[offset : offset + limit])
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def _to_the_end(client, jobs: int, count: int) -> None:
    """The last pages of the admin changelist (100 a page) and of the member job list (50 a page) vs anchors."""
    admin_last, member_last = math.ceil(jobs / 100), math.ceil(jobs / 50)
    cases = [
        ("admin first page", "/admin/jobs/job/", 0, 100, ("-start_time", "-pk")),
        ("admin last page", f"/admin/jobs/job/?p={admin_last}", (admin_last - 1) * 100, 100, ("-start_time", "-pk")),
        ("member /jobs/ first page", "/jobs/", 0, 50, ("-start_time", "-id")),
        ("member /jobs/ last page", f"/jobs/?page={member_last}", (member_last - 1) * 50, 50, ("-start_time", "-id")),
    ]
    for label, url, offset, limit, ordering in cases:
        times, queries = time_requests(client, url, count)
        anchor = _anchor(offset, limit, ordering, count)
        print(f"{label:30s} median {statistics.median(times):7.1f} ms  p95 {p95(times):7.1f} ms  {queries} queries;"
              f" anchor p95 {p95(anchor):7.1f} ms; ratio {p95(times) / p95(anchor):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
