"""The team page's costliest and largest jobs and a label value's jobs equal a brute-force ranking of the data:
every slice of the range summed in Python, every job started in it measured in Python."""

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costs.catalog.tests.factories import GpuPriceFactory
from costs.dashboard.member import COSTLIEST_JOBS, JOBS_SHOWN, label_data, team_data
from costs.usage.models import JobDaySlice
from costs.usage.selectors import top_jobs
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

START, END = date(2025, 2, 1), date(2025, 3, 15)  # 42 days: the costliest jobs by the threshold algorithm
NOW = datetime(2025, 3, 25, tzinfo=UTC)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def team_jobs(db, settings):
    """nlp: a job of 8 GPUs from 2025-01-20 to 2025-02-03 01:00 (the largest total, 49 hours of it in the range),
    14 jobs inside the range (project alpha, beta or none), one still running since 2025-03-14, one after the
    range; vision: a large alpha job inside the range. H100 at $2.50, A100 unpriced."""
    settings.HELIOX_COST_LABELS = ["project"]
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("2.5000"))
    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    projects = [{"project": "alpha"}, {"project": "beta"}, {}]
    jobs = {
        "straddling": JobFactory(team=nlp, gpu_count=8, start_time=at(1, 20), end_time=at(2, 3, 1),
                                 labels={"project": "alpha"}),
        "inside": [JobFactory(team=nlp, gpu_count=1 + n % 5, start_time=at(2, 2 + 2 * n, n % 7),
                              end_time=at(2, 2 + 2 * n, 8 + n % 11), labels=projects[n % 3]) for n in range(14)],
        "unpriced": JobFactory(team=nlp, gpu_type="A100", gpu_count=4, start_time=at(2, 20), end_time=at(2, 21),
                               labels={"project": "alpha"}),
        "running": JobFactory(team=nlp, gpu_count=2, start_time=at(3, 14, 12), end_time=None, status="running",
                              labels={"project": "alpha"}),
        "after": JobFactory(team=nlp, gpu_count=8, start_time=at(3, 16), end_time=at(3, 18),
                            labels={"project": "alpha"}),
        "other_team": JobFactory(team=vision, gpu_count=8, start_time=at(2, 10), end_time=at(2, 12),
                                 labels={"project": "alpha"}),
    }  # fmt: skip
    usage_rollup(start=date(2025, 1, 15), end=date(2025, 3, 25), now=NOW)
    return {"nlp": nlp, **jobs}


def brute_sums(team, label: tuple[str, str] | None = None) -> list[tuple]:
    """(job id, allocated, estimated, GPU-hours, days) of the team's jobs from their slices in the range, the
    costliest first (allocated, estimated, GPU-hours, then id), unpriced ones after the priced ones."""
    sums: dict = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0, 0])
    for piece in JobDaySlice.objects.filter(team=team, date__gte=START, date__lt=END).select_related("job"):
        if label and piece.job.labels.get(label[0], "(unlabelled)") != label[1]:
            continue
        row = sums[piece.job_id]
        row[0] += piece.allocated_usd
        row[1] += piece.estimated_usd
        row[2] += piece.gpu_hours
        row[3] += 1
        row[4] += piece.price_usd_per_gpu_hour is not None
    ranked = sorted(sums.items(), key=lambda item: (-item[1][0], -item[1][1], -item[1][2], item[0]))
    ranked.sort(key=lambda item: item[1][4] == 0)  # stable: unknown after the priced ones
    return [(job_id, *((None, None) if priced == 0 else (alloc, est)), hours, days)
            for job_id, (alloc, est, hours, days, priced) in ranked]  # fmt: skip


def brute_largest(team) -> list:
    """The team's finished jobs started in the range, most GPU-seconds first, then the earliest, then by id."""
    begin, finish = (datetime.combine(day, datetime.min.time(), tzinfo=UTC) for day in (START, END))
    found = [job for job in Job.objects.filter(team=team) if job.end_time and begin <= job.start_time < finish]
    return sorted(found, key=lambda job: (-(job.end_time - job.start_time).total_seconds() * job.gpu_count,
                                          job.start_time, job.pk))  # fmt: skip


