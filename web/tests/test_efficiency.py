"""The member UI's efficiency and waste: the cards and the drill tables, the job list and the job page."""

from decimal import Decimal

import pytest
from django.test import Client

from costs.usage.tests.test_efficiency_api import two_teams_rolled_up
from teams.models import Team
from teams.tests.factories import UserFactory

RANGE = "start=2025-03-10&end=2025-03-12"


@pytest.fixture
def vision_member(db):
    jobs = two_teams_rolled_up()
    user = UserFactory(username="vera")
    Team.objects.get(name="vision").memberships.create(user=user)
    client = Client()
    client.force_login(user)
    return client, jobs


def test_home_cards_and_team_table_show_efficiency_and_waste(vision_member):
    client, _ = vision_member
    response = client.get(f"/?{RANGE}")

    card = response.context["card"]
    assert (card["efficiency_pct"], card["waste_usd"], card["unmeasured_gpu_hours"]) == (
        Decimal("20.0"), Decimal("80.00"), Decimal("4.0000"))  # fmt: skip
    page = response.content.decode()
    assert '<div class="hx-label">Efficiency</div><div class="hx-value">20.0 %' in page
    assert '<div class="hx-label">Waste in range</div><div class="hx-value">USD 80.00' in page
    assert [(row["key"], row["efficiency_pct"], row["waste_usd"]) for row in response.context["level"].rows] == [
        ("vision", Decimal("20.0"), Decimal("80.00"))]  # fmt: skip


def test_job_list_shows_utilisation_and_sorts_by_waste(vision_member):
    client, (busy, blind) = vision_member
    response = client.get("/jobs/?sort=-waste")

    assert [job.pk for job in response.context["page"]] == [busy.pk, blind.pk]  # unmeasured last
    page = response.content.decode()
    assert "20.00 %" in page
    assert ">unmeasured</span>" in page


def test_job_page_shows_utilisation_used_hours_and_waste(vision_member):
    client, (busy, _) = vision_member
    response = client.get(f"/jobs/{busy.pk}/")

    page = response.content.decode()
    assert 'id="hx-job-util">20.00 % <span class="hx-note">(API)</span>' in page
    assert 'id="hx-job-cost-used">8.0000\n</td>' in page
    assert 'id="hx-job-cost-waste">80.00\n</td>' in page
