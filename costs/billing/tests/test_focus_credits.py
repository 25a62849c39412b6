"""FOCUS bills as providers write them: credits, refunds, Azure meter names, focus-validator; unknown bills.

Every file here is the real FOCUS sample's header with real rows of it. The sample has no
GPU credit and no Azure GPU line, so each test changes only the columns it names on a
real row (a description that names a GPU size, an amount), and says so.
"""

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from costs.billing.models import CostSnapshot
from costs.billing.services.focus import meter_key
from costs.catalog.services.gpu_prices import prices_refresh
from jobs.models import ImportRecord

FOCUS = Path(__file__).parents[2] / "tests" / "fixtures" / "focus_sample.csv"
with FOCUS.open(newline="") as handle:
    READER = csv.DictReader(handle)
    HEADER, ROWS = READER.fieldnames, list(READER)
# Real rows of the sample: an hour of g5.4xlarge (1 x A10G) on 2024-09-24, AWS's promotional credit that
# day, and an Azure refund (a usage line with negative cost and quantity) of an hour of a D11 v2 VM.
G5_HOUR = next(
    r for r in ROWS if "g5.4xlarge" in r["ChargeDescription"] and r["ChargePeriodStart"].startswith("2024-09-24")
)
AWS_CREDIT = next(r for r in ROWS if r["ChargeCategory"] == "Credit")
AZURE_REFUND = next(r for r in ROWS if r["ChargeDescription"].startswith("Virtual Machines Dv2/DSv2 Series"))
A10G_DAY = (date(2024, 9, 24), "aws", "A10G")


@pytest.fixture
def catalog(db):
    prices_refresh()


def bill(tmp_path, *rows, extra: tuple[str, ...] = (), name="bill.csv") -> Path:
    path = tmp_path / name
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*HEADER, *extra], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def cells() -> dict:
    return {(s.date, s.provider, s.gpu_type): (s.cost_usd, s.gpu_hours) for s in CostSnapshot.objects.all()}


def test_the_real_rows_are_what_the_tests_say():
    assert (G5_HOUR["BilledCost"], G5_HOUR["ConsumedQuantity"]) == ("1.62400000000", "1.000000000000000")
    assert (AWS_CREDIT["BilledCost"], AWS_CREDIT["ChargePeriodStart"]) == ("-2.61370000000", "2024-09-24 03:00:00")
    assert (AZURE_REFUND["BilledCost"], AZURE_REFUND["ConsumedQuantity"]) == ("-0.14900000000", "-1.000000000000000")


# --- item 5: credits and refunds net into the day's cell -------------------------------------------------------


def test_a_credit_for_a_gpu_instance_nets_into_its_day(catalog, tmp_path, capsys):
    credit = {**AWS_CREDIT, "BilledCost": "-1.00", "ChargeDescription": "AWS credit for g5.4xlarge Instance Hour"}

    call_command("import_billing", str(bill(tmp_path, G5_HOUR, credit)), "--no-progress")

    # 1.624 - 1.00 = 0.624 -> $0.62; a credit moves money, not hours: 1 x 1.0 = 1.0000 GPU-h.
    assert cells() == {A10G_DAY: (Decimal("0.62"), Decimal("1.0000"))}
    assert "$0.62  1.0000 GPU-h  (1 credit/refund line(s) netted)" in capsys.readouterr().out


def test_an_azure_refund_takes_back_its_cost_and_hours(catalog, tmp_path):
    meter = "Virtual Machines NCasT4_v3 Series - NC4as T4 v3 - US East 2"  # the refund's VM made a GPU size
    refund = {**AZURE_REFUND, "ChargeDescription": meter}
    charge = {**refund, "BilledCost": "0.14900000000", "ConsumedQuantity": "1.000000000000000"}

    call_command("import_billing", str(bill(tmp_path, charge, charge, refund)), "--no-progress")

    # 0.149 + 0.149 - 0.149 = 0.149 -> $0.15; (1 + 1 - 1) hours x 1 T4 = 1.0000 GPU-h.
    assert cells() == {(date(2024, 9, 3), "azure", "T4"): (Decimal("0.15"), Decimal("1.0000"))}


