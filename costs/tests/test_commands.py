from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import UsageSnapshot
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory


@pytest.fixture
def small_org(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4"))
    JobFactory(team=TeamFactory(name="=cmd|calc"), start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 4, tzinfo=UTC))  # fmt: skip
    JobFactory(team=TeamFactory(name="nlp"), gpu_type="B200", start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 2, tzinfo=UTC))  # fmt: skip
    CostSnapshotFactory(date=date(2025, 3, 10), cost_usd=Decimal("15.00"))


def test_rollup_command_builds_the_days_and_reports_unpriced_jobs(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")

    out = capsys.readouterr().out
    assert "Rolled up 1 day(s) [2025-03-10, 2025-03-11): 2 team rows, 2 job-days" in out
    assert "Unpriced: 1 job-day(s), 1.0000 GPU-h have no catalog price" in out
    assert UsageSnapshot.objects.count() == 2


def test_rollup_command_refuses_an_empty_range(db):
    with pytest.raises(CommandError, match=r"--start \(2025-03-11\) must be before --end \(2025-03-10\)"):
        call_command("rollup", "--start", "2025-03-11", "--end", "2025-03-10")


def test_rollup_command_names_a_bad_date(db):
    with pytest.raises(CommandError, match="argument --start: not an ISO date \\(YYYY-MM-DD\\): '2025-13-01'"):
        call_command("rollup", "--start", "2025-13-01")


def test_report_csv_adds_up_and_escapes_formulas(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    capsys.readouterr()

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--format", "csv")

    assert capsys.readouterr().out.splitlines() == [
        "team,gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,idle_usd,billed_usd",
        "'=cmd|calc,3.0000,0.0000,12.00,12.00,0.00,",
        "(idle),0.0000,0.0000,0.00,0.00,3.00,",
        "nlp,1.0000,1.0000,0.00,0.00,0.00,",
        "TOTAL,4.0000,1.0000,12.00,12.00,3.00,15.00",
    ]


def test_report_table_has_a_totals_row(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    capsys.readouterr()

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "provider")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["provider", *["gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"],
                                "idle_usd", "billed_usd"]  # fmt: skip
    assert lines[2].split() == ["aws", "4.0000", "1.0000", "12.00", "12.00", "3.00", "15.00"]
    assert lines[4].split() == ["TOTAL", "4.0000", "1.0000", "12.00", "12.00", "3.00", "15.00"]


def test_report_refuses_an_unknown_group(db):
    with pytest.raises(CommandError, match="argument --group-by: unknown group-by colour"):
        call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "colour")
