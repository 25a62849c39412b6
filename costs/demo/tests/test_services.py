from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from costs.billing.models import CostSnapshot
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.allocation_cells import allocation_cells
from jobs.models import Job
from teams.models import Team

SEED_ARGS = ["--days", "4", "--as-of", "2025-03-31", "--no-progress"]


def job_fingerprint():
    return list(
        Job.objects.order_by("id").values_list(
            "id", "team__name", "model_name", "provider", "gpu_type", "gpu_count", "start_time", "end_time", "status"
        )
    )


def test_seed_demo_is_deterministic_for_a_seed(db):
    call_command("seed_demo", "--seed", "7", *SEED_ARGS)
    first = job_fingerprint()
    bills = list(CostSnapshot.objects.order_by("date", "provider", "gpu_type").values_list("cost_usd", flat=True))

    call_command("seed_demo", "--seed", "7", "--reset", *SEED_ARGS)

    assert job_fingerprint() == first
    assert (
        list(CostSnapshot.objects.order_by("date", "provider", "gpu_type").values_list("cost_usd", flat=True)) == bills
    )
    assert len(first) > 500


def test_another_seed_gives_other_data(db):
    call_command("seed_demo", "--seed", "7", *SEED_ARGS)
    first = job_fingerprint()
    call_command("seed_demo", "--seed", "8", "--reset", *SEED_ARGS)
    assert job_fingerprint() != first


def test_seed_demo_refuses_a_non_empty_database_without_reset(db):
    Team.objects.create(name="real-team")

    with pytest.raises(CommandError, match="not empty"):
        call_command("seed_demo", *SEED_ARGS)

    assert list(Team.objects.values_list("name", flat=True)) == ["real-team"]


def test_seed_demo_if_empty_leaves_existing_data_alone(db, capsys):
    Team.objects.create(name="real-team")
    call_command("seed_demo", "--if-empty", *SEED_ARGS)
    assert "no demo data loaded" in capsys.readouterr().out
    assert Job.objects.count() == 0


def test_demo_org_has_idle_cost_unpriced_jobs_and_bills_that_add_up(db):
    call_command("seed_demo", *SEED_ARGS)

    assert Team.objects.count() == 6
    assert set(Job.objects.values_list("provider", flat=True)) == {
        "aws", "gcp", "azure", "lambda", "coreweave", "on-prem"
    }  # fmt: skip
    assert UsageSnapshot.objects.filter(unpriced_gpu_hours__gt=0, provider="on-prem").exists()
    cells = allocation_cells(start=date(2025, 3, 28), end=date(2025, 4, 1))
    billed = [cell for cell in cells if cell.billed_usd is not None]
    assert sum(cell.idle_usd for cell in billed) > 0
    for cell in billed:
        assert sum((t["allocated_usd"] for t in cell.teams), Decimal(0)) + cell.idle_usd == cell.billed_usd
    assert not CostSnapshot.objects.filter(date=date(2025, 3, 31)).exists()  # today's bill has not arrived


def test_a_failed_seed_after_reset_leaves_the_data_as_it_was(db, monkeypatch):
    """--reset and the seed are one transaction: a seed that fails never leaves an empty database."""
    call_command("seed_demo", "--seed", "7", *SEED_ARGS)
    before = job_fingerprint()

    def broken_budgets(*args, **kwargs):
        raise RuntimeError("the seed failed half-way")

    monkeypatch.setattr("costs.demo.services._budgets", broken_budgets)
    with pytest.raises(RuntimeError, match="half-way"):
        call_command("seed_demo", "--seed", "8", "--reset", *SEED_ARGS)

    assert job_fingerprint() == before
    assert Team.objects.count() == 6


def test_demo_jobs_carry_project_and_user_labels_rolled_up(db):
    from costs.usage.models import JobDaySlice, LabelUsageSnapshot

    call_command("seed_demo", *SEED_ARGS)

    labelled = Job.objects.filter(labels__has_key="project").count()
    assert 0.8 * Job.objects.count() < labelled < Job.objects.count()  # about one in ten without a project
    assert not Job.objects.exclude(labels__has_key="user").exists()
    values = set(LabelUsageSnapshot.objects.filter(key="project").values_list("value", flat=True))
    assert "(unlabelled)" in values
    assert len(values) > 6
    assert JobDaySlice.objects.exists()


def test_demo_jobs_have_utilisation_and_some_are_unmeasured(db):
    call_command("seed_demo", "--seed", "7", *SEED_ARGS)

    jobs = Job.objects.all()
    measured = jobs.filter(gpu_util_avg__isnull=False)
    assert 0.75 < measured.count() / jobs.count() < 0.95  # one in seven unmeasured, by design
    assert set(measured.values_list("gpu_util_source", flat=True)) == {"dcgm", "slurm"}
    assert set(jobs.filter(gpu_util_avg__isnull=True).values_list("gpu_util_source", flat=True)) == {""}
    assert all(Decimal(3) <= util <= Decimal(99) for util in measured.values_list("gpu_util_avg", flat=True))
    assert not measured.filter(provider="on-prem").exclude(gpu_util_source="slurm").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # 1,000,000 days back from 2025 is before year 1: an OverflowError traceback before.
        (["--days", "1000000", "--as-of", "2025-03-31"],
         "--days 1000000 up to 2025-03-31 would start on a day before HELIOX_JOB_TIME_FLOOR (2000-01-01), "
         "where no job may start: at most 9222 days"),
        # Jobs before the floor are what the imports and the API refuse.
        (["--days", "3", "--as-of", "1990-01-10"],
         "--days 3 up to 1990-01-10 would start on a day before HELIOX_JOB_TIME_FLOOR (2000-01-01), "
         "where no job may start: at most 0 days"),
    ],
)  # fmt: skip
def test_seed_demo_refuses_days_before_the_job_time_floor_and_writes_nothing(db, arguments, message):
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", *arguments, "--no-progress")
    assert str(refused.value) == message
    assert not Team.objects.exists()


def test_seed_demo_refuses_an_as_of_day_that_has_not_come_yet(db):
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", "--as-of", "9998-12-31", "--no-progress")
    assert str(refused.value).startswith("--as-of 9998-12-31 is after today (")
    assert not Team.objects.exists()