def test_a_credit_larger_than_the_days_charges_is_refused_naming_the_cell_and_lines(catalog, tmp_path):
    credit = {**AWS_CREDIT, "ChargeDescription": "AWS credit for g5.4xlarge Instance Hour"}  # the real -2.6137

    with pytest.raises(CommandError) as error:
        call_command("import_billing", str(bill(tmp_path, G5_HOUR, credit)), "--no-progress")

    # 1.624 - 2.6137 = -0.9897 -> $-0.99
    assert str(error.value) == (
        f"{tmp_path / 'bill.csv'}, column BilledCost: credits or refunds exceed the GPU charges they correct "
        "(import the charges first, or with them): 2024-09-24 aws A10G nets to $-0.99: lines 2 (1.624), 3 (-2.6137)"
    )
    assert CostSnapshot.objects.count() == 0
    assert ImportRecord.objects.get().status == "failed"


def test_a_credit_file_after_the_charges_nets_against_the_stored_bill(catalog, tmp_path):
    call_command("import_billing", str(FOCUS), "--no-progress")  # 2024-09-24 A10G: $1.62, 1.0000 GPU-h
    credit = {**AWS_CREDIT, "BilledCost": "-1.00", "ChargeDescription": "AWS credit for g5.4xlarge Instance Hour"}

    call_command("import_billing", str(bill(tmp_path, credit)), "--no-progress")
    assert cells()[A10G_DAY] == (Decimal("0.62"), Decimal("1.0000"))  # 1.62 - 1.00

    too_much = {**credit, "BilledCost": "-2.61370000000"}
    with pytest.raises(CommandError, match=r"nets to \$-1\.99 with the \$0\.62 already stored: lines 2 \(-2\.6137\)"):
        call_command("import_billing", str(bill(tmp_path, too_much, name="more.csv")), "--no-progress")
    assert cells()[A10G_DAY] == (Decimal("0.62"), Decimal("1.0000"))


# --- item 6: Azure names a GPU size by its meter ---------------------------------------------------------------


def test_azure_spellings_share_one_key():
    assert {meter_key(name) for name in ("Standard_NC4as_T4_v3", "NC4as T4 v3", "NC4as T4 v3 Low Priority",
                                         "NC4as T4 v3 Spot")} == {"nc4asv3"}  # fmt: skip
    assert meter_key("Standard_ND96asr_v4") == meter_key("ND96asr A100 v4")  # sized without, metered with its GPU


def test_azure_gpu_lines_are_recognised_in_every_form_the_export_uses(catalog, tmp_path):
    row = {**AZURE_REFUND, "BilledCost": "0.14900000000", "ConsumedQuantity": "1.000000000000000"}
    extra = ("x_SkuMeterName", "x_SkuDetails", "SkuPriceDetails")
    rows = [
        # ChargeDescription "<category> <series> - <meter> - <region>", as the real D11 v2 line writes it.
        {**row, "ChargeDescription": "Virtual Machines NCasT4_v3 Series - NC4as T4 v3 - US East 2"},
        # The meter in x_SkuMeterName, a Spot meter.
        {**row, "ChargeDescription": "Virtual Machines", "x_SkuMeterName": "NC24ads A100 v4 Spot"},
        # The size in x_SkuDetails (Azure's AdditionalInfo: ServiceType is the VM size).
        {**row, "ChargeDescription": "Virtual Machines", "x_SkuDetails": '{"ServiceType":"Standard_NC6s_v3"}'},
        # The meter in SkuPriceDetails (FOCUS 1.1+), with its GPU in it as Azure meters ND96asr v4.
        {**row, "ChargeDescription": "Virtual Machines", "SkuPriceDetails": '{"x_SkuMeterName":"ND96asr A100 v4"}'},
    ]

    call_command("import_billing", str(bill(tmp_path, *rows, extra=extra)), "--no-progress")

    # $0.149 and 1 hour each: GPU-hours = 1 x the size's GPUs (T4 x1, A100-80GB x1, V100 x1, A100 x8).
    day = date(2024, 9, 3)
    assert cells() == {
        (day, "azure", "T4"): (Decimal("0.15"), Decimal("1.0000")),
        (day, "azure", "A100-80GB"): (Decimal("0.15"), Decimal("1.0000")),
        (day, "azure", "V100"): (Decimal("0.15"), Decimal("1.0000")),
        (day, "azure", "A100"): (Decimal("0.15"), Decimal("8.0000")),
    }


