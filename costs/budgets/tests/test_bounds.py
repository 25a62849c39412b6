"""Budgets hold sane numbers, and one bad budget never stops the others from being checked and shown."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError, transaction
from django.urls import reverse

from costs.budgets.models import Budget, BudgetAlert
from costs.budgets.selectors import budget_statuses
from costs.budgets.tests.factories import BudgetFactory
from costs.usage.tests.factories import UsageSnapshotFactory
from heliox.testing import assert_rejected_by_database
from teams.tests.factories import TeamFactory

NOV = date(2025, 11, 1)


def url(budget: Budget) -> str:
    return f"/api/v1/budgets/{budget.pk}/"


@pytest.fixture
def nlp_budget(org):
    return BudgetFactory(team=org["teams"]["nlp"], amount_usd=Decimal("100.00"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"run_rate_days": 1_000_000}, "run_rate_days"),
        ({"run_rate_days": 32}, "run_rate_days"),  # a month has at most 31 days
        ({"run_rate_days": 0}, "run_rate_days"),
        ({"period": "quarterly", "run_rate_days": 93}, "run_rate_days"),
        ({"thresholds": list(range(1, 12))}, "thresholds"),  # 11 thresholds
        ({"thresholds": [1001]}, "thresholds"),
        ({"thresholds": [0]}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
        ({"thresholds": [True]}, "thresholds"),
        ({"amount_usd": "10000000000.00"}, "amount_usd"),
        ({"amount_usd": "0"}, "amount_usd"),
        ({"emails": [123]}, "emails"),
        ({"emails": [{"@": 1}]}, "emails"),
        ({"emails": "lead@example.com"}, "emails"),
        ({"webhook_urls": [7]}, "webhook_urls"),
    ],
)
def test_a_manager_cannot_store_numbers_out_of_bounds(org, api, nlp_budget, change, field):
    response = api.as_user(org["users"]["alice"]).patch(url(nlp_budget), change, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    nlp_budget.refresh_from_db()
    assert (nlp_budget.run_rate_days, nlp_budget.thresholds) == (7, [50, 80, 100])


def test_the_bounds_that_fit_are_accepted(org, api, nlp_budget):
    manager = api.as_user(org["users"]["alice"])
    ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]
    response = manager.patch(url(nlp_budget), {"run_rate_days": 31, "thresholds": ten}, format="json")
    assert (response.status_code, response.json()["thresholds"]) == (200, ten)
    response = manager.patch(url(nlp_budget), {"period": "quarterly", "run_rate_days": 92}, format="json")
    assert (response.status_code, response.json()["run_rate_days"]) == (200, 92)
    response = manager.patch(url(nlp_budget), {"amount_usd": "9999999999.99"}, format="json")
    assert (response.status_code, response.json()["amount_usd"]) == (200, "9999999999.99")


def test_a_monthly_period_cannot_keep_a_quarter_long_run_rate(org, api, nlp_budget):
    manager = api.as_user(org["users"]["alice"])
    response = manager.patch(url(nlp_budget), {"period": "quarterly", "run_rate_days": 90}, format="json")
    assert response.status_code == 200
    response = manager.patch(url(nlp_budget), {"period": "monthly"}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["run_rate_days"])


def test_the_database_refuses_run_rate_days_longer_than_the_period(org, nlp_budget):
    assert_rejected_by_database(lambda: Budget.objects.filter(pk=nlp_budget.pk).update(run_rate_days=32))
    assert_rejected_by_database(lambda: Budget.objects.filter(pk=nlp_budget.pk).update(run_rate_days=0))
    Budget.objects.filter(pk=nlp_budget.pk).update(period="quarterly", run_rate_days=92)
    assert_rejected_by_database(lambda: Budget.objects.filter(pk=nlp_budget.pk).update(run_rate_days=93))
    # PostgreSQL's numeric(12, 2) refuses it before the CHECK does; SQLite has only the CHECK.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Budget.objects.filter(pk=nlp_budget.pk).update(amount_usd=Decimal("10000000000.00"))


def test_the_admin_form_refuses_a_run_rate_longer_than_the_period(org, staff_client):
    form = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00", "period": "monthly",
            "thresholds": "50, 80, 100", "emails": "", "webhook_urls": "", "run_rate_days": "1000000",
            "efficiency_days": "7", "active": "on"}  # fmt: skip
    response = staff_client.post(reverse("admin:costs_budget_add"), form)
    assert response.status_code == 200
    assert "run_rate_days" in response.context["adminform"].form.errors
    response = staff_client.post(
        reverse("admin:costs_budget_add"),
        {**form, "run_rate_days": "31", "thresholds": ", ".join(map(str, range(1, 12)))},
    )
    assert list(response.context["adminform"].form.errors) == ["thresholds"]
    assert not Budget.objects.exists()


def test_the_admin_form_takes_lists_as_people_type_them(org, staff_client):
    form = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "1,250,000.50", "period": "monthly",
            "thresholds": "50, 80,100", "emails": "lead@example.com\n\n  cfo@example.com \n", "webhook_urls": "",
            "run_rate_days": "7", "min_efficiency_pct": "35", "efficiency_days": "7", "active": "on"}  # fmt: skip
    response = staff_client.post(reverse("admin:costs_budget_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    budget = Budget.objects.get()
    assert (budget.amount_usd, budget.thresholds, budget.emails, budget.min_efficiency_pct) == (
        Decimal("1250000.50"), [50, 80, 100], ["lead@example.com", "cfo@example.com"], 35)  # fmt: skip
    page = staff_client.get(reverse("admin:costs_budget_change", args=[budget.pk])).content.decode()
    assert 'value="1,250,000.50"' in page
    assert 'value="50, 80, 100"' in page
    assert "lead@example.com\ncfo@example.com</textarea>" in page
    assert "Amount (USD)" in page
    listing = staff_client.get(reverse("admin:costs_budget_changelist")).content.decode()
    assert "1,250,000.50" in listing
    assert "Used (%)" in listing
    bad = staff_client.post(reverse("admin:costs_budget_add"), {**form, "thresholds": "50, ninety"})
    assert bad.context["adminform"].form.errors["thresholds"] == [
        "'ninety' is not a whole percentage; write e.g. 50, 80, 100."
    ]
    bad = staff_client.post(reverse("admin:costs_budget_add"), {**form, "emails": "lead@example.com\nnot-an-address"})
    assert "Not valid: 'not-an-address'." in bad.context["adminform"].form.errors["emails"]


def spend(team, days: int, usd: str) -> None:
    for n in range(days):
        UsageSnapshotFactory(team=team, date=NOV + timedelta(days=n), allocated_usd=Decimal(usd))


@pytest.fixture
def one_bad_budget(db):
    """vision's budget was stored before the bounds existed (thresholds that are not numbers); nlp's is fine."""
    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    spend(nlp, 10, "85.00")
    spend(vision, 10, "85.00")
    Budget.objects.create(team=nlp, amount_usd=Decimal("1000.00"), emails=["nlp@example.com"])
    bad = Budget.objects.create(team=vision, amount_usd=Decimal("1000.00"), emails=["vision@example.com"])
    Budget.objects.filter(pk=bad.pk).update(thresholds=["x", *range(2000)])


def test_a_bad_budget_is_reported_and_the_others_are_still_evaluated(one_bad_budget):
    statuses = {s.budget.team.name: s for s in budget_statuses(budgets=Budget.objects.all(), as_of=date(2025, 11, 10))}
    assert (statuses["nlp"].status, statuses["nlp"].spent) == ("projected-overrun", Decimal("850.00"))
    assert (statuses["vision"].status, statuses["vision"].spent) == ("invalid", None)
    assert "thresholds" in statuses["vision"].problem


def test_check_budgets_alerts_the_good_budgets_and_fails_naming_the_bad_one(one_bad_budget, capsys):
    with pytest.raises(CommandError, match="1 budget could not be checked: vision monthly"):
        call_command("check_budgets", "--date", "2025-11-10")
    out = capsys.readouterr().out
    row = "vision  monthly                 1,000.00  -       -     -          invalid            -           -\n"
    assert row in out
    assert [message.to for message in mail.outbox] == [["nlp@example.com"]] * 3
    assert set(BudgetAlert.objects.values_list("budget__team__name", flat=True)) == {"nlp"}


def test_pages_and_the_api_show_a_bad_budget_as_invalid(one_bad_budget, client, django_user_model):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200
    page = client.get(reverse("admin:costs_budget_changelist"))
    assert page.status_code == 200
    assert "invalid" in page.content.decode()
    body = {b["team_name"]: b for b in client.get("/api/v1/budgets/").json()["results"]}
    assert body["nlp"]["status"] != "invalid"
    assert (body["vision"]["status"], body["vision"]["spent_usd"]) == ("invalid", None)
    assert "thresholds" in body["vision"]["problem"]


@pytest.mark.parametrize(
    "day",
    ["9999-12-31", "1899-12-31", "0001-01-01"],  # the period's end (or the run-rate window) would leave the calendar
)
def test_check_budgets_refuses_a_date_its_periods_cannot_reach_without_a_traceback(org, nlp_budget, day):
    with pytest.raises(CommandError) as refused:
        call_command("check_budgets", "--date", day)
    assert str(refused.value) == (
        f"Error: argument --date: must be a day of the years 1900 to 9998 (YYYY-MM-DD), got {day!r}"
    )
    assert not BudgetAlert.objects.exists()
