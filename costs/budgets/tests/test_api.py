from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.urls import reverse
from django.utils import timezone

from costs.budgets.models import Budget
from costs.usage.tests.factories import UsageSnapshotFactory


def test_budget_api_shows_spend_projection_and_status(org, api):
    # $90 spent on Nov 24 of a $100 monthly budget: run-rate 90/7 a day for the 6 days left -> 167.14
    nlp = org["teams"]["nlp"]
    UsageSnapshotFactory(team=nlp, date=date(2025, 11, 24), allocated_usd=Decimal("90.00"))
    Budget.objects.create(team=nlp, amount_usd=Decimal("100.00"))

    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 11, 24, 12, tzinfo=UTC)):
        (body,) = api.as_user(org["users"]["bob"]).get("/api/v1/budgets/").json()["results"]

    assert {k: body[k] for k in ("team_name", "period_start", "spent_usd", "percent", "projected_usd", "status")} == {
        "team_name": "nlp", "period_start": "2025-11-01", "spent_usd": "90.00", "percent": "90.0",
        "projected_usd": "167.14", "status": "projected-overrun",
    }  # fmt: skip
    assert api.as_user(org["users"]["carol"]).get("/api/v1/budgets/").json()["results"] == []


def test_managers_write_their_teams_budgets_members_only_read(org, api):
    nlp, vision = org["teams"]["nlp"], org["teams"]["vision"]
    new = {"team": str(nlp.pk), "amount_usd": "5000.00", "period": "quarterly", "thresholds": [80, 100]}
    assert api.as_user(org["users"]["bob"]).post("/api/v1/budgets/", new, format="json").status_code == 403
    response = api.as_user(org["users"]["alice"]).post("/api/v1/budgets/", new, format="json")
    assert response.status_code == 201, response.json()
    other = {**new, "team": str(vision.pk)}
    assert api.as_user(org["users"]["alice"]).post("/api/v1/budgets/", other, format="json").status_code == 400
    budget = Budget.objects.get()
    url = f"/api/v1/budgets/{budget.pk}/"
    assert api.as_user(org["users"]["carol"]).patch(url, {"amount_usd": "1"}, format="json").status_code == 404
    assert api.as_user(org["users"]["alice"]).patch(url, {"amount_usd": "6000"}, format="json").status_code == 200


def test_invalid_budgets_are_400_naming_the_field(org, api):
    staff = api.as_user(org["users"]["staff"])
    base = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00"}
    assert "thresholds" in staff.post("/api/v1/budgets/", {**base, "thresholds": [0, "x"]}, format="json").json()
    assert "emails" in staff.post("/api/v1/budgets/", {**base, "emails": ["nope"]}, format="json").json()
    assert "webhook_urls" in staff.post("/api/v1/budgets/", {**base, "webhook_urls": ["ftp://x"]},
                                        format="json").json()  # fmt: skip
    response = staff.post("/api/v1/budgets/", {**base, "amount_usd": "-5"}, format="json")
    assert (response.status_code, "amount_usd" in response.json()) == (400, True)


def test_dashboard_lists_budgets_with_progress(org, staff_client):
    nlp = org["teams"]["nlp"]
    UsageSnapshotFactory(team=nlp, date=timezone.now().date() - timedelta(days=0), allocated_usd=Decimal("75.00"))
    Budget.objects.create(team=nlp, amount_usd=Decimal("100.00"))
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="hx-budgets"' in page
    assert "75.0 %" in page
