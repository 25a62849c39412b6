"""GPU efficiency and waste in the rollup: used GPU-hours, unmeasured GPU-hours and waste per slice, row and job.

Used = GPU-hours x utilisation; waste = estimated cost x (1 - utilisation); a job without
utilisation is unmeasured (its hours counted apart, its used and waste unknown). Every
figure adds up from slices to model rows to team rows, and per label key to the team.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import JobDaySlice, LabelUsageSnapshot, ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.rollup import usage_rollup
from costs.usage.tests.test_job_costs import D10, D11, D12, NOW, at
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

EFFICIENCY = ("used_gpu_hours", "unmeasured_gpu_hours", "measured_gpu_hours", "waste_usd")


@pytest.fixture
def measured_day(db):
    return measured_jobs()


def measured_jobs() -> tuple[Job, Job]:
    """One team's day: an 8-GPU job at 20 % and a 2-GPU job without utilisation, both H100 at $2.50."""
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("2.5000"))
    team = TeamFactory(name="vision")
    busy = JobFactory(team=team, gpu_count=8, start_time=at(D10, 10), end_time=at(D10, 15), gpu_util_avg=Decimal(20),
                      gpu_util_source="api", labels={"project": "atlas"})  # fmt: skip
    blind = JobFactory(team=team, gpu_count=2, start_time=at(D10, 10), end_time=at(D10, 12))
    return busy, blind


def test_waste_is_the_idle_share_of_the_cost_and_unmeasured_hours_stay_apart(measured_day):
    busy, blind = measured_day

    usage_rollup(start=D10, end=D11, now=NOW)

    row = UsageSnapshot.objects.get()
    # 8 GPUs x 5 h = 40 GPU-h ($100.00) at 20 %: 8 used, $80.00 wasted; 2 x 2 h = 4 GPU-h unmeasured.
    assert (row.gpu_hours, row.estimated_cost_usd) == (Decimal("44.0000"), Decimal("110.00"))
    assert (row.used_gpu_hours, row.unmeasured_gpu_hours, row.waste_usd) == (
        Decimal("8.0000"), Decimal("4.0000"), Decimal("80.00"))  # fmt: skip
    busy_slice, blind_slice = JobDaySlice.objects.get(job=busy), JobDaySlice.objects.get(job=blind)
    assert (busy_slice.used_gpu_hours, busy_slice.unmeasured_gpu_hours, busy_slice.waste_usd) == (
        Decimal("8.0000"), Decimal("0.0000"), Decimal("80.00"))  # fmt: skip
    assert (blind_slice.used_gpu_hours, blind_slice.unmeasured_gpu_hours, blind_slice.waste_usd) == (
        None, Decimal("4.0000"), None)  # fmt: skip
    busy.refresh_from_db()
    blind.refresh_from_db()
    assert (busy.used_gpu_hours, busy.waste_usd) == (Decimal("8.0000"), Decimal("80.00"))
    assert (blind.used_gpu_hours, blind.waste_usd) == (None, None)  # unknown, never 0 % or 100 %
    labelled = LabelUsageSnapshot.objects.get(key="project", value="atlas")
    assert (labelled.used_gpu_hours, labelled.unmeasured_gpu_hours, labelled.waste_usd) == (
        Decimal("8.0000"), Decimal("0.0000"), Decimal("80.00"))  # fmt: skip


def test_fully_busy_and_fully_idle_jobs(db):
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("3.0000"))
    team = TeamFactory()
    full = JobFactory(team=team, start_time=at(D10, 1), end_time=at(D10, 2), gpu_util_avg=Decimal(100))
    idle = JobFactory(team=team, start_time=at(D10, 1), end_time=at(D10, 3), gpu_util_avg=Decimal(0))

    usage_rollup(start=D10, end=D11, now=NOW)

    full.refresh_from_db()
    idle.refresh_from_db()
    assert (full.used_gpu_hours, full.waste_usd) == (Decimal("1.0000"), Decimal("0.00"))
    assert (idle.used_gpu_hours, idle.waste_usd) == (Decimal("0.0000"), Decimal("6.00"))
    row = ModelUsageSnapshot.objects.get()
    assert (row.used_gpu_hours, row.unmeasured_gpu_hours, row.waste_usd) == (
        Decimal("1.0000"), Decimal("0.0000"), Decimal("6.00"))  # fmt: skip


def test_unpriced_measured_job_has_used_hours_and_unknown_waste(db):
    job = JobFactory(gpu_type="MI300X", gpu_count=4, start_time=at(D10, 0), end_time=at(D10, 6),
                     gpu_util_avg=Decimal("37.50"))  # fmt: skip

    usage_rollup(start=D10, end=D11, now=NOW)

    job.refresh_from_db()
    assert (job.used_gpu_hours, job.estimated_usd, job.waste_usd) == (Decimal("9.0000"), None, None)
    row = UsageSnapshot.objects.get()
    assert (row.used_gpu_hours, row.unpriced_gpu_hours, row.waste_usd) == (
        Decimal("9.0000"), Decimal("24.0000"), Decimal("0.00"))  # fmt: skip


