"""The rollup's GPU-hours and costs, hand-computed (DESIGN.md "Cost semantics")."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.rollup import usage_rollup
from heliox.testing import run_concurrently
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

D10, D11, D12 = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)
NOW = datetime(2025, 3, 20, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def figures(day: date, **filters) -> tuple:
    row = UsageSnapshot.objects.get(date=day, **filters)
    return row.gpu_hours, row.estimated_cost_usd, row.job_count, row.unpriced_gpu_hours, row.unpriced_job_count


@pytest.fixture
def h100_price(db):
    return GpuPriceFactory(provider="aws", gpu_type="H100", usd_per_gpu_hour=Decimal("4.0000"))


def test_job_across_midnight_is_split_between_the_days(h100_price):
    JobFactory(gpu_count=4, start_time=at(D10, 22), end_time=at(D11, 2))

    usage_rollup(start=D10, end=D12, now=NOW)

    assert figures(D10) == (Decimal("8.0000"), Decimal("32.00"), 1, Decimal(0), 0)
    assert figures(D11) == (Decimal("8.0000"), Decimal("32.00"), 1, Decimal(0), 0)


def test_days_outside_the_range_are_not_touched(h100_price):
    JobFactory(gpu_count=4, start_time=at(D10, 22), end_time=at(D11, 2))

    usage_rollup(start=D11, end=D12, now=NOW)

    assert list(UsageSnapshot.objects.values_list("date", flat=True)) == [D11]


def test_price_change_at_midnight_prices_each_side_at_its_own_rate(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"), effective_to=at(D11, 0))
    GpuPriceFactory(usd_per_gpu_hour=Decimal("5.0000"), effective_from=at(D11, 0))
    JobFactory(gpu_count=4, start_time=at(D10, 22), end_time=at(D11, 2))

    usage_rollup(start=D10, end=D12, now=NOW)

    assert figures(D10)[1] == Decimal("32.00")
    assert figures(D11)[1] == Decimal("40.00")


def test_price_change_inside_a_day_splits_the_slice(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"), effective_to=at(D10, 1, 30))
    GpuPriceFactory(usd_per_gpu_hour=Decimal("6.0000"), effective_from=at(D10, 1, 30))
    JobFactory(gpu_count=2, start_time=at(D10, 1), end_time=at(D10, 3))

    usage_rollup(start=D10, end=D11, now=NOW)

    # 2 GPUs x 0.5 h x $4 + 2 GPUs x 1.5 h x $6
    assert figures(D10)[:2] == (Decimal("4.0000"), Decimal("22.00"))


def test_spot_job_uses_the_spot_price(h100_price):
    GpuPriceFactory(pricing="spot", usd_per_gpu_hour=Decimal("1.5000"))
    JobFactory(pricing="spot", gpu_count=2, start_time=at(D10, 8), end_time=at(D10, 11))

    usage_rollup(start=D10, end=D11, now=NOW)

    assert figures(D10)[:2] == (Decimal("6.0000"), Decimal("9.00"))


def test_regional_price_beats_the_any_region_price(h100_price):
    GpuPriceFactory(region="eu-west-1", usd_per_gpu_hour=Decimal("5.5000"))
    team = TeamFactory()
    JobFactory(team=team, region="eu-west-1", start_time=at(D10, 8), end_time=at(D10, 10))
    JobFactory(team=team, region="us-east-1", start_time=at(D10, 8), end_time=at(D10, 10))

    usage_rollup(start=D10, end=D11, now=NOW)

    # eu-west-1: 2 h x 5.50; us-east-1 has no price of its own: 2 h x 4.00
    assert figures(D10)[:2] == (Decimal("4.0000"), Decimal("19.00"))


def test_any_region_price_fills_the_time_before_a_regional_price_starts(h100_price):
    GpuPriceFactory(region="eu-west-1", usd_per_gpu_hour=Decimal("5.0000"), effective_from=at(D10, 9))
    JobFactory(region="eu-west-1", start_time=at(D10, 8), end_time=at(D10, 10))

    usage_rollup(start=D10, end=D11, now=NOW)

    assert figures(D10)[1] == Decimal("9.00")


def test_unpriced_job_is_counted_with_its_gpu_hours_never_as_zero_cost(h100_price):
    team = TeamFactory()
    JobFactory(team=team, gpu_type="H100", start_time=at(D10, 8), end_time=at(D10, 9))
    JobFactory(team=team, gpu_type="B200", gpu_count=8, start_time=at(D10, 8), end_time=at(D10, 11))

    summary = usage_rollup(start=D10, end=D11, now=NOW)

    assert figures(D10, gpu_type="B200") == (Decimal("24.0000"), Decimal("0.00"), 1, Decimal("24.0000"), 1)
    assert figures(D10, gpu_type="H100") == (Decimal("1.0000"), Decimal("4.00"), 1, Decimal(0), 0)
    assert (summary.unpriced_jobs, summary.unpriced_gpu_hours) == (1, Decimal("24.0000"))


def test_job_partly_before_its_price_starts_is_partly_unpriced(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"), effective_from=at(D10, 9))
    JobFactory(start_time=at(D10, 8), end_time=at(D10, 10))

    usage_rollup(start=D10, end=D11, now=NOW)

    assert figures(D10) == (Decimal("2.0000"), Decimal("4.00"), 1, Decimal("1.0000"), 1)


def test_running_job_accrues_up_to_the_rollup_moment(h100_price):
    JobFactory(status="running", gpu_count=2, start_time=at(D10, 20), end_time=None)

    usage_rollup(start=D10, end=D12, now=at(D11, 3, 30))

    assert figures(D10)[:2] == (Decimal("8.0000"), Decimal("32.00"))
    assert figures(D11)[:2] == (Decimal("7.0000"), Decimal("28.00"))


def test_running_job_accrues_whole_seconds_on_every_database(h100_price):
    """A rollup moment with a fraction of a second counts the whole seconds before it (SQLite counts no other way)."""
    job = JobFactory(status="running", gpu_count=1, start_time=at(D11, 0), end_time=None)

    usage_rollup(start=D11, end=D12, now=at(D11, 0, 59) + timedelta(seconds=59, microseconds=900_000))

    assert figures(D11)[:2] == (Decimal("0.9997"), Decimal("4.00"))  # 3,599 s, not 3,599.9 (1.0000 GPU-hours)
    job.refresh_from_db()
    assert (job.gpu_hours, job.estimated_usd) == (Decimal("0.9997"), Decimal("4.00"))


def test_pending_job_and_future_time_count_nothing(h100_price):
    JobFactory(status="pending", start_time=None, end_time=None)
    JobFactory(status="running", start_time=at(D11, 10), end_time=None)

    usage_rollup(start=D10, end=D12, now=at(D11, 9))

    assert UsageSnapshot.objects.count() == 0


def test_cost_is_rounded_once_per_row_half_up(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("0.0100"))
    team = TeamFactory()
    for hour in (1, 3, 5):
        JobFactory(team=team, start_time=at(D10, hour), end_time=at(D10, hour, 30))

    usage_rollup(start=D10, end=D11, now=NOW)

    # 3 x $0.005 = $0.015 -> $0.02 (rounding each job first would give $0.03)
    assert figures(D10)[:3] == (Decimal("1.5000"), Decimal("0.02"), 3)


def test_long_job_started_weeks_before_the_range_is_counted(h100_price):
    JobFactory(start_time=at(D10, 0) - timedelta(days=30), end_time=at(D10, 6))

    usage_rollup(start=D10, end=D11, now=NOW)

    assert figures(D10)[:2] == (Decimal("6.0000"), Decimal("24.00"))


def test_rollup_groups_by_team_provider_gpu_and_model(h100_price):
    GpuPriceFactory(provider="gcp", gpu_type="H100", usd_per_gpu_hour=Decimal("3.0000"))
    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    JobFactory(team=nlp, model_name="llama", start_time=at(D10, 1), end_time=at(D10, 2))
    JobFactory(team=nlp, model_name="bert", start_time=at(D10, 1), end_time=at(D10, 3))
    JobFactory(team=nlp, provider="gcp", model_name="bert", start_time=at(D10, 1), end_time=at(D10, 2))
    JobFactory(team=vision, model_name="vit", start_time=at(D10, 1), end_time=at(D10, 5))

    usage_rollup(start=D10, end=D11, now=NOW)

    team_rows = UsageSnapshot.objects.order_by("team__name", "provider").values_list(
        "team__name", "provider", "gpu_hours", "estimated_cost_usd", "job_count"
    )
    assert list(team_rows) == [
        ("nlp", "aws", Decimal("3.0000"), Decimal("12.00"), 2),
        ("nlp", "gcp", Decimal("1.0000"), Decimal("3.00"), 1),
        ("vision", "aws", Decimal("4.0000"), Decimal("16.00"), 1),
    ]
    model_rows = ModelUsageSnapshot.objects.filter(provider="aws").order_by("team__name", "model_name")
    assert [(r.model_name, r.gpu_hours, r.estimated_cost_usd) for r in model_rows] == [
        ("bert", Decimal("2.0000"), Decimal("8.00")),
        ("llama", Decimal("1.0000"), Decimal("4.00")),
        ("vit", Decimal("4.0000"), Decimal("16.00")),
    ]


def _snapshot_values():
    columns = ("date", "team_id", "provider", "gpu_type", "gpu_hours", "estimated_cost_usd", "job_count",
               "unpriced_gpu_hours", "allocated_usd", "allocated_shared_usd", "id", "created_at")  # fmt: skip
    return sorted(UsageSnapshot.objects.values_list(*columns), key=str)


def test_rollup_run_twice_gives_identical_rows(h100_price):
    JobFactory(gpu_count=4, start_time=at(D10, 22), end_time=at(D11, 2))
    JobFactory(gpu_type="B200", start_time=at(D10, 5), end_time=at(D10, 6))

    usage_rollup(start=D10, end=D12, now=NOW)
    first = _snapshot_values()
    usage_rollup(start=D10, end=D12, now=NOW)

    assert _snapshot_values() == first
    assert len(first) == 3


def test_rollup_removes_rows_that_no_job_backs_any_more(h100_price):
    job = JobFactory(start_time=at(D10, 8), end_time=at(D10, 9))
    usage_rollup(start=D10, end=D11, now=NOW)
    job.delete()

    usage_rollup(start=D10, end=D11, now=NOW)

    assert UsageSnapshot.objects.count() == 0
    assert ModelUsageSnapshot.objects.count() == 0


def test_rollup_rejects_an_empty_range(db):
    with pytest.raises(ValueError, match="must be before"):
        usage_rollup(start=D11, end=D10)


@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_never_duplicate_rows(postgres_only):
    GpuPriceFactory()
    team = TeamFactory()
    for hour in range(10):
        JobFactory(team=team, start_time=at(D10, hour), end_time=at(D11, hour))
    errors = run_concurrently(lambda: usage_rollup(start=D10, end=D12, now=NOW), threads=3)

    assert errors == []
    assert UsageSnapshot.objects.count() == 2
    # job h runs (24 - h) hours on the 10th and h hours on the 11th
    assert figures(D10)[:3] == (Decimal("195.0000"), Decimal("780.00"), 10)
    assert figures(D11)[:3] == (Decimal("45.0000"), Decimal("180.00"), 9)
