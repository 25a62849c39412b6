"""import_billing on the real FOCUS sample, and on broken copies of it."""

import csv
import gzip
import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from costs.billing.models import CostSnapshot
from costs.catalog.services.gpu_prices import prices_refresh
from jobs.models import ImportRecord

FOCUS = Path(__file__).parents[2] / "tests" / "fixtures" / "focus_sample.csv"
# The GPU instance types that the sample's ChargeDescription names, found by reading
# the file: g5.4xlarge (1 x A10G) and the older g3.4xlarge (1 x M60).
GPU_INSTANCES = {"g5.4xlarge": ("A10G", 1), "g3.4xlarge": ("M60", 1)}


@pytest.fixture
def catalog(db):
    prices_refresh()


def expected_cells(path: Path) -> dict:
    """The day cells computed independently of Heliox's importer."""
    cells = defaultdict(lambda: [Decimal(0), Decimal(0)])
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            for name, (gpu, count) in GPU_INSTANCES.items():
                if re.search(rf"\b{re.escape(name)}\b", row["ChargeDescription"]):
                    key = (date.fromisoformat(row["ChargePeriodStart"][:10]), "aws", gpu)
                    cells[key][0] += Decimal(row["BilledCost"])
                    cells[key][1] += Decimal(row["ConsumedQuantity"]) * count
    return {
        key: (cost.quantize(Decimal("0.01"), ROUND_HALF_UP), hours.quantize(Decimal("0.0001"), ROUND_HALF_UP))
        for key, (cost, hours) in cells.items()
    }


def stored_cells() -> dict:
    return {(s.date, s.provider, s.gpu_type): (s.cost_usd, s.gpu_hours) for s in CostSnapshot.objects.all()}


def test_focus_sample_yields_exactly_the_gpu_days_of_its_gpu_lines(catalog, capsys):
    call_command("import_billing", str(FOCUS), "--no-progress")

    expected = expected_cells(FOCUS)
    assert stored_cells() == expected
    assert len(expected) == 10
    assert expected[(date(2024, 9, 24), "aws", "M60")] == (Decimal("1.14"), Decimal("1.0000"))
    assert expected[(date(2024, 9, 13), "aws", "A10G")] == (Decimal("1.11"), Decimal("0.6839"))
    # The summary prints what was stored: the cells, each rounded once, add up to
    # 1.62 + 1.11 + 0.49 + 0.48 + 1.62 + 1.62 + 1.14 + 1.62 + 1.62 + 0.78 = 12.10
    # (the lines' raw sum, 12.12648332400, would round to 12.13: not what the bill now holds).
    assert sum(cost for cost, _ in stored_cells().values()) == Decimal("12.10")
    assert "1,000 lines read, 10 GPU lines kept, 990 skipped; $12.10 over 7.9697 GPU-h" in capsys.readouterr().out
    record = ImportRecord.objects.get()
    assert (record.status, record.rows_read, record.rows_kept, record.rows_skipped) == ("succeeded", 1000, 10, 990)
    assert (record.totals["cost_usd"], record.totals["raw_cost_usd"]) == ("12.10", "12.12648332400")


def test_a_bill_without_jobs_is_all_idle_after_import(catalog):
    call_command("import_billing", str(FOCUS), "--no-progress")
    snapshot = CostSnapshot.objects.get(date=date(2024, 9, 24), gpu_type="M60")
    assert (snapshot.idle_usd, snapshot.idle_shared_usd) == (Decimal("1.14"), Decimal("1.14"))


def test_importing_the_same_file_twice_changes_nothing(catalog, capsys):
    call_command("import_billing", str(FOCUS), "--no-progress")
    first = stored_cells()

    call_command("import_billing", str(FOCUS), "--no-progress")

    assert stored_cells() == first
    assert "imported before (same SHA-256): nothing to do" in capsys.readouterr().out
    assert list(ImportRecord.objects.order_by("created_at").values_list("status", flat=True)) == [
        "succeeded",
        "duplicate",
    ]


def test_gzipped_file_gives_the_same_bill(catalog, tmp_path):
    gz = tmp_path / "focus_sample.csv.gz"
    gz.write_bytes(gzip.compress(FOCUS.read_bytes()))

    call_command("import_billing", str(gz), "--no-progress")

    assert stored_cells() == expected_cells(FOCUS)


def corrupt(tmp_path: Path, line_number: int, column: str, value: str) -> Path:
    lines = FOCUS.read_text().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[line_number - 1]]))
    row[header.index(column)] = value
    out = tmp_path / "broken.csv"
    with out.open("w", newline="") as handle:
        handle.writelines(lines[: line_number - 1])
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(row)
        handle.writelines(lines[line_number:])
    return out


def test_a_bad_date_on_line_n_writes_nothing_and_names_line_n(catalog, tmp_path):
    broken = corrupt(tmp_path, 500, "ChargePeriodStart", "2024-13-45 25:00:00")

    with pytest.raises(CommandError, match=r"broken\.csv, line 500, column ChargePeriodStart: not an ISO 8601"):
        call_command("import_billing", str(broken), "--no-progress")

    assert CostSnapshot.objects.count() == 0
    record = ImportRecord.objects.get()
    assert record.status == "failed"
    assert "line 500" in record.error


def test_a_non_usd_bill_is_refused(catalog, tmp_path):
    broken = corrupt(tmp_path, 2, "BillingCurrency", "EUR")

    with pytest.raises(CommandError, match="line 2, column BillingCurrency: only USD bills are supported"):
        call_command("import_billing", str(broken), "--no-progress")

    assert CostSnapshot.objects.count() == 0


def test_a_file_that_is_not_focus_is_refused(catalog, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="not a FOCUS file: missing column"):
        call_command("import_billing", str(other), "--no-progress")


def test_dry_run_writes_nothing(catalog, capsys):
    call_command("import_billing", str(FOCUS), "--dry-run", "--no-progress")

    assert CostSnapshot.objects.count() == 0
    assert "Would import focus_sample.csv" in capsys.readouterr().out
    assert ImportRecord.objects.get().status == "dry_run"


def test_replace_swaps_the_bill_of_the_days_it_covers_and_plain_import_adds(catalog, tmp_path, capsys):
    call_command("import_billing", str(FOCUS), "--no-progress")
    gpu_line = next(n for n, text in enumerate(FOCUS.read_text().splitlines(), 1) if "g3.4xlarge Instance" in text)
    corrected = corrupt(tmp_path, gpu_line, "BilledCost", "2.00")
    key = (date(2024, 9, 24), "aws", "M60")

    call_command("import_billing", str(corrected), "--replace", "--no-progress")
    assert stored_cells()[key] == (Decimal("2.00"), Decimal("1.0000"))
    assert len(stored_cells()) == 10

    corrected.write_text(corrected.read_text() + "\n")  # a new checksum, same content
    call_command("import_billing", str(corrected), "--no-progress")
    assert stored_cells()[key] == (Decimal("4.00"), Decimal("2.0000"))
    assert "amounts were added" in capsys.readouterr().out
