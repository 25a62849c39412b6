"""Budgets: spend, projection, statuses, alerts once per threshold and period, webhook failures retried."""

import http.server
import json
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.budgets.selectors import budget_period, budget_statuses
from costs.budgets.services.alerts import budgets_check
from costs.usage.tests.factories import UsageSnapshotFactory
from heliox.testing import run_concurrently
from teams.tests.factories import TeamFactory

NOV = date(2025, 11, 1)


class Hook(http.server.BaseHTTPRequestHandler):
    """A local webhook: answers `mode` (200, 500, or sleeps past the timeout) and records bodies."""

    mode, received = 200, []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Hook.mode == "slow":
            time.sleep(1)
        Hook.received.append(json.loads(body))
        self.send_response(500 if Hook.mode == 500 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    settings.BUDGET_WEBHOOK_TIMEOUT, settings.BUDGET_WEBHOOK_ATTEMPTS, settings.BUDGET_WEBHOOK_BACKOFF = 0.3, 2, 0.01
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the test's server is on loopback
    Hook.mode, Hook.received = 200, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def daily_spend(team, start: date, days: int, usd: str) -> None:
    for n in range(days):
        UsageSnapshotFactory(team=team, date=start + timedelta(days=n), allocated_usd=Decimal(usd),
                             estimated_cost_usd=Decimal(usd))  # fmt: skip


@pytest.fixture
def team(db):
    return TeamFactory(name="nlp")


def budget(team, webhook_url=None, **kwargs) -> Budget:
    return Budget.objects.create(
        team=team, amount_usd=Decimal("1000.00"), emails=["lead@example.com"],
        webhook_urls=[webhook_url] if webhook_url else [], **kwargs,
    )  # fmt: skip


def test_periods():
    assert budget_period("monthly", date(2025, 11, 10)) == (date(2025, 11, 1), date(2025, 12, 1))
    assert budget_period("monthly", date(2025, 12, 31)) == (date(2025, 12, 1), date(2026, 1, 1))
    assert budget_period("quarterly", date(2025, 11, 10)) == (date(2025, 10, 1), date(2026, 1, 1))
    assert budget_period("quarterly", date(2026, 2, 28)) == (date(2026, 1, 1), date(2026, 4, 1))


def test_projection_on_a_hand_built_month(team):
    # $40 a day on Nov 1-10; the 7-day run-rate is $40/day; 20 days remain: 400 + 800 = 1,200.
    daily_spend(team, NOV, 10, "40.00")
    daily_spend(team, NOV - timedelta(days=3), 3, "999.00")  # October: another period
    (status,) = budget_statuses(budgets=[budget(team)], as_of=date(2025, 11, 10))
    assert (status.spent, status.run_rate, status.projected, status.percent) == (
        Decimal("400.00"), Decimal("40.00"), Decimal("1200.00"), Decimal("40.0"),
    )  # fmt: skip
    assert (status.status, status.crossed) == ("projected-overrun", [])


def test_statuses(team):
    other = TeamFactory(name="vision")
    # 550 by Nov 29 with a 30-day run-rate (550 / 29 a day, one day left): projected 568.97, so a warning only
    daily_spend(team, NOV, 5, "110.00")
    daily_spend(other, NOV, 10, "120.00")  # 1,200: exceeded
    statuses = budget_statuses(budgets=[budget(team, run_rate_days=30), budget(other)], as_of=date(2025, 11, 29))
    assert [(s.budget.team.name, s.spent, s.status, s.crossed) for s in statuses] == [
        ("nlp", Decimal("550.00"), "warning", [50]),
        ("vision", Decimal("1200.00"), "exceeded", [50, 80, 100]),
    ]


def test_thresholds_alert_once_per_period_by_email_and_webhook(team, webhook):
    daily_spend(team, NOV, 10, "85.00")  # 850: 50 % and 80 % crossed; projected 850 + 85 x 20 = 2,550
    budget(team, webhook)

    budgets_check(as_of=date(2025, 11, 10))
    budgets_check(as_of=date(2025, 11, 10))

    alerts = sorted(BudgetAlert.objects.values_list("kind", "threshold", "channel", "outcome"))
    assert alerts == [
        ("projected", 100, "email", "sent"), ("projected", 100, "webhook", "sent"),
        ("threshold", 50, "email", "sent"), ("threshold", 50, "webhook", "sent"),
        ("threshold", 80, "email", "sent"), ("threshold", 80, "webhook", "sent"),
    ]  # fmt: skip
    assert len(mail.outbox) == 3
    assert mail.outbox[0].to == ["lead@example.com"]
    assert len(Hook.received) == 3
    assert "team nlp has crossed 50% of its budget" in Hook.received[0]["text"]


def test_a_projected_overrun_alert_reads_is_projected_to_exceed_and_links_to_the_base_url(team, settings):
    settings.HELIOX_BASE_URL = "https://heliox.example.com"
    daily_spend(team, NOV, 10, "85.00")
    budget(team, None)

    budgets_check(as_of=date(2025, 11, 10))

    projected = next(m for m in mail.outbox if "projected to exceed" in m.body)
    assert projected.body.startswith(
        "Heliox: team nlp is projected to exceed its budget: $2,550.00 by 2025-11-30. Spent $850.00 of $1,000.00"
    )
    assert f"https://heliox.example.com/admin/dashboard/team/{team.pk}/" in projected.body


def test_a_new_period_resets_the_thresholds(team):
    daily_spend(team, NOV, 10, "60.00")
    daily_spend(team, date(2025, 12, 1), 2, "300.00")
    budget(team)
    budgets_check(as_of=date(2025, 11, 10))
    budgets_check(as_of=date(2025, 12, 2))
    assert sorted(BudgetAlert.objects.filter(kind="threshold").values_list("period_start", "threshold")) == [
        (date(2025, 11, 1), 50),
        (date(2025, 12, 1), 50),
    ]


def test_quarterly_budget_spans_three_months(team):
    daily_spend(team, date(2025, 10, 1), 31, "10.00")
    daily_spend(team, NOV, 10, "20.00")
    (status,) = budget_statuses(budgets=[budget(team, period="quarterly")], as_of=date(2025, 11, 10))
    assert (status.period_start, status.period_end, status.spent) == (date(2025, 10, 1), date(2026, 1, 1),
                                                                      Decimal("510.00"))  # fmt: skip
    assert status.crossed == [50]


@pytest.mark.parametrize("mode", [500, "slow"])
def test_a_failing_webhook_is_logged_backed_off_across_runs_and_does_not_block_email(team, webhook, mode, settings):
    daily_spend(team, NOV, 10, "55.00")  # 550: only the 50 % threshold; projected 1,650
    budget(team, webhook, thresholds=[50])
    Hook.mode = mode

    checks = budgets_check(as_of=date(2025, 11, 10))

    assert len(mail.outbox) == 2  # threshold + projected overrun, by e-mail
    alerts = BudgetAlert.objects.filter(channel="webhook")
    # Each try is a task attempt, logged: a 500 is tried again (BUDGET_WEBHOOK_ATTEMPTS = 2), a timeout is not.
    tries = 2 if mode == 500 else 1
    assert list(alerts.values_list("kind", "outcome", "attempts")) == [("threshold", "failed", tries)]
    assert alerts.get().error
    # The second alert to the same URL is not tried in this run: the URL just failed.
    assert [(kind, why.split(";")[0]) for kind, _, why in checks[0].deferred] == [
        ("projected", "the URL failed 1 time(s) in a row")
    ]
    endpoint = WebhookEndpoint.objects.get(url=webhook)
    assert endpoint.failures == 1
    assert endpoint.next_attempt_at > timezone.now() + timedelta(seconds=290)

    Hook.mode, posts = 200, len(Hook.received)
    checks = budgets_check(as_of=date(2025, 11, 10))  # within the back-off: nothing is tried
    assert (len(checks[0].sent), len(checks[0].failed), len(checks[0].deferred)) == (0, 0, 2)
    assert len(Hook.received) == posts

    WebhookEndpoint.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    budgets_check(as_of=date(2025, 11, 10))
    assert sorted(alerts.values_list("kind", "outcome", "attempts")) == [("projected", "sent", 1),
                                                                          ("threshold", "sent", tries + 1)]  # fmt: skip
    assert len(mail.outbox) == 2  # not sent again
    endpoint.refresh_from_db()
    assert (endpoint.failures, endpoint.next_attempt_at, endpoint.last_success_at is not None) == (0, None, True)


def test_the_back_off_doubles_with_each_failure_up_to_the_maximum(team, webhook, settings):
    settings.BUDGET_WEBHOOK_RETRY_AFTER, settings.BUDGET_WEBHOOK_RETRY_MAX = 100, 300
    daily_spend(team, NOV, 10, "55.00")
    budget(team, webhook, thresholds=[50])
    Hook.mode = 500
    pauses = []
    for _ in range(4):
        WebhookEndpoint.objects.update(next_attempt_at=None)
        before = timezone.now()
        budgets_check(as_of=date(2025, 11, 10))
        pauses.append(round((WebhookEndpoint.objects.get().next_attempt_at - before).total_seconds(), -1))
    assert pauses == [100, 200, 300, 300]


def test_check_budgets_command_prints_a_table_and_dry_run_sends_nothing(team, capsys):
    daily_spend(team, NOV, 10, "85.00")
    budget(team)
    call_command("check_budgets", "--date", "2025-11-10", "--dry-run")
    out = capsys.readouterr().out
    assert "nlp   2025-11-01..2025-12-01  1,000.00  850.00  85.0  2,550.00   projected-overrun" in out
    assert "threshold 50%, threshold 80%, projected 100%" in out
    assert BudgetAlert.objects.count() == 0
    assert mail.outbox == []
    call_command("check_budgets", "--date", "2025-11-10")
    assert "3 sent, 0 failed" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_send_each_alert_once(postgres_only, settings):
    team = TeamFactory(name="nlp")
    daily_spend(team, NOV, 10, "85.00")
    budget(team)
    errors = run_concurrently(lambda: budgets_check(as_of=date(2025, 11, 10)), threads=4)
    assert errors == []
    assert BudgetAlert.objects.count() == 3
    assert len(mail.outbox) == 3