def test_azure_lines_of_other_vms_stay_skipped(catalog, tmp_path, capsys):
    call_command("import_billing", str(bill(tmp_path, {**AZURE_REFUND, "BilledCost": "0.149"})), "--no-progress")

    assert CostSnapshot.objects.count() == 0  # "D11 v2/DS11 v2" is no GPU size
    assert "0 GPU lines kept, 1 skipped" in capsys.readouterr().out


# --- a report with no bills says unknown, not 0.00 -----------------------------------------------------------


@pytest.fixture
def unbilled(db):
    from costs.catalog.tests.factories import GpuPriceFactory
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory

    GpuPriceFactory(usd_per_gpu_hour=Decimal("4"))  # aws H100
    JobFactory()  # 1 x H100 on aws, 2025-03-10 08:00-10:00: 2 GPU-h, $8.00
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11))


def test_report_without_bills_shows_billed_and_idle_unknown(unbilled, capsys):
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "provider")

    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:7] == ["aws", "2.0000", "0.0000", "8.00", "8.00", "-", "-"]
    assert lines[4].split()[:7] == ["TOTAL", "2.0000", "0.0000", "8.00", "8.00", "-", "-"]


def test_summary_api_without_bills_returns_null_billed_and_idle(unbilled, api, django_user_model):
    # The organisation-wide figures need the view permissions (a superuser holds them).
    staff = django_user_model.objects.create_user("staff", is_staff=True, is_superuser=True)

    body = api.as_user(staff).get("/api/v1/costs/summary?start=2025-03-10&end=2025-03-11&group_by=team").json()

    assert (body["totals"]["billed_usd"], body["totals"]["idle_usd"]) == (None, None)
    assert body["totals"]["allocated_usd"] == "8.00"


# --- focus-validator: import_billing --validate ----------------------------------------------------------------


def test_validate_names_the_spec_checks_a_real_export_fails(catalog):
    pytest.importorskip("focus_validator", reason="the optional extra: pip install -r requirements-focus.txt")

    with pytest.raises(CommandError) as error:
        call_command("import_billing", str(FOCUS), "--validate", "--no-progress")

    message = str(error.value)
    assert "fails 12 check(s) of FOCUS 1.0 (focus-validator); nothing imported:" in message
    # The sample writes ChargeFrequency "Usage-based" on its 7 Oracle lines; the spec says "Usage-Based".
    assert (
        "ChargeFrequency_Enum: ChargeFrequency must have a value from the list: One-Time,Recurring,Usage-Based. "
        "- lines 927-928, 943, 946, 949-950, 952 (got Usage-based)"
    ) in message
    assert "ChargePeriodStart_IsDateTime: Ensures that column is of datetime type. - lines 2-1001" in message
    assert CostSnapshot.objects.count() == 0
    assert ImportRecord.objects.get().status == "failed"


def test_validate_passes_a_file_that_meets_the_checks(catalog, tmp_path, monkeypatch):
    pytest.importorskip("focus_validator", reason="the optional extra: pip install -r requirements-focus.txt")
    from costs.billing.services import focus_validation

    monkeypatch.setattr(focus_validation, "focus_validate", lambda path: [])

    call_command("import_billing", str(FOCUS), "--validate", "--no-progress")

    assert CostSnapshot.objects.count() == 10


def test_validate_without_the_extra_says_how_to_install_it(catalog, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_validator(name, *args, **kwargs):
        if name.startswith("focus_validator"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_validator)

    with pytest.raises(CommandError, match=r"--validate: needs the optional focus-validator: pip install -r "):
        call_command("import_billing", str(FOCUS), "--validate", "--no-progress")
