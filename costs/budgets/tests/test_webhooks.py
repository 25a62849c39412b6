"""Budget webhooks: no internal addresses, a time budget per run, and recipients that only managers read."""

import socket
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.budgets.services.alerts import budgets_check
from costs.usage.tests.factories import UsageSnapshotFactory
from teams.tests.factories import TeamFactory

NOV = date(2025, 11, 1)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9000/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://metadata.example.com/hook", "metadata.example.com resolves to 169.254.169.254, a link-local address"),
        ("http://intranet.example.com/hook", "intranet.example.com resolves to 10.1.2.3, a private address"),
        ("https://nowhere.example.com/hook", "nowhere.example.com does not resolve"),
    ],
)
def test_a_manager_cannot_point_a_webhook_inside_the_network(org, api, url, message):
    body = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00", "webhook_urls": [url]}
    response = api.as_user(org["users"]["alice"]).post("/api/v1/budgets/", body, format="json")
    assert response.status_code == 400
    (error,) = response.json()["webhook_urls"]
    assert error.startswith(f"{url}: {message}")
    assert not Budget.objects.exists()


def test_public_and_allowed_internal_webhooks_are_accepted(org, api, settings):
    manager = api.as_user(org["users"]["alice"])
    body = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00",
            "webhook_urls": ["https://hooks.example.com/services/x"]}  # fmt: skip
    assert manager.post("/api/v1/budgets/", body, format="json").status_code == 201
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["intranet.example.com"]
    budget = Budget.objects.get()
    change = {"webhook_urls": ["http://intranet.example.com/hook"]}
    assert manager.patch(f"/api/v1/budgets/{budget.pk}/", change, format="json").status_code == 200


def test_the_admin_form_refuses_an_internal_webhook(org, staff_client):
    form = {"team": str(org["teams"]["nlp"].pk), "amount_usd": "100.00", "period": "monthly",
            "thresholds": "[50]", "emails": "[]", "webhook_urls": '["http://169.254.169.254/"]', "run_rate_days": "7",
            "efficiency_days": "7", "active": "on"}  # fmt: skip
    response = staff_client.post(reverse("admin:costs_budget_add"), form)
    assert "link-local" in str(response.context["adminform"].form.errors["webhook_urls"])
    assert not Budget.objects.exists()


def test_members_do_not_read_recipients_managers_and_staff_do(org, api):
    Budget.objects.create(team=org["teams"]["nlp"], amount_usd=Decimal("100.00"), emails=["lead@example.com"],
                          webhook_urls=["https://hooks.example.com/secret-token"])  # fmt: skip
    budget = Budget.objects.get()
    for user, sees in (("bob", False), ("alice", True), ("staff", True)):
        client = api.as_user(org["users"][user])
        for body in (client.get("/api/v1/budgets/").json()["results"][0],
                     client.get(f"/api/v1/budgets/{budget.pk}/").json()):  # fmt: skip
            assert ("emails" in body, "webhook_urls" in body) == (sees, sees), user
            assert "secret-token" not in str(body) or sees
            assert body["amount_usd"] == "100.00"


@pytest.fixture
def silent_port():
    """A webhook server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield listener.getsockname()[1]
    listener.close()


def test_a_run_stops_delivering_webhooks_when_its_time_budget_is_spent(db, silent_port, settings, capsys):
    # Three teams' budgets each alert three times to a webhook that never answers; the per-request
    # timeout alone (5 s) would take 45 s. The run's budget of 1 s holds, and e-mails all go out.
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.BUDGET_WEBHOOK_TIMEOUT, settings.BUDGET_WEBHOOK_RUN_SECONDS = 5.0, 1.0
    for name in ("nlp", "vision", "speech"):
        team = TeamFactory(name=name)
        for n in range(10):
            UsageSnapshotFactory(team=team, date=NOV + timedelta(days=n), allocated_usd=Decimal("85.00"))
        Budget.objects.create(team=team, amount_usd=Decimal("1000.00"), emails=[f"{name}@example.com"],
                              webhook_urls=[f"http://127.0.0.1:{silent_port}/{name}"])  # fmt: skip

    started = time.monotonic()
    call_command("check_budgets", "--date", "2025-11-10")
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    webhook = BudgetAlert.objects.filter(channel="webhook")
    assert list(webhook.values_list("outcome", flat=True)) == ["failed"]  # the first; the rest wait
    assert "no answer before the run's time budget ran out" in webhook.get().error
    assert BudgetAlert.objects.filter(channel="email", outcome="sent").count() == 9
    out = capsys.readouterr().out
    assert "nlp: 2 webhook alert(s) deferred to a later run (the URL failed 1 time(s) in a row" in out
    assert "vision: 3 webhook alert(s) deferred to a later run (BUDGET_WEBHOOK_RUN_SECONDS of this run" in out


def test_a_stored_webhook_that_now_resolves_inside_is_not_posted(db, fake_dns, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = []
    team = TeamFactory(name="nlp")
    for n in range(10):
        UsageSnapshotFactory(team=team, date=NOV + timedelta(days=n), allocated_usd=Decimal("85.00"))
    Budget.objects.create(team=team, amount_usd=Decimal("1000.00"), thresholds=[50],
                          webhook_urls=["https://hooks.example.com/x"])  # fmt: skip
    fake_dns["hooks.example.com"] = ["169.254.169.254"]
    (check,) = budgets_check(as_of=date(2025, 11, 10))
    (alert,) = check.failed
    assert alert.error.startswith("UnsafeURLError: hooks.example.com resolves to 169.254.169.254, a link-local")


def test_the_admin_lists_webhook_endpoints_and_their_back_off(db, staff_client):
    WebhookEndpoint.objects.create(url="https://hooks.example.com/x", failures=3, last_error="DeliveryError: HTTP 500",
                                   next_attempt_at=timezone.now() + timedelta(minutes=20))  # fmt: skip
    page = staff_client.get(reverse("admin:costs_webhookendpoint_changelist")).content.decode()
    assert "https://hooks.example.com/x" in page
    assert "DeliveryError: HTTP 500" in page
