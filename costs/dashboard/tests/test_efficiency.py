"""The admin dashboard's efficiency and waste: cards, table columns, top waste teams and jobs, the CSV export."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from costs.usage.tests.test_efficiency_api import two_teams_rolled_up
from jobs.admin import JobAdmin

INDEX = reverse("admin:index")
RANGE = "?start=2025-03-10&end=2025-03-12"


@pytest.fixture
def two_teams(db):
    return two_teams_rolled_up()


def test_dashboard_cards_show_efficiency_and_waste_in_range(two_teams, staff_client):
    response = staff_client.get(INDEX + RANGE)

    kpis = response.context["dashboard"]["kpis"]
    # 11.93 used of 46 measured GPU-hours; 4 GPU-hours unmeasured; $80.00 + $2.08 wasted.
    assert (kpis["efficiency_pct"], kpis["unmeasured_gpu_hours"], kpis["waste"]) == (
        Decimal("25.9"), Decimal("4.0000"), Decimal("82.08"))  # fmt: skip
    page = response.content.decode()
    assert 'data-kpi="efficiency"><div class="hx-label">Efficiency</div><div class="hx-value">25.9 %' in page
    assert 'data-kpi="waste"><div class="hx-label">Waste in range</div><div class="hx-value">USD 82.08' in page


def test_dashboard_ranks_the_teams_and_jobs_that_wasted_most(two_teams, staff_client):
    busy, _ = two_teams
    top = staff_client.get(INDEX + RANGE).context["dashboard"]["top_waste"]

    assert [(row["team"], row["efficiency_pct"], row["waste_usd"]) for row in top["teams"]] == [
        ("vision", Decimal("20.0"), Decimal("80.00")), ("speech", Decimal("65.5"), Decimal("2.08"))]  # fmt: skip
    assert (top["jobs"][0]["id"], top["jobs"][0]["waste_usd"]) == (busy.pk, Decimal("80.00"))
    assert len(top["jobs"]) == 2  # the unmeasured job has no waste to rank


def test_dashboard_team_export_has_efficiency_and_waste(two_teams, staff_client):
    response = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + RANGE)

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["team"], r["efficiency_pct"], r["waste_usd"], r["unmeasured_gpu_hours"]) for r in rows] == [
        ("vision", "20.0", "80.00", "4.0000"), ("speech", "65.5", "2.08", "0.0000"),
        ("TOTAL", "25.9", "82.08", "4.0000")]  # fmt: skip


def test_dashboard_without_any_measured_job_says_unknown_not_zero(org, staff_client):
    page = staff_client.get(INDEX + "?start=2025-03-10&end=2025-03-11").content.decode()

    assert '<div class="hx-label">Efficiency</div><div class="hx-value"><span class="hx-unknown"' in page
    assert "no job with GPU utilisation in range; 10 GPU-h unmeasured" in page
    assert '<div class="hx-label">Waste in range</div><div class="hx-value"><span class="hx-unknown"' in page


def test_admin_job_list_shows_utilisation_and_waste_and_sorts_by_waste(two_teams, staff_client):
    busy, blind = two_teams
    changelist = reverse("admin:jobs_job_changelist")
    column = JobAdmin.list_display.index("waste_column") + 1  # after the actions' checkbox
    response = staff_client.get(f"{changelist}?o={column}")  # most waste first

    jobs = list(response.context["cl"].result_list)
    assert jobs[0].pk == busy.pk
    assert jobs[-1].pk == blind.pk  # unmeasured: no waste known, last
    page = response.content.decode()
    assert '<td class="field-util_column">20.00 %</td><td class="field-waste_column">80.00</td>' in page
    assert '<td class="field-util_column">unmeasured</td><td class="field-waste_column">-</td>' in page


def test_team_page_top_models_have_efficiency_and_waste(two_teams, staff_client):
    from teams.models import Team

    vision = Team.objects.get(name="vision")
    response = staff_client.get(reverse("admin:team_dashboard", args=[vision.pk]) + RANGE)

    models = response.context["data"]["top_models"]
    assert [(m["model_name"], m["efficiency_pct"], m["waste_usd"], m["unmeasured_gpu_hours"]) for m in models] == [
        ("llama-3-8b", Decimal("20.0"), Decimal("80.00"), Decimal("4.0000"))]  # fmt: skip
    assert "20.0 % <span" in response.content.decode()


def test_top_waste_jobs_follow_the_filter_bar(two_teams, staff_client):
    # speech's whisper job is the only A100 one; the label filter keeps the borealis project's jobs only
    for query in ("&gpu_type=A100", "&label=project%3Dborealis", "&model=whisper"):
        top = staff_client.get(INDEX + RANGE + query).context["dashboard"]["top_waste"]
        assert [(row["model_name"], row["waste_usd"]) for row in top["jobs"]] == [("whisper", Decimal("2.08"))], query
