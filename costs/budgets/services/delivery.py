"""Delivering one budget alert (an e-mail or a webhook POST): one try per task attempt.

`budgets_check` claims each due alert and sends the `budgets.deliver_alert` task for it. Each
try is one attempt of that task: a failure that may pass (a 5xx, a refused connection, a mail
server error) is tried again by a task retry after BUDGET_WEBHOOK_BACKOFF x 2^n seconds, up to
BUDGET_WEBHOOK_ATTEMPTS tries and never past the delivery's deadline; a timeout or an unsafe
address (heliox.net's SSRF guard, checked again at every try) is not tried again. The alert log
is written at every try (attempts, error; `pending` while a retry is due, then `sent` or
`failed`), and the webhook URL's health (WebhookEndpoint) when the delivery ends. A redelivered
task whose alert was sent does nothing.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from costs.budgets.models import BudgetAlert, WebhookEndpoint
from heliox.net import DeliveryError, UnsafeURLError, post_json


def webhook_endpoint_record(*, url: str, error: str) -> WebhookEndpoint:
    """A delivery to `url` ended: reset its failures, or count one more and back off (doubling, capped)."""
    row = WebhookEndpoint.objects.get_or_create(url=url)[0]
    if error:
        row.failures += 1
        pause = min(settings.BUDGET_WEBHOOK_RETRY_AFTER * 2 ** min(row.failures - 1, 32),
                    settings.BUDGET_WEBHOOK_RETRY_MAX)  # fmt: skip
        row.next_attempt_at, row.last_error = timezone.now() + timedelta(seconds=pause), error[:2000]
    else:
        row.failures, row.next_attempt_at, row.last_success_at = 0, None, timezone.now()
    row.save()
    return row


def _try(alert: BudgetAlert, message: str, seconds_left: float) -> tuple[str, bool]:
    """Deliver once; ('', _) when it went, else (error, whether another try may help)."""
    try:
        if alert.channel == "email":
            subject = "efficiency" if alert.kind == BudgetAlert.Kind.EFFICIENCY else "budget"
            send_mail(f"Heliox {subject} alert: {alert.budget.team.name}", message, None, alert.target.split(","))
        else:
            post_json(alert.target, {"text": message}, deadline=time.monotonic() + seconds_left)
    except UnsafeURLError as error:
        return f"UnsafeURLError: {error}", False
    except DeliveryError as error:
        return f"DeliveryError: {error}", not error.timed_out  # a timeout took its time already
    except Exception as error:  # noqa: BLE001 - any other failure (SMTP...) is logged and may pass
        return f"{type(error).__name__}: {error}", True
    return "", False


@transaction.atomic
def _save(alert: BudgetAlert, *, outcome: str, error: str) -> None:
    alert.outcome, alert.error = outcome, error[:2000]
    if outcome == BudgetAlert.Outcome.SENT:
        alert.sent_at = timezone.now()
    alert.save(update_fields=["outcome", "error", "sent_at", "attempts", "updated_at"])
    if alert.channel == "webhook" and outcome != BudgetAlert.Outcome.PENDING:
        webhook_endpoint_record(url=alert.target, error=error)


def budget_alert_deliver(*, alert_id: str, message: str, give_up_at: datetime, attempt: int) -> float | None:
    """One try of an alert's delivery (`attempt` tries came before). Returns the seconds to wait before the
    next try, or None when the delivery has ended (sent, failed, or nothing to do)."""
    alert = BudgetAlert.objects.select_related("budget__team").filter(pk=alert_id).first()
    if alert is None or alert.outcome != BudgetAlert.Outcome.PENDING:
        return None  # sent (a redelivered task), or given up and left for a later run
    seconds_left = (give_up_at - timezone.now()).total_seconds()
    if seconds_left <= 0:
        _save(alert, outcome=BudgetAlert.Outcome.FAILED, error=alert.error or "the delivery's deadline passed")
        return None
    alert.attempts += 1
    error, may_pass = _try(alert, message, seconds_left)  # heliox.net caps each POST at BUDGET_WEBHOOK_TIMEOUT
    if not error:
        _save(alert, outcome=BudgetAlert.Outcome.SENT, error="")
        return None
    pause = settings.BUDGET_WEBHOOK_BACKOFF * 2**attempt
    if may_pass and attempt + 1 < settings.BUDGET_WEBHOOK_ATTEMPTS and pause < seconds_left:
        _save(alert, outcome=BudgetAlert.Outcome.PENDING, error=error)
        return pause
    _save(alert, outcome=BudgetAlert.Outcome.FAILED, error=error)
    return None
