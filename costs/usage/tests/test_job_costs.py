"""Job slices, job totals and label rows: exact to the cent against the rollup rows (DESIGN.md "Job slice")."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import JobDaySlice, LabelUsageSnapshot, ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.allocation import allocation_refresh
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job, JobTotals
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

D10, D11, D12 = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)
NOW = datetime(2025, 3, 20, tzinfo=UTC)
FIGURES = ("gpu_hours", "estimated_usd", "allocated_usd", "allocated_shared_usd", "unpriced_gpu_hours")
ROW_FIGURES = ("gpu_hours", "estimated_cost_usd", "allocated_usd", "allocated_shared_usd", "unpriced_gpu_hours")


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def slices_of(job: Job) -> list[tuple]:
    return list(JobDaySlice.objects.filter(job=job).order_by("date").values_list("date", *FIGURES))


@pytest.fixture
def odd_prices(db):
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("4.1237"), effective_to=at(D10, 13, 0, 7))
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("3.3331"), effective_from=at(D10, 13, 0, 7))
    GpuPriceFactory(gpu_type="A100", usd_per_gpu_hour=Decimal("1.7777"))


@pytest.fixture
def busy_days(odd_prices):
    """Two teams, odd durations, jobs across midnight and across a price change, unpriced GPUs, labels."""
    teams = [TeamFactory(name="vision"), TeamFactory(name="speech")]
    labels = [{"project": "atlas", "user": "ana"}, {"project": "borealis"}, {}, {"user": "bo", "cost_center": "cc-7"}]
    for index in range(40):
        start = at(D10, (index * 7) % 24, (index * 13) % 60, (index * 17) % 60)
        JobFactory(
            team=teams[index % 2],
            model_name=["llama", "whisper", ""][index % 3],
            gpu_type=["H100", "A100", "MI300X"][index % 3 if index % 5 else 0],
            gpu_count=1 + index % 8,
            start_time=start,
            end_time=start + timedelta(seconds=1237 + 3607 * (index % 11)),
            labels=labels[index % 4],
        )
    return teams


def assert_slices_add_up_to_rollup_rows() -> int:
    """Every model row equals the sum of its slices, figure by figure; returns how many rows were checked."""
    sums: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(FIGURES, Decimal(0)))
    for slice_ in JobDaySlice.objects.all():
        key = (slice_.date, slice_.team_id, slice_.provider, slice_.gpu_type, slice_.model_name)
        for name in FIGURES:
            sums[key][name] += getattr(slice_, name)
    rows = ModelUsageSnapshot.objects.all()
    assert {(r.date, r.team_id, r.provider, r.gpu_type, r.model_name) for r in rows} == set(sums)
    for row in rows:
        found = sums[(row.date, row.team_id, row.provider, row.gpu_type, row.model_name)]
        assert [found[name] for name in FIGURES] == [getattr(row, name) for name in ROW_FIGURES], row
    return len(rows)


def assert_label_rows_add_up_to_team_rows(keys=("project", "user", "cost_center")) -> None:
    for key in keys:
        sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * 5)
        for row in LabelUsageSnapshot.objects.filter(key=key):
            total = sums[(row.date, row.team_id, row.provider, row.gpu_type)]
            for index, name in enumerate(ROW_FIGURES):
                total[index] += getattr(row, name)
        teams = {(r.date, r.team_id, r.provider, r.gpu_type): [getattr(r, n) for n in ROW_FIGURES]
                 for r in UsageSnapshot.objects.all()}  # fmt: skip
        assert dict(sums) == teams, key


def test_slices_add_up_to_every_rollup_row_on_days_with_and_without_a_bill(busy_days):
    CostSnapshotFactory(date=D10, gpu_type="H100", cost_usd=Decimal("101.01"))  # below the estimate
    CostSnapshotFactory(date=D10, gpu_type="A100", cost_usd=Decimal("999.99"))  # above it: idle

    usage_rollup(start=D10, end=D12, now=NOW)

    assert assert_slices_add_up_to_rollup_rows() > 10
    assert JobDaySlice.objects.filter(date=D11).exists()  # jobs across midnight
    billed = ModelUsageSnapshot.objects.filter(date=D10, gpu_type="H100")
    assert sum(r.allocated_usd for r in billed) == Decimal("101.01")
    assert JobDaySlice.objects.filter(date=D10, gpu_type="H100").aggregate(a=Sum("allocated_usd"))["a"] == Decimal(
        "101.01"
    )
    shared = JobDaySlice.objects.filter(date=D10, gpu_type="A100").aggregate(a=Sum("allocated_shared_usd"))["a"]
    assert shared == Decimal("999.99")  # idle shared: all of the bill goes to the jobs
    unbilled = JobDaySlice.objects.filter(date=D11)
    assert all(s.allocated_usd == s.estimated_usd == s.allocated_shared_usd for s in unbilled)


def test_label_rows_add_up_to_the_team_for_every_key(busy_days):
    CostSnapshotFactory(date=D10, gpu_type="H100", cost_usd=Decimal("77.77"))

    usage_rollup(start=D10, end=D12, now=NOW)

    assert_label_rows_add_up_to_team_rows()
    values = set(LabelUsageSnapshot.objects.filter(key="project").values_list("value", flat=True))
    assert values == {"atlas", "borealis", "(unlabelled)"}
    assert set(LabelUsageSnapshot.objects.filter(key="cost_center").values_list("value", flat=True)) == {
        "cc-7",
        "(unlabelled)",
    }


def test_leftover_cent_goes_to_the_largest_remainder_then_the_lowest_job_id(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("1.0000"))
    team = TeamFactory()
    jobs = [JobFactory(team=team, start_time=at(D10, 8), end_time=at(D10, 8, 20)) for _ in range(3)]

    usage_rollup(start=D10, end=D11, now=NOW)

    row = ModelUsageSnapshot.objects.get()
    assert (row.gpu_hours, row.estimated_cost_usd) == (Decimal("1.0000"), Decimal("1.00"))
    first = min(jobs, key=lambda job: str(job.pk).replace("-", ""))
    cents = {job.pk: JobDaySlice.objects.get(job=job).estimated_usd for job in jobs}
    assert cents[first.pk] == Decimal("0.34")
    assert sorted(cents.values()) == [Decimal("0.33"), Decimal("0.33"), Decimal("0.34")]
    hours = sorted(JobDaySlice.objects.values_list("gpu_hours", flat=True))
    assert hours == [Decimal("0.3333"), Decimal("0.3333"), Decimal("0.3334")]


def test_slice_keeps_the_price_used_and_unpriced_slices_have_none(odd_prices):
    priced = JobFactory(gpu_count=2, start_time=at(D10, 1), end_time=at(D10, 3))
    unpriced = JobFactory(gpu_type="MI300X", gpu_count=1, start_time=at(D10, 1), end_time=at(D10, 2))

    usage_rollup(start=D10, end=D11, now=NOW)

    slice_ = JobDaySlice.objects.get(job=priced)
    assert (slice_.gpu_hours, slice_.estimated_usd, slice_.price_usd_per_gpu_hour) == (
        Decimal("4.0000"), Decimal("16.49"), Decimal("4.1237"))  # fmt: skip
    none = JobDaySlice.objects.get(job=unpriced)
    assert (none.estimated_usd, none.unpriced_gpu_hours, none.price_usd_per_gpu_hour) == (
        Decimal("0.00"), Decimal("1.0000"), None)  # fmt: skip


def test_job_totals_are_the_sums_of_its_slices_and_unknown_when_unpriced(odd_prices):
    across = JobFactory(gpu_count=4, start_time=at(D10, 22), end_time=at(D11, 2))
    unpriced = JobFactory(gpu_type="MI300X", start_time=at(D10, 1), end_time=at(D10, 2))
    untouched = JobFactory(start_time=at(D12, 1), end_time=at(D12, 2))

    usage_rollup(start=D10, end=D12, now=NOW)

    across.refresh_from_db()
    assert (across.gpu_hours, across.estimated_usd, across.allocated_usd, across.unpriced_gpu_hours) == (
        Decimal("16.0000"), Decimal("53.32"), Decimal("53.32"), Decimal("0.0000"))  # fmt: skip
    assert slices_of(across) == [
        (D10, Decimal("8.0000"), Decimal("26.66"), Decimal("26.66"), Decimal("26.66"), Decimal("0.0000")),
        (D11, Decimal("8.0000"), Decimal("26.66"), Decimal("26.66"), Decimal("26.66"), Decimal("0.0000")),
    ]  # 8 GPU-h x $3.3331 = $26.6648 each day: the job's total is the sum of its rounded slices
    unpriced.refresh_from_db()
    assert (unpriced.gpu_hours, unpriced.estimated_usd, unpriced.allocated_usd, unpriced.unpriced_gpu_hours) == (
        Decimal("1.0000"), None, None, Decimal("1.0000"))  # fmt: skip
    untouched.refresh_from_db()
    assert (untouched.gpu_hours, untouched.estimated_usd) == (None, None)


def test_rollup_run_twice_gives_identical_slices_totals_and_label_rows(busy_days):
    usage_rollup(start=D10, end=D12, now=NOW)
    first = (
        sorted(JobDaySlice.objects.values_list("job_id", "date", *FIGURES)),
        sorted(
            JobTotals.objects.values_list("job", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours")
        ),
        sorted(LabelUsageSnapshot.objects.values_list("date", "team_id", "key", "value", "gpu_type", *ROW_FIGURES)),
    )

    summary = usage_rollup(start=D10, end=D12, now=NOW)

    assert summary.jobs_updated == 0  # nothing changed: no job row rewritten
    assert first == (
        sorted(JobDaySlice.objects.values_list("job_id", "date", *FIGURES)),
        sorted(
            JobTotals.objects.values_list("job", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours")
        ),
        sorted(LabelUsageSnapshot.objects.values_list("date", "team_id", "key", "value", "gpu_type", *ROW_FIGURES)),
    )


def test_a_bill_imported_after_the_rollup_reallocates_the_slices_and_totals(busy_days):
    usage_rollup(start=D10, end=D12, now=NOW)
    CostSnapshotFactory(date=D10, gpu_type="H100", cost_usd=Decimal("55.55"))

    allocation_refresh(days=[D10])

    assert assert_slices_add_up_to_rollup_rows() > 10
    assert_label_rows_add_up_to_team_rows()
    on_d10 = JobDaySlice.objects.filter(date=D10, gpu_type="H100").aggregate(a=Sum("allocated_usd"))["a"]
    assert on_d10 == Decimal("55.55")
    job = Job.objects.filter(gpu_type="H100", day_slices__date=D10).first()
    assert job.allocated_usd == JobDaySlice.objects.filter(job=job).aggregate(a=Sum("allocated_usd"))["a"]


def test_changed_and_deleted_jobs_leave_their_old_slices_after_the_next_rollup(odd_prices):
    moved = JobFactory(gpu_count=2, start_time=at(D10, 22), end_time=at(D11, 2))
    deleted = JobFactory(gpu_count=1, start_time=at(D10, 5), end_time=at(D10, 6))
    usage_rollup(start=D10, end=D12, now=NOW)

    Job.objects.filter(pk=moved.pk).update(start_time=at(D11, 0), end_time=at(D11, 1), labels={"project": "x"})
    Job.objects.filter(pk=deleted.pk).delete()
    usage_rollup(start=D10, end=D12, now=NOW)

    assert slices_of(moved) == [
        (D11, Decimal("2.0000"), Decimal("6.67"), Decimal("6.67"), Decimal("6.67"), Decimal("0.0000"))
    ]
    moved.refresh_from_db()
    assert (moved.gpu_hours, moved.estimated_usd) == (Decimal("2.0000"), Decimal("6.67"))
    assert not JobDaySlice.objects.filter(date=D10).exists()
    assert list(LabelUsageSnapshot.objects.filter(key="project").values_list("date", "value")) == [(D11, "x")]
    assert_slices_add_up_to_rollup_rows()


def test_job_shortened_into_the_range_keeps_its_slice_outside_in_its_totals_until_that_day_is_rolled_up(odd_prices):
    """Its times now lie inside the range, but a slice of an earlier rollup lies outside: the totals still sum it
    (the rollup locks such a job and reads its slices outside the range), and the rollup of that day removes it."""
    job = JobFactory(gpu_count=2, start_time=at(D10, 22), end_time=at(D11, 2))
    usage_rollup(start=D10, end=D12, now=NOW)
    Job.objects.filter(pk=job.pk).update(end_time=at(D10, 23))

    usage_rollup(start=D10, end=D11, now=NOW)

    job.refresh_from_db()
    assert [row[:3] for row in slices_of(job)] == [
        (D10, Decimal("2.0000"), Decimal("6.67")),  # 2 GPU-h x $3.3331
        (D11, Decimal("4.0000"), Decimal("13.33")),  # stale until D11 is rolled up
    ]
    assert (job.gpu_hours, job.estimated_usd) == (Decimal("6.0000"), Decimal("20.00"))

    usage_rollup(start=D11, end=D12, now=NOW)

    job.refresh_from_db()
    assert (job.gpu_hours, job.estimated_usd) == (Decimal("2.0000"), Decimal("6.67"))


def test_job_moved_out_of_every_rolled_up_day_loses_its_totals(odd_prices):
    job = JobFactory(start_time=at(D10, 5), end_time=at(D10, 6))
    usage_rollup(start=D10, end=D11, now=NOW)
    Job.objects.filter(pk=job.pk).update(start_time=None, end_time=None, status="pending")

    usage_rollup(start=D10, end=D11, now=NOW)

    job.refresh_from_db()
    assert (job.gpu_hours, job.estimated_usd, job.unpriced_gpu_hours) == (None, None, None)


def test_rollup_without_job_costs_writes_the_same_rollup_rows_and_no_slices(busy_days):
    usage_rollup(start=D10, end=D12, now=NOW)
    with_costs = sorted(ModelUsageSnapshot.objects.values_list("date", "team_id", "model_name", "gpu_type",
                                                                *ROW_FIGURES))  # fmt: skip
    JobDaySlice.objects.all().delete()

    usage_rollup(start=D10, end=D12, now=NOW, job_costs=False)

    assert not JobDaySlice.objects.exists()
    assert with_costs == sorted(ModelUsageSnapshot.objects.values_list("date", "team_id", "model_name", "gpu_type",
                                                                       *ROW_FIGURES))  # fmt: skip
