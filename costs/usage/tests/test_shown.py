"""Unknown is shown as unknown everywhere: unmeasured and wholly unpriced figures are null / empty / "-", never 0."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from costs.usage.selectors.shown import shown_row
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory

D = Decimal
RANGE = "start=2025-03-10&end=2025-03-12"


def test_a_row_with_nothing_measured_has_unknown_used_hours_and_waste():
    row = {"gpu_hours": D("4.0000"), "unpriced_gpu_hours": D("0.0000"), "estimated_usd": D("16.00"),
           "used_gpu_hours": D("0.0000"), "measured_gpu_hours": D("0.0000"), "waste_zar": D("0.00"),
           "efficiency_pct": None}  # fmt: skip
    assert shown_row(row) == {**row, "used_gpu_hours": None, "waste_zar": None}
    measured_idle = {**row, "measured_gpu_hours": D("4.0000"), "efficiency_pct": D("0.0")}  # measured at 0 %: known
    assert shown_row(measured_idle) == measured_idle


def test_a_wholly_unpriced_row_has_an_unknown_estimate_and_unknown_zero_share():
    row = {"gpu_hours": D("12.0000"), "unpriced_gpu_hours": D("12.0000"), "estimated_usd": D("0.00"),
           "allocated_usd": D("0.00"), "llm_usd": D("0.00"), "total_usd": D("0.00")}  # fmt: skip
    assert shown_row(row) == {**row, "estimated_usd": None, "allocated_usd": None, "total_usd": None}
    # Idle shared: a bill split by GPU-hours gives it a known share; with LLM spend the total is that known part.
    shared = {**row, "allocated_usd": D("7.50"), "llm_usd": D("3.00"), "total_usd": D("10.50")}
    assert shown_row(shared) == {**shared, "estimated_usd": None}
    # Partly priced: the known estimate, the unpriced GPU-hours beside it.
    partly = {**row, "unpriced_gpu_hours": D("11.9999"), "estimated_usd": D("0.01"), "allocated_usd": D("0.01")}
    assert shown_row(partly) == partly
    nothing = {**row, "gpu_hours": D("0.0000"), "unpriced_gpu_hours": D("0.0000")}  # no GPU-hour: nothing unknown
    assert shown_row(nothing) == nothing


@pytest.fixture
def with_unpriced(org):
    """org (aws H100 on the 10th: nlp $32.00, vision $8.00 of a $50.00 bill) plus, on the 11th, vision's 3 x A100
    on-prem for 4 hours at 50 % utilisation: 12 GPU-hours, 6 used, no catalog price and no bill."""
    JobFactory(team=org["teams"]["vision"], model_name="seg", provider="on-prem", gpu_type="A100", gpu_count=3,
               start_time=datetime(2025, 3, 11, 1, tzinfo=UTC), end_time=datetime(2025, 3, 11, 5, tzinfo=UTC),
               gpu_util_avg=Decimal("50.00"))  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    return org


def _csv(content: bytes | str) -> list[list[str]]:
    text = content.decode() if isinstance(content, bytes) else content
    return list(csv.reader(io.StringIO(text)))


FIGURES = ("gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "used_gpu_hours", "waste_usd",
           "efficiency_pct")  # fmt: skip


def test_summary_shows_a_wholly_unpriced_group_as_null_and_its_unpriced_hours(with_unpriced, api):
    staff = with_unpriced["users"]["staff"]
    body = api.as_user(staff).get(f"/api/v1/costs/summary?{RANGE}&group_by=provider").json()

    rows = {row["provider"]: [row[name] for name in FIGURES] for row in body["rows"]}
    assert rows == {
        "aws": ["10.0000", "0.0000", "40.00", "40.00", None, None, None],  # priced, nothing measured
        "on-prem": ["12.0000", "12.0000", None, None, "6.0000", "0.00", "50.0"],  # no price: no cost to waste
    }
    # The totals are partly priced and partly measured: known, the unpriced GPU-hours beside them.
    assert [body["totals"][name] for name in FIGURES] == ["22.0000", "12.0000", "40.00", "40.00", "6.0000",
                                                          "0.00", "50.0"]  # fmt: skip
    response = api.as_user(staff).get(f"/api/v1/costs/summary?{RANGE}&group_by=team,provider&format=csv")
    rows = _csv(response.content)
    columns = [rows[0].index(name) for name in ("team", "provider", *FIGURES)]
    assert [[row[i] for i in columns] for row in rows[1:]] == [
        ["nlp", "aws", "8.0000", "0.0000", "32.00", "32.00", "", "", ""],
        ["(idle)", "aws", "0.0000", "0.0000", "0.00", "0.00", "", "", ""],
        ["vision", "aws", "2.0000", "0.0000", "8.00", "8.00", "", "", ""],
        ["vision", "on-prem", "12.0000", "12.0000", "", "", "6.0000", "0.00", "50.0"],
        ["TOTAL", "", "22.0000", "12.0000", "40.00", "40.00", "6.0000", "0.00", "50.0"],
    ]


def test_timeseries_points_and_team_spend_show_unknown_as_null(with_unpriced, api):
    staff = with_unpriced["users"]["staff"]
    body = api.as_user(staff).get(f"/api/v1/costs/timeseries?{RANGE}&group_by=provider&interval=day").json()

    points = {(s["group"]["provider"], p["period"]): [p[name] for name in FIGURES] for s in body["series"]
              for p in s["points"]}  # fmt: skip
    assert points == {
        ("aws", "2025-03-10"): ["10.0000", "0.0000", "40.00", "40.00", None, None, None],
        ("aws", "2025-03-11"): ["0.0000", "0.0000", "0.00", "0.00", None, None, None],  # nothing ran: $0 is known
        ("on-prem", "2025-03-10"): ["0.0000", "0.0000", "0.00", "0.00", None, None, None],
        ("on-prem", "2025-03-11"): ["12.0000", "12.0000", None, None, "6.0000", "0.00", "50.0"],
    }
    vision = with_unpriced["teams"]["vision"]
    spend = api.as_user(staff).get(f"/api/v1/teams/{vision.pk}/spend?{RANGE}").json()
    models = {m["model_name"]: (m["estimated_usd"], m["allocated_usd"], m["waste_usd"]) for m in spend["top_models"]}
    assert models == {"vit": ("8.00", "8.00", None), "seg": (None, None, "0.00")}
    assert (spend["totals"]["estimated_usd"], spend["totals"]["used_gpu_hours"]) == ("8.00", "6.0000")


def test_report_shows_a_wholly_unpriced_group_as_unknown(with_unpriced, capsys):
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-12", "--group-by", "provider")

    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines[0][:5] == ["provider", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"]
    assert lines[2] == ["aws", "10.0000", "0.0000", "40.00", "40.00", "10.00", "50.00", "-", "0.0000", "10.0000",
                        "-", "-", "-"]  # fmt: skip
    assert lines[3] == ["on-prem", "12.0000", "12.0000", "-", "-", "-", "-", "6.0000", "12.0000", "0.0000", "50.0",
                        "0.00", "0.00"]  # fmt: skip


def test_dashboard_and_member_csvs_show_a_wholly_unpriced_row_as_empty(with_unpriced, staff_client, client):
    rows = _csv(staff_client.get(reverse("admin:dashboard_export", args=["gpu-types"]) + "?" + RANGE).content)
    columns = [rows[0].index(name) for name in ("gpu_type", *FIGURES)]
    assert [[row[i] for i in columns] for row in rows[1:]] == [
        ["A100", "12.0000", "12.0000", "", "", "6.0000", "0.00", "50.0"],  # most GPU-hours first
        ["H100", "10.0000", "0.0000", "40.00", "40.00", "", "", ""],
        ["TOTAL", "22.0000", "12.0000", "40.00", "40.00", "6.0000", "0.00", "50.0"],
    ]
    client.force_login(with_unpriced["users"]["carol"])  # vision's manager: the team page's models CSV
    rows = _csv(client.get(f"/teams/{with_unpriced['teams']['vision'].pk}/?format=csv&{RANGE}").content)
    columns = [rows[0].index(name) for name in ("model_name", *FIGURES)]
    assert [[row[i] for i in columns] for row in rows[1:]] == [
        ["vit", "2.0000", "0.0000", "8.00", "8.00", "", "", ""],
        ["seg", "12.0000", "12.0000", "", "", "6.0000", "0.00", "50.0"],
    ]
