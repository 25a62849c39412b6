"""The efficiency alert of a budget: once per window when a team's GPU efficiency is under the threshold,
through the budget alerts' delivery; unmeasured never alerts; bounds are 400s naming the field."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from costs.budgets.efficiency import efficiency_statuses
from costs.budgets.models import Budget, BudgetAlert
from costs.budgets.services.alerts import budgets_check
from costs.usage.tests.factories import UsageSnapshotFactory
from teams.tests.factories import TeamFactory


def day(team, on: date, *, measured: str, used: str, unmeasured: str = "0", waste: str = "0") -> None:
    hours = Decimal(measured) + Decimal(unmeasured)
    UsageSnapshotFactory(team=team, date=on, gpu_hours=hours, measured_gpu_hours=Decimal(measured),
                         used_gpu_hours=Decimal(used), unmeasured_gpu_hours=Decimal(unmeasured),
                         waste_usd=Decimal(waste), allocated_usd=Decimal("1.00"))  # fmt: skip


@pytest.fixture
def watched(team, settings):
    settings.HELIOX_BASE_URL = "https://heliox.example.com"
    return Budget.objects.create(team=team, amount_usd=Decimal("1000.00"), emails=["lead@example.com"],
                                 min_efficiency_pct=50, efficiency_days=7)  # fmt: skip


def test_a_team_under_its_efficiency_threshold_is_alerted_once_per_window(team, watched):
    day(team, date(2025, 11, 7), measured="10", used="0", waste="99.00")  # before the window
    day(team, date(2025, 11, 10), measured="10", used="2", waste="32.00")
    day(team, date(2025, 11, 12), measured="5", used="1", unmeasured="10", waste="16.40")
    day(team, date(2025, 11, 15), measured="15", used="1.5", waste="54.00")  # the day of the check: not full
    # Nov 8-14: used 3 of 15 measured GPU-hours = 20.0 % < 50 %; waste 32.00 + 16.40 = 48.40.
    (check,) = budgets_check(as_of=date(2025, 11, 15))

    assert check.efficiency.label() == "20.0% < 50% (waste $48.40)"
    (message,) = mail.outbox
    assert message.subject == "Heliox efficiency alert: nlp"
    assert message.body == (
        "Heliox: team nlp ran at 20.0% GPU efficiency from 2025-11-08 to 2025-11-14 (7 days), under its 50% "
        "threshold: 3.0 of 15.0 measured GPU-hours used, $48.40 of GPU time paid for and idle (waste); 10.0 "
        f"GPU-hours unmeasured (not counted). https://heliox.example.com/admin/dashboard/team/{team.pk}/"
    )
    alert = BudgetAlert.objects.get()
    assert (alert.kind, alert.threshold, alert.period_start, alert.spend_usd, alert.outcome) == (
        "efficiency",
        50,
        date(2025, 11, 8),
        Decimal("48.40"),
        "sent",
    )

    budgets_check(as_of=date(2025, 11, 15))  # the next hourly run: same window, sent already
    # Nov 9-15 is 4.5 / 30 = 15.0 %, still under, but its days overlap the window alerted.
    (next_day,) = budgets_check(as_of=date(2025, 11, 16))
    assert (next_day.efficiency.label(), next_day.due) == ("15.0% < 50% (waste $102.40)", [])
    assert (len(mail.outbox), BudgetAlert.objects.count()) == (1, 1)

    # A week later the window Nov 15-21 shares no day with Nov 8-14: 1.5 / 15 = 10.0 %, alerted again.
    budgets_check(as_of=date(2025, 11, 22))
    assert len(mail.outbox) == 2
    assert "ran at 10.0% GPU efficiency from 2025-11-15 to 2025-11-21" in mail.outbox[1].body
    assert "$54.00 of GPU time" in mail.outbox[1].body


def test_unmeasured_and_efficient_teams_are_not_alerted(team, watched):
    day(team, date(2025, 11, 10), measured="0", used="0", unmeasured="40")
    out = StringIO()
    call_command("check_budgets", "--date", "2025-11-15", stdout=out)
    assert "unmeasured" in out.getvalue()
    assert (mail.outbox, BudgetAlert.objects.count()) == ([], 0)

    day(team, date(2025, 11, 11), measured="10", used="5", waste="20.00")  # exactly 50.0 %: not under
    (check,) = budgets_check(as_of=date(2025, 11, 15))
    assert (check.efficiency.label(), check.due) == ("50.0% >= 50% (waste $20.00)", [])
    assert mail.outbox == []


def test_a_budget_without_threshold_has_no_efficiency_check(team):
    Budget.objects.create(team=team, amount_usd=Decimal("1000.00"), emails=["lead@example.com"])
    day(team, date(2025, 11, 10), measured="10", used="1", waste="36.00")
    (check,) = budgets_check(as_of=date(2025, 11, 15))
    assert (check.efficiency, check.due, mail.outbox) == (None, [], [])


def test_a_stored_threshold_out_of_bounds_makes_the_budget_invalid(team, watched):
    watched.min_efficiency_pct = 0  # as a hand-written row would be (the database refuses it)
    assert watched.stored_problem() == "min_efficiency_pct: not between 1 and 100 (0)."


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_efficiency_pct", 0), ("min_efficiency_pct", 101), ("min_efficiency_pct", "x"),
     ("efficiency_days", 0), ("efficiency_days", 32)],
)  # fmt: skip
def test_efficiency_settings_out_of_bounds_are_400_naming_the_field(org, api, field, value):
    body = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00", field: value}
    response = api.as_user(org["users"]["staff"]).post("/api/v1/budgets/", body, format="json")
    assert (response.status_code, list(response.json())) == (400, [field])


def test_efficiency_settings_through_the_api(org, api):
    body = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00", "min_efficiency_pct": 40,
            "efficiency_days": 14}  # fmt: skip
    created = api.as_user(org["users"]["staff"]).post("/api/v1/budgets/", body, format="json").json()
    assert (created["min_efficiency_pct"], created["efficiency_days"]) == (40, 14)
    url = f"/api/v1/budgets/{created['id']}/"
    off = api.as_user(org["users"]["staff"]).patch(url, {"min_efficiency_pct": None}, format="json").json()
    assert (off["min_efficiency_pct"], off["efficiency_days"]) == (None, 14)


def test_efficiency_of_many_budgets_takes_one_query_per_window_length(db, django_assert_num_queries):
    budgets = []
    for n, days in enumerate([7, 7, 14, 7]):
        team = TeamFactory(name=f"team-{n}")
        day(team, date(2025, 11, 10), measured="10", used=str(n + 1), waste="10.00")
        budgets.append(Budget.objects.create(team=team, amount_usd=Decimal("1000.00"), min_efficiency_pct=50,
                                             efficiency_days=days))  # fmt: skip
    with django_assert_num_queries(3):  # the 7-day and 14-day windows, then the recent efficiency alerts
        statuses = efficiency_statuses(budgets=budgets, as_of=date(2025, 11, 15))
    assert [statuses[b.pk].efficiency_pct for b in budgets] == [Decimal("10.0"), Decimal("20.0"), Decimal("30.0"),
                                                                Decimal("40.0")]  # fmt: skip
