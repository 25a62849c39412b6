"""Unknown is shown as unknown everywhere: unmeasured and wholly unpriced figures are null / empty / "-", never 0."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.selectors.shown import shown_row
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
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


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _table(page: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each row (header and total rows included) of the page's table."""
    table = re.search(rf'<table id="{table_id}".*?</table>', page, re.S)[0]
    return [[_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr.*?</tr>", table, re.S)]  # fmt: skip


def _card(page: str, kpi: str) -> str:
    return _text(re.search(rf'data-kpi="{kpi}">.*?<div class="hx-value">(.*?)</div>', page, re.S)[1])


ONLY_UNPRICED = "start=2025-03-11&end=2025-03-12"  # vision's on-prem A100 day: every GPU-hour unpriced


def test_member_pages_show_a_wholly_unpriced_team_model_and_job_as_unpriced(with_unpriced, client):
    client.force_login(with_unpriced["users"]["carol"])  # vision's manager
    vision = with_unpriced["teams"]["vision"].pk
    home = client.get(f"/?{ONLY_UNPRICED}").content.decode()
    assert [_card(home, kpi) for kpi in ("allocated", "estimated", "unpriced")] == ["unpriced", "unpriced",
                                                                                    "12.0 GPU-h"]  # fmt: skip
    # No LLM call: 0 calls, LLM 0.00, and GPU + LLM unpriced (nothing known adds to it), never $0.
    assert _table(home, "hx-teams")[1] == ["vision", "12.0", "unpriced", "unpriced", "100.0 %", "unknown", "12.0",
                                           "50.0 %", "0.00", "0", "0.00", "unpriced"]  # fmt: skip
    charts = client.get(f"/?{RANGE}&format=json").json()  # a wholly unpriced day or team: no bar, never $0
    assert (charts["team_daily"]["data"], charts["spend_by_team"]["data"]) == ([8.0, None], [8.0])
    assert client.get(f"/?{ONLY_UNPRICED}&format=json").json()["spend_by_team"]["data"] == [None]
    team = client.get(f"/teams/{vision}/?{ONLY_UNPRICED}").content.decode()
    assert [_card(team, kpi) for kpi in ("allocated", "estimated")] == ["unpriced", "unpriced"]
    # Nothing priced in the parent either: the share is of GPU-hours, and says so.
    share = re.search(r'data-kpi="share">.*?<div class="hx-note">(.*?)</div>', team, re.S)[1]
    assert (_card(team, "share"), share) == ("100.0 %", "of GPU-hours (nothing priced)")
    assert _table(team, "hx-models")[1][:4] == ["seg", "12.0", "unpriced", "unpriced"]
    # Partly priced (vit's priced day too): the known figures, the unpriced GPU-hours beside them.
    home = client.get(f"/?{RANGE}").content.decode()
    assert [_card(home, kpi) for kpi in ("allocated", "estimated")] == ["USD 8.00", "USD 8.00"]
    assert _table(home, "hx-teams")[1][:7] == ["vision", "14.0", "8.00", "8.00", "100.0 %", "new", "12.0"]
    team = client.get(f"/teams/{vision}/?{RANGE}").content.decode()
    assert [row[:7] for row in _table(team, "hx-models")[1:]] == [
        ["vit", "2.0", "8.00", "8.00", "100.0 %", "new", "&ndash;"],
        ["seg", "12.0", "unpriced", "unpriced", "&ndash;", "unknown", "12.0"],  # its share of spend: unknown
    ]
    rows = _csv(client.get(f"/teams/{vision}/?format=csv&{RANGE}").content)
    assert [row[rows[0].index("share_pct")] for row in rows[1:]] == ["100.0", ""]
    assert _table(team, "hx-label-project")[1][:4] == ["(unlabelled)", "14.0", "8.00", "8.00"]
    label = client.get(f"/teams/{vision}/label/?key=project&value=(unlabelled)&{RANGE}").content.decode()
    assert [row[:4] for row in _table(label, "hx-label-jobs")[1:]] == [
        ["vit (2 x H100 on aws)", "2.0", "8.00", "8.00"],
        ["seg (3 x A100 on on-prem)", "12.0", "unpriced", "unpriced"],
    ]


def test_dashboard_totals_and_spend_card_show_a_wholly_unpriced_range_as_unpriced(with_unpriced, staff_client):
    page = staff_client.get(reverse("admin:index") + "?" + ONLY_UNPRICED).content.decode()
    assert _card(page, "spend") == "unpriced"
    assert "GPU + LLM: unpriced" in _text(page)
    assert _table(page, "hx-teams")[-1][:8] == ["Total", "12.0", "unpriced", "unpriced", "no bill yet", "0.00",
                                                "unpriced", "12.0"]  # fmt: skip
    assert _table(page, "hx-providers")[-1][:5] == ["Total", "12.0", "unpriced", "no bill yet", "unpriced"]
    assert _table(page, "hx-team-provider")[1:] == [["vision", "unpriced", "unpriced", "&ndash;"],
                                                    ["Total", "unpriced", "unpriced", "&ndash;"]]  # fmt: skip
    # Partly priced: the known figures, with the unpriced GPU-hours beside them.
    page = staff_client.get(reverse("admin:index") + "?" + RANGE).content.decode()
    assert _card(page, "spend") == "USD 50.00"
    assert "allocated + idle; 12 GPU-h unpriced, not in it" in _text(page)
    assert _table(page, "hx-teams")[-1][:8] == ["Total", "22.0", "40.00", "40.00", "10.00", "0.00", "50.00", "12.0"]
    assert _table(page, "hx-providers")[-1][:5] == ["Total", "22.0", "40.00", "50.00", "40.00"]
    assert _table(page, "hx-team-provider")[-1] == ["Total", "50.00", "unpriced", "50.00", "new"]


DAY_FIGURES = ("date", "gpu_hours", "unpriced_gpu_hours", "price_usd_per_gpu_hour", "estimated_usd", "allocated_usd",
               "allocated_shared_usd")  # fmt: skip


def test_a_job_s_unpriced_day_is_null_in_its_costs_and_unpriced_on_its_page(with_unpriced, api, client):
    staff = api.as_user(with_unpriced["users"]["staff"])
    seg = Job.objects.get(model_name="seg")
    days = staff.get(f"/api/v1/jobs/{seg.pk}/costs/").json()["days"]
    assert [[day[name] for name in DAY_FIGURES] for day in days] == [
        ["2025-03-11", "12.0000", "12.0000", None, None, None, None]]  # fmt: skip
    rows = _csv(staff.get(f"/api/v1/jobs/{seg.pk}/costs/?format=csv").content)
    assert rows[1][:7] == ["2025-03-11", "12.0000", "12.0000", "", "", "", ""]
    client.force_login(with_unpriced["users"]["carol"])
    page = client.get(f"/jobs/{seg.pk}/").content.decode()
    costs = re.search(r'id="hx-job-costs">(.*?)</section>', page, re.S)[1]
    assert _table(f'<table id="c">{costs}', "c")[1][:5] == ["2025-03-11", "12.0000", "unpriced", "unpriced",
                                                           "unpriced"]  # fmt: skip
    # Partly priced: an L4 priced from 02:00 on the 12th, a job from 00:00 to 04:00 (2 GPU-hours unpriced).
    GpuPriceFactory(provider="gcp", gpu_type="L4", usd_per_gpu_hour=D("2.0000"),
                    effective_from=datetime(2025, 3, 12, 2, tzinfo=UTC))  # fmt: skip
    l4 = JobFactory(
        team=with_unpriced["teams"]["vision"],
        model_name="l4",
        provider="gcp",
        gpu_type="L4",
        start_time=datetime(2025, 3, 12, tzinfo=UTC),
        end_time=datetime(2025, 3, 12, 4, tzinfo=UTC),
    )
    usage_rollup(start=date(2025, 3, 12), end=date(2025, 3, 13), now=datetime(2025, 3, 13, tzinfo=UTC))
    days = staff.get(f"/api/v1/jobs/{l4.pk}/costs/").json()["days"]
    assert [[day[name] for name in DAY_FIGURES] for day in days] == [
        ["2025-03-12", "4.0000", "2.0000", "2.0000", "4.00", "4.00", "4.00"]]  # fmt: skip


def test_team_spend_daily_carries_unpriced_hours_and_a_wholly_unpriced_day_is_null(with_unpriced, api):
    staff = api.as_user(with_unpriced["users"]["staff"])
    vision = with_unpriced["teams"]["vision"]
    days = staff.get(f"/api/v1/teams/{vision.pk}/spend?{RANGE}").json()["daily"]
    assert days == [
        {"date": "2025-03-10", "gpu_hours": "2.0000", "unpriced_gpu_hours": "0.0000", "estimated_usd": "8.00",
         "allocated_usd": "8.00"},
        {"date": "2025-03-11", "gpu_hours": "12.0000", "unpriced_gpu_hours": "12.0000", "estimated_usd": None,
         "allocated_usd": None},
    ]  # fmt: skip
    rows = _csv(staff.get(f"/api/v1/teams/{vision.pk}/spend?{RANGE}&format=csv").content)
    assert rows[1:] == [
        ["2025-03-10", "2.0000", "0.0000", "8.00", "8.00"],
        ["2025-03-11", "12.0000", "12.0000", "", ""],
    ]
    # A priced hour on the same day (1 x H100 on aws, no bill that day: the estimate): the day is partly priced.
    JobFactory(team=vision, model_name="vit", start_time=datetime(2025, 3, 11, 6, tzinfo=UTC),
               end_time=datetime(2025, 3, 11, 7, tzinfo=UTC))  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    day = staff.get(f"/api/v1/teams/{vision.pk}/spend?{RANGE}").json()["daily"][1]
    assert day == {"date": "2025-03-11", "gpu_hours": "13.0000", "unpriced_gpu_hours": "12.0000",
                   "estimated_usd": "4.00", "allocated_usd": "4.00"}  # fmt: skip


def test_admin_team_page_cards_show_a_wholly_unpriced_team_as_unpriced(with_unpriced, staff_client):
    url = reverse("admin:team_dashboard", args=[with_unpriced["teams"]["vision"].pk])
    page = staff_client.get(f"{url}?{ONLY_UNPRICED}").content.decode()
    assert [_card(page, kpi) for kpi in ("allocated", "estimated")] == ["unpriced", "unpriced"]
    assert "GPU + LLM: unpriced" in _text(page)
    chart = json.loads(re.search(r'<script id="hx-chart-data" type="application/json">(.*?)</script>', page)[1])
    assert chart["team_daily"]["data"] == [None]  # a gap, never a bar of $0
    page = staff_client.get(f"{url}?{RANGE}").content.decode()  # partly priced: the known figures
    assert [_card(page, kpi) for kpi in ("allocated", "estimated")] == ["USD 8.00", "USD 8.00"]
    assert "GPU + LLM: USD 8.00" in _text(page)