@pytest.mark.parametrize("first_chunk", [2, 200])  # several rounds of the threshold algorithm, and one
def test_team_page_costliest_and_largest_jobs_equal_a_brute_force_ranking(team_jobs, monkeypatch, first_chunk):
    monkeypatch.setattr(top_jobs, "FIRST_CHUNK", first_chunk)
    nlp = team_jobs["nlp"]
    data = team_data(team=nlp, start=START, end=END, scope=None)
    costliest = [(row["id"], row["allocated_usd"], row["estimated_usd"], row["gpu_hours"], row["days"])
                 for row in data["costliest_jobs"]]  # fmt: skip
    assert costliest == brute_sums(nlp)[:COSTLIEST_JOBS]
    # The job across the range's start ranks by its 49 hours inside (8 GPUs x $2.50: $980.00), first.
    assert costliest[0] == (team_jobs["straddling"].pk, Decimal("980.00"), Decimal("980.00"), Decimal("392.0000"), 3)
    largest = brute_largest(nlp)[:10]
    assert [job.pk for job in data["largest_jobs"]] == [job.pk for job in largest]
    # Started before the range, still running, after it: never among the largest started in it.
    shown = {job.pk for job in data["largest_jobs"]}
    assert not shown & {team_jobs[name].pk for name in ("straddling", "running", "after")}
    assert team_jobs["unpriced"].pk in shown  # 4 GPUs x 24 hours: the largest, priced or not


@pytest.mark.parametrize("value", ["alpha", "beta", "(unlabelled)"])
def test_a_label_values_jobs_equal_a_brute_force_ranking(team_jobs, monkeypatch, value):
    monkeypatch.setattr(top_jobs, "FIRST_CHUNK", 2)
    nlp = team_jobs["nlp"]
    jobs = label_data(team=nlp, key="project", value=value, start=START, end=END)["jobs"]
    expected = [row for row in brute_sums(nlp, ("project", value)) if row[1] is not None][:JOBS_SHOWN]
    shown = [(row["key"], row["allocated_usd"], row["estimated_usd"], row["gpu_hours"]) for row in jobs]
    assert shown[: len(expected)] == [row[:4] for row in expected]
    if value == "alpha":  # the job across the range's start by its days inside; vision's alpha job is not nlp's
        assert shown[0] == (team_jobs["straddling"].pk, Decimal("980.00"), Decimal("980.00"), Decimal("392.0000"))
        assert team_jobs["other_team"].pk not in {row[0] for row in shown}


def test_team_and_label_pages_read_a_bounded_number_of_queries(team_jobs):
    nlp = team_jobs["nlp"]
    counts = []
    for extra in (0, 40):  # 40 more jobs of nlp in the range
        for n in range(extra):
            JobFactory(team=nlp, gpu_count=1 + n % 3, start_time=at(2, 1 + n % 40 // 2, n % 20),
                       labels={"project": "alpha"})  # fmt: skip
        usage_rollup(start=START, end=END, now=NOW)
        with CaptureQueriesContext(connection) as queries:
            team_data(team=nlp, start=START, end=END, scope=None)
            label_data(team=nlp, key="project", value="alpha", start=START, end=END)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 40, counts


def test_the_admin_team_page_shows_what_its_costliest_jobs_cost(team_jobs, staff_client):
    """Issue 16: the team page has the cost of its largest jobs; the admin's shows the member page's ranking."""
    from django.urls import reverse

    from costs.dashboard.selectors import team_page_data

    nlp, straddling = team_jobs["nlp"], team_jobs["straddling"]
    data = team_page_data(team_id=nlp.pk, start=START, end=END)
    costliest = [(row["id"], row["allocated_usd"], row["estimated_usd"], row["gpu_hours"], row["days"])
                 for row in data["costliest_jobs"]]  # fmt: skip
    assert costliest == brute_sums(nlp)[:COSTLIEST_JOBS]

    page = staff_client.get(reverse("admin:team_dashboard", args=[nlp.pk]), {"start": START, "end": END})
    table = page.content.decode().split('id="hx-costliest"')[1].split("</table>")[0]
    first = table.split("<tr>")[2]  # after the header's row
    assert f'<a href="{reverse("admin:jobs_job_change", args=[straddling.pk])}">' in first
    assert [cell.split("</td>")[0].strip() for cell in first.split('<td class="num">')[1:]] == [
        "8 x H100", "3", "392.0000", "0", "980.00", "980.00",
    ]  # fmt: skip
