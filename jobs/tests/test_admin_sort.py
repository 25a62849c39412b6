"""The admin job list sorted by a cost total: known totals by value, unknown ones last both ways, ties by id,
a page in a bounded number of queries, read on the totals' indexes (PostgreSQL)."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heliox.admin_utils import BoundedCountPaginator
from jobs.admin import JobAdmin
from jobs.models import Job, JobTotals
from jobs.tests.factories import JobFactory

COLUMNS = ["action_checkbox", *JobAdmin.list_display]  # ?o= counts the actions checkbox
ESTIMATED, ALLOCATED = COLUMNS.index("estimated_column"), COLUMNS.index("allocated_column")
CHANGELIST = "/admin/jobs/job/"
# name: (estimated, allocated); None is unknown (unpriced, or not rolled up yet). a and b tie on estimated,
# c and e on allocated; e's $0.00 is known, not unknown.
TOTALS = {
    "a": ("5.00", "4.00"),
    "b": ("5.00", "9.00"),
    "c": ("1.00", "1.00"),
    "d": ("12.50", "3.00"),
    "e": ("0.00", "1.00"),
    "u1": (None, None),
    "u2": (None, None),
    "u3": (None, None),
}


@pytest.fixture
def jobs(db) -> dict[str, Job]:
    made = {}
    for name, (estimated, allocated) in TOTALS.items():
        job = JobFactory(model_name=name)
        if name != "u3":  # u1 and u2 rolled up and unpriced (totals null); u3 not rolled up yet (no totals row)
            JobTotals.objects.create(job=job, gpu_hours=Decimal(1), unpriced_gpu_hours=Decimal(0),
                                     estimated_usd=estimated and Decimal(estimated),
                                     allocated_usd=allocated and Decimal(allocated))  # fmt: skip
        made[name] = job
    return made


def expected(jobs: dict[str, Job], column: int, *, descending: bool) -> list[str]:
    """Known totals most (least) first, ties by id ascending (descending); then the unknown ones by id in the
    same direction as the ties."""
    index = 0 if column == ESTIMATED else 1
    known = sorted((name for name in jobs if TOTALS[name][index] is not None), key=lambda name: jobs[name].pk,
                   reverse=not descending)  # fmt: skip
    known.sort(key=lambda name: Decimal(TOTALS[name][index]), reverse=descending)  # stable: ties keep the id order
    unknown = sorted((name for name in jobs if TOTALS[name][index] is None), key=lambda name: jobs[name].pk,
                     reverse=not descending)  # fmt: skip
    return known + unknown


def listed(client, query: str) -> list[str]:
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    return [job.model_name for job in response.context["cl"].result_list]


@pytest.mark.parametrize("column", [ESTIMATED, ALLOCATED])
@pytest.mark.parametrize("descending", [True, False])
def test_sorted_by_a_total_lists_known_totals_by_value_and_unknown_last(jobs, staff_client, column, descending):
    order = expected(jobs, column, descending=descending)
    assert order[-3:] == sorted(["u1", "u2", "u3"], key=lambda name: jobs[name].pk, reverse=not descending)
    if column == ESTIMATED:
        ties = sorted(["a", "b"], key=lambda name: jobs[name].pk, reverse=not descending)
        assert order[:5] == (["d", *ties, "c", "e"] if descending else ["e", "c", *ties, "d"])
    else:
        ties = sorted(["c", "e"], key=lambda name: jobs[name].pk, reverse=not descending)
        assert order[:5] == (["b", "a", "d", *ties] if descending else [*ties, "d", "a", "b"])
    assert listed(staff_client, f"o={'' if descending else '-'}{column}") == order


@pytest.mark.parametrize("column", [ESTIMATED, ALLOCATED])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("count_limit", [10_000, 4])  # 4: an approximate count, later pages read from the end
def test_pages_of_a_total_sort_meet_without_gap_or_overlap(jobs, staff_client, monkeypatch, column, descending,
                                                           count_limit):  # fmt: skip
    monkeypatch.setattr(admin.site._registry[Job], "list_per_page", 3)
    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", count_limit)
    sort = f"o={'' if descending else '-'}{column}"
    pages = [listed(staff_client, f"{sort}&p={number}") for number in (1, 2, 3)]
    order = expected(jobs, column, descending=descending)
    assert pages == [order[:3], order[3:6], order[6:]]  # page 2 holds the last known totals and the first unknown


def test_show_all_of_a_total_sort_lists_every_job_in_order(jobs, staff_client, monkeypatch):
    monkeypatch.setattr(admin.site._registry[Job], "list_per_page", 3)
    assert listed(staff_client, f"o=-{ALLOCATED}&all=") == expected(jobs, ALLOCATED, descending=False)


@pytest.mark.parametrize("descending", [True, False])
def test_a_total_sort_costs_the_same_queries_for_more_jobs(jobs, staff_client, monkeypatch, descending):
    monkeypatch.setattr(admin.site._registry[Job], "list_per_page", 3)
    sort = f"o={'' if descending else '-'}{ESTIMATED}"

    def queries(url: str) -> int:
        staff_client.get(url)  # the session's first use
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(url).status_code == 200
        return len(captured)

    before = [queries(f"{CHANGELIST}?{sort}&p={number}") for number in (1, 2, 3)]
    for number in range(30):
        JobFactory(model_name=f"more{number}")  # unknown totals: not rolled up
    after = [queries(f"{CHANGELIST}?{sort}&p={number}") for number in (1, 2, 3)]
    assert before == after
    # session, user, the team filter's choices, the bounded count (+ PostgreSQL's estimate), the date
    # hierarchy's bounds twice; the page: known totals, then (past them) a count of the known and the unknown
    assert max(after) <= 10


def test_several_sort_columns_keep_unknown_totals_last(jobs, staff_client):
    names = listed(staff_client, f"o=-{ESTIMATED}.-2")  # estimated least first, then by team
    assert (names[:2], set(names[2:4]), names[4], set(names[5:])) == (["e", "c"], {"a", "b"}, "d", {"u1", "u2", "u3"})


def test_the_csv_export_keeps_the_sorted_order(jobs, staff_client):
    response = staff_client.get(f"{CHANGELIST}export.csv?o=-{ESTIMATED}")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[2] for row in rows[1:]] == expected(jobs, ESTIMATED, descending=False)


@pytest.mark.postgres
@pytest.mark.parametrize("column", [ESTIMATED, ALLOCATED])
@pytest.mark.parametrize("descending", [True, False])
def test_total_sorts_are_read_from_the_totals_indexes_without_a_sort(jobs, staff_client, postgres_only, monkeypatch,
                                                                     column, descending):  # fmt: skip
    monkeypatch.setattr(admin.site._registry[Job], "list_per_page", 3)
    with CaptureQueriesContext(connection) as captured:
        for number in (1, 2, 3):
            staff_client.get(f"{CHANGELIST}?o={'' if descending else '-'}{column}&p={number}")
    total = "estimated_usd" if column == ESTIMATED else "allocated_usd"
    ordered = rf'FROM "jobs_job".*ORDER BY ("jobs_jobtotals"."{total}"|"jobs_job"."id")'
    reads = [q["sql"] for q in captured if re.search(ordered, q["sql"])]
    assert len(reads) >= 3, [q["sql"] for q in captured]  # each page (least first: known, then unknown ones)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # with sorting priced out, a Sort node means no index serves
        for sql in reads:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert not re.search(r"^\s*(->\s*)?(Incremental )?Sort\s+\(", plan, re.MULTILINE), plan
            # The known totals on their index; the unknown ones (no row, or null) by the job's primary key.
            assert f"jobs_totals_{total.split('_')[0]}_idx" in plan or "jobs_job_pkey" in plan, plan


def test_the_rows_checkbox_and_link_are_djangos_own(jobs, staff_client):
    from django.contrib.admin import ModelAdmin
    from django.contrib.admin.utils import quote
    from django.urls import reverse

    job = JobFactory(model_name='<b>"x" & y</b>')
    model_admin = admin.site._registry[Job]
    assert model_admin.action_checkbox(job) == ModelAdmin.action_checkbox(model_admin, job)
    changelist = staff_client.get(CHANGELIST).context["cl"]
    for row in [job, *jobs.values()]:
        assert changelist.url_for_result(row) == reverse("admin:jobs_job_change", args=[quote(row.pk)])