def exact_rows() -> dict[tuple, tuple]:
    """Each model row's used, unmeasured and waste, computed in Python from the jobs (one price, $4.1237)."""
    sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * 4)
    for job in Job.objects.all():
        for day in (D10, D11):
            start, end = max(job.start_time, at(day, 0)), min(job.end_time, at(day, 0) + timedelta(days=1))
            if end <= start:
                continue
            hours = Decimal(int((end - start).total_seconds()) * job.gpu_count) / 3600
            total = sums[(day, job.team_id, job.model_name)]
            if job.gpu_util_avg is None:
                total[1] += hours
            else:
                total[0] += hours * job.gpu_util_avg / 100
                total[2] += hours
                total[3] += hours * Decimal("4.1237") * (100 - job.gpu_util_avg) / 100
    quantum = (Decimal("0.0001"), Decimal("0.0001"), Decimal("0.0001"), Decimal("0.01"))
    return {key: tuple(v.quantize(q, rounding=ROUND_HALF_UP) for v, q in zip(values, quantum, strict=True))
            for key, values in sums.items()}  # fmt: skip


@pytest.fixture
def odd_utilisation(db):
    """Many jobs with odd durations and utilisations, across midnight, some unmeasured, two teams, labels."""
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("4.1237"))
    teams = [TeamFactory(name="vision"), TeamFactory(name="speech")]
    labels = [{"project": "atlas"}, {"project": "borealis", "user": "ana"}, {}]
    for index in range(36):
        start = at(D10, (index * 7) % 24, (index * 13) % 60, (index * 17) % 60)
        util = None if index % 4 == 0 else Decimal(index * 2917 % 10001) / 100
        JobFactory(team=teams[index % 2], model_name=["llama", "whisper"][index % 3 % 2], gpu_count=1 + index % 7,
                   start_time=start, end_time=start + timedelta(seconds=1237 + 7207 * (index % 9)),
                   gpu_util_avg=util, labels=labels[index % 3])  # fmt: skip
    return teams


def test_rows_are_the_exact_rounded_sums_and_slices_add_up_to_them(odd_utilisation):
    CostSnapshotFactory(date=D10, gpu_type="H100", cost_usd=Decimal("55.55"))

    usage_rollup(start=D10, end=D12, now=NOW)

    rows = {(r.date, r.team_id, r.model_name): tuple(getattr(r, n) for n in EFFICIENCY)
            for r in ModelUsageSnapshot.objects.all()}  # fmt: skip
    assert rows == exact_rows()
    slices: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * 4)
    for piece in JobDaySlice.objects.all():
        total = slices[(piece.date, piece.team_id, piece.model_name)]
        for index, name in enumerate(EFFICIENCY):
            total[index] += getattr(piece, name) or 0
    assert {key: tuple(value) for key, value in slices.items()} == rows
    teams: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * 4)
    for key, values in rows.items():
        for index, value in enumerate(values):
            teams[key[:2]][index] += value
    assert {(r.date, r.team_id): [getattr(r, n) for n in EFFICIENCY] for r in UsageSnapshot.objects.all()} == teams
    for key in ("project", "user"):
        by_label: dict[tuple, list] = defaultdict(lambda: [Decimal(0)] * 4)
        for row in LabelUsageSnapshot.objects.filter(key=key):
            for index, name in enumerate(EFFICIENCY):
                by_label[(row.date, row.team_id)][index] += getattr(row, name)
        assert by_label == teams, key
    for job in Job.objects.all():
        own = JobDaySlice.objects.filter(job=job)
        expected = None if job.gpu_util_avg is None else sum(s.waste_usd for s in own)
        assert job.waste_usd == expected


def test_rollup_without_utilisation_changes_nothing_else(odd_utilisation):
    usage_rollup(start=D10, end=D12, now=NOW)
    measured = list(ModelUsageSnapshot.objects.order_by("date", "team", "model_name").values_list(
        "gpu_hours", "estimated_cost_usd", "allocated_usd"))  # fmt: skip

    Job.objects.update(gpu_util_avg=None)
    usage_rollup(start=D10, end=D12, now=NOW)

    rows = ModelUsageSnapshot.objects.order_by("date", "team", "model_name")
    assert list(rows.values_list("gpu_hours", "estimated_cost_usd", "allocated_usd")) == measured
    assert all(r.unmeasured_gpu_hours == r.gpu_hours and r.used_gpu_hours == r.measured_gpu_hours == r.waste_usd == 0
               for r in rows)  # fmt: skip
    label_rows = LabelUsageSnapshot.objects.all()
    assert label_rows
    assert all(r.measured_gpu_hours == r.used_gpu_hours == 0 for r in label_rows)
    assert not Job.objects.filter(totals__waste_usd__isnull=False).exists()
