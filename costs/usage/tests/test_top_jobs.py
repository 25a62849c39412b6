"""The costliest jobs of a range by the threshold algorithm equal the plain sum of every slice."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.selectors import top_jobs
from costs.usage.selectors.job_costs import job_sums
from costs.usage.selectors.top_jobs import top_job_sums
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

START, END = date(2025, 2, 1), date(2025, 3, 15)  # 42 days: the threshold applies


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def jobs(db):
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("2.5000"))
    team = TeamFactory(name="vision")
    # The largest total by far, but one day and an hour of it in the range.
    long = JobFactory(team=team, gpu_type="H100", gpu_count=8, start_time=at(1, 1), end_time=at(2, 2, 1))
    inside = [JobFactory(team=team, gpu_type="H100", gpu_count=1 + n % 8, start_time=at(2, 3 + n, 2),
                         end_time=at(2, 3 + n, 4 + n % 17)) for n in range(20)]  # fmt: skip
    # No catalog price (total unknown) and a bill for its GPUs that day.
    billed = JobFactory(team=team, gpu_type="MI300X", gpu_count=4, start_time=at(3, 1, 1), end_time=at(3, 1, 9))
    CostSnapshotFactory(date=date(2025, 3, 1), gpu_type="MI300X", cost_usd=Decimal("900.00"))
    usage_rollup(start=date(2025, 1, 1), end=date(2025, 3, 16), now=at(3, 20))
    return {"team": team, "long": long, "inside": inside, "billed": billed}


@pytest.mark.parametrize("limit", [1, 3, 10, 21, 22, 40])
def test_threshold_top_jobs_equal_the_plain_sum(jobs, monkeypatch, limit):
    monkeypatch.setattr(top_jobs, "FIRST_CHUNK", 2)  # several rounds on a few jobs
    plain = list(job_sums(start=START, end=END)[:limit])
    assert top_job_sums(start=START, end=END, limit=limit) == plain
    assert top_job_sums(start=START, end=END, limit=limit, team_ids=[jobs["team"].pk]) == plain


def test_a_large_total_with_little_in_the_range_is_ranked_by_its_days_inside(jobs, monkeypatch):
    monkeypatch.setattr(top_jobs, "FIRST_CHUNK", 2)
    long = Job.objects.get(pk=jobs["long"].pk)
    assert long.allocated_usd == Decimal("15380.00")  # 769 hours x 8 GPUs x $2.50
    assert long.allocated_usd > max(Job.objects.exclude(pk=long.pk).values_list("totals__allocated_usd", flat=True),
                                    key=lambda v: v or 0)  # fmt: skip
    rows = top_job_sums(start=START, end=END, limit=3)
    # First by its 25 hours inside (25 x 8 GPUs x $2.50), not by its total; then the costliest inside.
    assert [(row["job_id"], row["allocated_usd"]) for row in rows[:2]] == [
        (long.pk, Decimal("500.00")),
        (jobs["inside"][15].pk, Decimal("340.00")),
    ]
    assert rows[2]["allocated_usd"] == Decimal("280.00")  # two jobs of 112 GPU-hours: the lower id


def test_a_short_range_or_another_order_sums_every_slice(jobs):
    short = (date(2025, 2, 1), date(2025, 2, 10))
    assert top_job_sums(start=short[0], end=short[1], limit=5) == list(job_sums(start=short[0], end=short[1])[:5])
    waste = list(job_sums(start=START, end=END, order="waste")[:5])
    assert top_job_sums(start=START, end=END, limit=5, order="waste") == waste
