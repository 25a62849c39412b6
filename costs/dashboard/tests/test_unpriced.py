"""The staff dashboard and team page: unpriced usage (no catalog price) and days still to come are unknown, not $0."""

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from costs.dashboard import views
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

INDEX = reverse("admin:index")
NOW = datetime(2025, 3, 11, 15, tzinfo=UTC)  # the 12th is still to come


def _job(team, provider: str, gpu_type: str, day: int, hours: int, gpus: int = 1):
    return JobFactory(team=team, provider=provider, gpu_type=gpu_type, gpu_count=gpus, model_name="m",
                      start_time=datetime(2025, 3, day, 1, tzinfo=UTC),
                      end_time=datetime(2025, 3, day, 1 + hours, tzinfo=UTC))  # fmt: skip


@pytest.fixture
def unpriced(org, monkeypatch):
    """org (nlp $32, vision $8 of aws H100 on the 10th, a $50 bill) plus, on the 11th, nothing priced: vision
    3 x A100 on-prem for 4 h (12 GPU-h: vision partly priced) and "lab" 2 GPU-h A100 on-prem and 1 GPU-h A100 aws
    (lab wholly unpriced; aws partly priced, its 11th wholly unpriced). The clock: 2025-03-11 15:00 UTC."""
    lab = TeamFactory(name="lab")
    _job(org["teams"]["vision"], "on-prem", "A100", 11, 4, gpus=3)
    _job(lab, "on-prem", "A100", 11, 2)
    _job(lab, "aws", "A100", 11, 1)
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: NOW))
    return {**org["teams"], "lab": lab}


def test_charts_show_wholly_unpriced_teams_providers_and_days_and_days_to_come_as_gaps(unpriced, staff_client):
    charts = staff_client.get(INDEX + "?start=2025-03-10&end=2025-03-13").context["dashboard"]["charts"]
    teams = dict(zip(charts["spend_by_team"]["labels"], charts["spend_by_team"]["data"], strict=True))
    assert teams == {"nlp": 32.0, "vision": 8.0, "lab": None}
    assert charts["billed_vs_estimated"]["labels"] == ["aws", "on-prem"]
    assert charts["billed_vs_estimated"]["estimated"] == [40.0, None]
    daily = charts["daily_by_provider"]
    assert daily["labels"] == ["2025-03-10", "2025-03-11", "2025-03-12"]
    assert {d["label"]: d["data"] for d in daily["datasets"]} == {"aws": [50.0, None, None],
                                                                 "on-prem": [0.0, None, None]}  # fmt: skip


def test_a_teams_daily_chart_by_provider_leaves_its_unpriced_days_as_gaps(unpriced, staff_client):
    query = f"?start=2025-03-10&end=2025-03-13&team={unpriced['lab'].pk}"
    daily = staff_client.get(INDEX + query).context["dashboard"]["charts"]["daily_by_provider"]
    assert {d["label"]: d["data"] for d in daily["datasets"]} == {"aws": [0.0, None, None],
                                                                 "on-prem": [0.0, None, None]}  # fmt: skip


def test_month_to_date_is_unpriced_when_the_months_gpu_usage_is(unpriced, staff_client):
    response = staff_client.get(INDEX + f"?team={unpriced['lab'].pk}")
    month = response.context["dashboard"]["kpis"]["month"]
    assert (month["spent"], month["projected"], month["unpriced_gpu_hours"]) == (None, None, Decimal("3.0000"))
    card = response.content.decode().split('data-kpi="month"')[1].split('data-kpi="gpu-hours"')[0]
    assert "unpriced</span>" in card
    assert 'projected month end: <span class="hx-unknown">unknown</span>' in card
    assert "0.00" not in card


def test_month_to_date_partly_priced_keeps_its_figure_with_the_unpriced_hours_beside(unpriced, staff_client):
    response = staff_client.get(INDEX + f"?team={unpriced['vision'].pk}")
    month = response.context["dashboard"]["kpis"]["month"]
    # $8 in 10 days 15 hours of March's 31: 8 / 10.625 * 31 = 23.34
    assert (month["spent"], month["projected"], month["unpriced_gpu_hours"]) == (
        Decimal("8.00"), Decimal("23.34"), Decimal("12.0000"))  # fmt: skip
    card = response.content.decode().split('data-kpi="month"')[1].split('data-kpi="gpu-hours"')[0]
    assert "USD 8.00" in card
    assert "USD 23.34; 12 GPU-h unpriced, not in it" in card


def _spend_change(page: str) -> str:
    return page.split('data-change="spend">')[1].split("</div>")[0]


def test_an_unpriced_spend_has_an_unknown_change_not_new(unpriced, staff_client):
    page = staff_client.get(INDEX + f"?start=2025-03-11&end=2025-03-12&team={unpriced['lab'].pk}").content.decode()
    assert "unknown</span> vs previous 1 days" in _spend_change(page)
    assert "new" not in _spend_change(page)


def test_a_change_from_an_unpriced_spend_is_unknown(unpriced, staff_client):
    _job(unpriced["lab"], "aws", "H100", 12, 1)  # priced: $4.00 on the 12th, after a wholly unpriced 11th
    usage_rollup(start=date(2025, 3, 12), end=date(2025, 3, 13), now=datetime(2025, 3, 13, tzinfo=UTC))
    response = staff_client.get(INDEX + f"?start=2025-03-12&end=2025-03-13&team={unpriced['lab'].pk}")
    kpis = response.context["dashboard"]["kpis"]
    assert (kpis["spend"], kpis["change"]["spend"]) == (Decimal("4.00"), {"previous": None, "change_pct": None})
    assert "unknown</span> vs previous 1 days" in _spend_change(response.content.decode())


def test_team_page_share_and_daily_chart(unpriced, staff_client):
    def page(team):
        return staff_client.get(reverse("admin:team_dashboard", args=[team.pk]) + "?start=2025-03-10&end=2025-03-13")

    lab, vision, nlp = page(unpriced["lab"]), page(unpriced["vision"]), page(unpriced["nlp"])
    assert lab.context["data"]["share_of_bill"] is None
    share = lab.content.decode().split('data-kpi="share"')[1].split("</div></div>")[0]
    assert "unpriced</span>" in share
    assert "0.0 %" not in share
    assert vision.context["data"]["share_of_bill"] == Decimal("16.0")  # partly priced: $8 of the $50 bill
    assert lab.context["team_chart"]["team_daily"]["data"] == [0.0, None, None]
    assert vision.context["team_chart"]["team_daily"]["data"] == [8.0, None, None]
    assert nlp.context["team_chart"]["team_daily"] == {"labels": ["2025-03-10", "2025-03-11", "2025-03-12"],
                                                       "data": [32.0, 0.0, None]}  # fmt: skip
