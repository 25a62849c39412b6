"""TailPaginator: the same pages as Django's Paginator, the second half read from the end."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from heliox.pagination import TailPaginator
from jobs.models import Job, JobTotals
from jobs.tests.factories import JobFactory
from web.views.jobs import SORTS


@pytest.fixture
def jobs(db):
    start = datetime(2025, 3, 1, tzinfo=UTC)
    # Ties on start_time, so that only the id breaks them; some with estimated totals, most without.
    made = [JobFactory(start_time=start + timedelta(hours=n // 2), end_time=start + timedelta(hours=n // 2 + 1))
            for n in range(11)]  # fmt: skip
    for job in (made[1], made[4]):
        JobTotals.objects.create(job=job, gpu_hours=1, unpriced_gpu_hours=0, estimated_usd=3)
    return made


# The member list's sorts, and a total with NULLS LAST (the admin's cost column; reversed: NULLS FIRST).
NULLS_LAST = (F("totals__estimated_usd").desc(nulls_last=True), "id")


@pytest.mark.parametrize("ordering", [SORTS["-start"], SORTS["start"], NULLS_LAST, SORTS["team"]])
def test_every_page_is_the_one_paginator_gives(jobs, ordering):
    ordered = Job.objects.order_by(*ordering)
    for number in range(1, 5):
        expected = [job.pk for job in Paginator(ordered, 3).page(number)]
        assert [job.pk for job in TailPaginator(ordered, 3).page(number)] == expected, (ordering, number)


def test_the_last_page_is_read_from_the_end(jobs):
    ordered = Job.objects.order_by("-start_time", "-id")
    with CaptureQueriesContext(connection) as queries:
        page = TailPaginator(ordered, 3).page(4)
    assert [job.pk for job in page] == sorted([jobs[0].pk, jobs[1].pk], reverse=True)  # the two oldest (a tie: by id)
    fetch = queries.captured_queries[-1]["sql"]
    assert 'ORDER BY "jobs_job"."start_time" ASC, "jobs_job"."id" ASC LIMIT 2' in fetch
    assert "OFFSET" not in fetch
    assert F("estimated_usd").desc(nulls_last=True).reverse_ordering().nulls_first  # what -cost relies on


def test_the_admins_pages_past_half_an_estimated_count_are_read_from_the_end(jobs, monkeypatch):
    from heliox.admin_utils import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 4)  # 11 jobs: the count is approximate
    if connection.vendor == "postgresql":  # the estimate is then reltuples: 11
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jobs_job")
    ordered = Job.objects.order_by("-start_time", "-pk")
    for number in range(1, 5):
        expected = [job.pk for job in Paginator(ordered, 3).page(number)]
        paginator = BoundedCountPaginator(ordered, 3)
        with CaptureQueriesContext(connection) as queries:
            page = paginator.page(number)
        assert [job.pk for job in page] == expected, number
        if number == 4:  # past the middle: an exact COUNT, then the rows from the end
            assert (paginator.count, paginator.approximate) == (11, False)
            assert "OFFSET" not in queries.captured_queries[-1]["sql"]
