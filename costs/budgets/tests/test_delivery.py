"""Each alert delivery is its own task: a try per attempt, retried with exponential back-off, a deadline."""

import json
from datetime import date, timedelta

import redis
from django.core import mail
from django.utils import timezone

from costs.budgets.models import BudgetAlert, WebhookEndpoint
from costs.budgets.services.alerts import budgets_check
from costs.budgets.services.delivery import budget_alert_deliver
from costs.budgets.tests.test_budgets import NOV, Hook, budget, daily_spend
from ops.models import TaskRun


def _alert(team, url: str) -> BudgetAlert:
    return BudgetAlert.objects.create(
        budget=budget(team, url, thresholds=[50]), period_start=NOV, kind="threshold", threshold=50,
        channel="webhook", target=url, outcome="pending", spend_usd=0,
    )  # fmt: skip


def test_a_failed_try_is_logged_and_asks_for_a_retry_after_a_doubling_pause(team, webhook, settings):
    settings.BUDGET_WEBHOOK_ATTEMPTS, settings.BUDGET_WEBHOOK_BACKOFF = 3, 2.0
    alert, Hook.mode = _alert(team, webhook), 500
    later = timezone.now() + timedelta(seconds=60)

    pauses = [budget_alert_deliver(alert_id=str(alert.pk), message="m", give_up_at=later, attempt=n) for n in range(3)]

    assert pauses == [2.0, 4.0, None]  # then it gives up: BUDGET_WEBHOOK_ATTEMPTS tries
    alert.refresh_from_db()
    assert (alert.outcome, alert.attempts) == ("failed", 3)
    assert alert.error.startswith("DeliveryError: ")
    assert "500" in alert.error
    assert len(Hook.received) == 3
    assert WebhookEndpoint.objects.get(url=webhook).failures == 1  # one delivery that failed, not three


def test_a_retry_that_would_end_past_the_deadline_is_not_asked_for(team, webhook, settings):
    settings.BUDGET_WEBHOOK_ATTEMPTS, settings.BUDGET_WEBHOOK_BACKOFF = 5, 30.0
    alert, Hook.mode = _alert(team, webhook), 500
    soon = timezone.now() + timedelta(seconds=10)
    assert budget_alert_deliver(alert_id=str(alert.pk), message="m", give_up_at=soon, attempt=0) is None
    assert BudgetAlert.objects.get().outcome == "failed"

    BudgetAlert.objects.update(outcome="pending")
    past = timezone.now() - timedelta(seconds=1)
    assert budget_alert_deliver(alert_id=str(alert.pk), message="m", give_up_at=past, attempt=1) is None
    assert len(Hook.received) == 1  # past its deadline, nothing is posted


def test_a_sent_alert_is_not_sent_again_by_a_redelivered_task(team, webhook):
    alert = _alert(team, webhook)
    later = timezone.now() + timedelta(seconds=60)
    assert budget_alert_deliver(alert_id=str(alert.pk), message="m", give_up_at=later, attempt=0) is None
    assert budget_alert_deliver(alert_id=str(alert.pk), message="m", give_up_at=later, attempt=0) is None
    assert (len(Hook.received), BudgetAlert.objects.get().outcome) == (1, "sent")


def test_the_check_sends_one_task_per_delivery_and_its_retries_are_task_retries(team, webhook, settings):
    settings.BUDGET_WEBHOOK_ATTEMPTS = 3
    daily_spend(team, NOV, 10, "55.00")
    budget(team, webhook, thresholds=[50])
    answers = iter([500, 500, 200])

    def flaky(self):
        Hook.mode = next(answers, 200)
        original(self)

    original, Hook.do_POST = Hook.do_POST, flaky
    try:
        [check] = budgets_check(as_of=date(2025, 11, 10))
    finally:
        Hook.do_POST = original

    assert (len(check.sent), len(check.failed)) == (4, 0)  # threshold and projected, by e-mail and by webhook
    webhook_alert = BudgetAlert.objects.get(channel="webhook", kind="threshold")
    assert (webhook_alert.outcome, webhook_alert.attempts) == ("sent", 3)
    runs = TaskRun.objects.filter(name="budgets.deliver_alert")
    assert sorted(runs.values_list("state", "attempts")) == [("succeeded", 1)] * 3 + [("succeeded", 3)]
    assert len(mail.outbox) == 2


def test_with_a_broker_the_check_queues_the_deliveries(team, celery_broker, redis_server):
    daily_spend(team, NOV, 10, "85.00")
    budget(team)

    [check] = budgets_check(as_of=date(2025, 11, 10))

    assert (len(check.sent), len(check.failed), len(check.queued)) == (0, 0, 3)
    assert set(BudgetAlert.objects.values_list("outcome", flat=True)) == {"pending"}
    messages = redis.Redis(port=redis_server.port).lrange("celery", 0, -1)
    assert [json.loads(m)["headers"]["task"] for m in messages] == ["budgets.deliver_alert"] * 3
    assert mail.outbox == []
