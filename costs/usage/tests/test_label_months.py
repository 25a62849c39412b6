"""The label rollup's month rows: the sums of the month's day rows to the cent, kept so by every rollup and
reallocation, and `group_by=label:<key>` reading whole months from them gives the day rows' figures."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import LabelMonthSnapshot, LabelUsageSnapshot
from costs.usage.selectors.spend import label_summaries, spend_summary
from costs.usage.services.allocation import allocation_refresh
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

FIGURES = ("gpu_hours", "estimated_cost_usd", "allocated_usd", "allocated_shared_usd", "unpriced_gpu_hours",
           "job_count", "unpriced_job_count", "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours",
           "waste_usd")  # fmt: skip
START, END = date(2025, 1, 20), date(2025, 4, 10)  # a partial January, whole February and March, part of April
NOW = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture
def months_of_jobs(db):
    """Two teams' jobs every third day from 2025-01-02 to 2025-04-28, some across midnight, odd prices, labels."""
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("4.1237"))
    GpuPriceFactory(gpu_type="A100", usd_per_gpu_hour=Decimal("1.7777"))
    teams = [TeamFactory(name="vision"), TeamFactory(name="speech")]
    labels = [{"project": "atlas"}, {"project": "borealis", "user": "bo"}, {}]
    for index in range(40):
        start = datetime(2025, 1, 2, tzinfo=UTC) + timedelta(days=3 * index, hours=(index * 7) % 24, minutes=index)
        JobFactory(team=teams[index % 2], gpu_type=["H100", "A100", "MI300X"][index % 3], gpu_count=1 + index % 4,
                   start_time=start, end_time=start + timedelta(seconds=3607 * (1 + index % 9)),
                   labels=labels[index % 3], gpu_util_avg=None if index % 5 == 0 else Decimal(13 * index % 101),
                   gpu_util_source="" if index % 5 == 0 else "import")  # fmt: skip
    CostSnapshotFactory(date=date(2025, 2, 14), gpu_type="H100", cost_usd=Decimal("13.13"))
    usage_rollup(start=date(2025, 1, 1), end=date(2025, 5, 1), now=NOW)
    return teams


def month_sums_of_day_rows() -> dict[tuple, list]:
    sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * len(FIGURES))
    for row in LabelUsageSnapshot.objects.all():
        total = sums[(row.date.replace(day=1), row.team_id, row.key, row.value, row.provider, row.gpu_type)]
        for index, name in enumerate(FIGURES):
            total[index] += getattr(row, name)
    return dict(sums)


def month_rows() -> dict[tuple, list]:
    return {(r.date, r.team_id, r.key, r.value, r.provider, r.gpu_type): [getattr(r, n) for n in FIGURES]
            for r in LabelMonthSnapshot.objects.all()}  # fmt: skip


def test_month_rows_are_the_sums_of_their_day_rows(months_of_jobs):
    found = month_rows()
    assert {key[0] for key in found} == {date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)}
    assert found == month_sums_of_day_rows()
    # the efficiency figures are summed too: the jobs have waste and unmeasured hours
    assert sum(figures[FIGURES.index("waste_usd")] for figures in found.values()) > 0
    assert sum(figures[FIGURES.index("unmeasured_gpu_hours")] for figures in found.values()) > 0


def test_a_rollup_of_one_day_and_a_reallocation_keep_the_month_rows_the_sums(months_of_jobs):
    job = Job.objects.filter(start_time__date=date(2025, 2, 13)).first()
    Job.objects.filter(pk=job.pk).update(labels={"project": "cygnus"})
    usage_rollup(start=date(2025, 2, 13), end=date(2025, 2, 14), now=NOW)
    CostSnapshotFactory(date=date(2025, 3, 5), gpu_type="H100", cost_usd=Decimal("1.01"))
    allocation_refresh(days=[date(2025, 3, 5)])
    assert month_rows() == month_sums_of_day_rows()
    assert LabelMonthSnapshot.objects.filter(key="project", value="cygnus", date=date(2025, 2, 1)).exists()


@pytest.mark.parametrize("group_by", [["label:project"], ["label:user", "team"], ["label:project", "gpu_type"]])
@pytest.mark.parametrize("idle", ["separate", "share"])
def test_summary_by_label_over_whole_months_gives_the_day_rows_figures(months_of_jobs, group_by, idle):
    months = spend_summary(start=START, end=END, group_by=group_by, idle=idle)
    LabelMonthSnapshot.objects.all().delete()  # now only the day rows can answer: they must say the same
    LabelUsageSnapshot.objects.filter(date__lt=START).delete()  # (and nothing outside the range)
    days = spend_summary(start=START, end=END, group_by=group_by, idle=idle, interval="week")
    by_group: dict[tuple, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in days.rows:
        for name in ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours"):
            by_group[tuple(row[g] for g in months.group_by)][name] += row[name]
    assert len(months.rows) >= 3
    for row in months.rows:
        expected = by_group[tuple(row[g] for g in months.group_by)]
        assert [row[n] for n in ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours")] == [
            expected[n] for n in ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours")
        ], row
    team_total = spend_summary(start=START, end=END, group_by=["team"], idle=idle).totals
    assert months.totals["allocated_usd"] == team_total["allocated_usd"]  # label rows add up to the teams
    assert months.totals["gpu_hours"] == team_total["gpu_hours"]


def test_summary_by_label_by_month_matches_the_day_rows_month_by_month(months_of_jobs):
    months = spend_summary(start=START, end=END, group_by=["label:project"], interval="month")
    days = spend_summary(start=START, end=END, group_by=["label:project"], interval="day")  # the day rows only
    by_month: dict[tuple, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in days.rows:
        for name in ("gpu_hours", "estimated_usd", "allocated_usd", "idle_usd"):
            by_month[(row["period"].replace(day=1), row["label:project"])][name] += row[name]
    assert {(row["period"], row["label:project"]) for row in months.rows} == set(by_month)
    for row in months.rows:
        expected = by_month[(row["period"], row["label:project"])]
        assert [row[n] for n in ("gpu_hours", "estimated_usd", "allocated_usd", "idle_usd")] == [
            expected[n] for n in ("gpu_hours", "estimated_usd", "allocated_usd", "idle_usd")
        ], row


@pytest.mark.parametrize(
    ("start", "end"),
    [(START, END), (date(2025, 2, 1), date(2025, 4, 1)), (date(2025, 2, 1), date(2025, 3, 10)),
     (date(2025, 1, 20), date(2025, 3, 1)), (date(2025, 1, 5), date(2025, 1, 25))],
)  # fmt: skip
def test_label_summaries_of_every_key_at_once_equal_spend_summary_by_each_key(months_of_jobs, start, end):
    keys = ["project", "user", "cost_center"]
    team_ids = [months_of_jobs[0].pk]
    with CaptureQueriesContext(connection) as queries:
        reports = label_summaries(start=start, end=end, keys=keys, team_ids=team_ids)
    assert len(queries) <= 2  # the whole months, the days around them: whatever the number of keys
    for key in keys:
        alone = spend_summary(start=start, end=end, group_by=[f"label:{key}"], team_ids=team_ids)
        assert (reports[key].rows, reports[key].totals) == (alone.rows, alone.totals)
        assert reports[key].rows, key  # every key has rows: "(unlabelled)" at least
