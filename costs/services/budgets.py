"""Checking budgets and alerting once per threshold and period, by e-mail and webhook."""

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from costs.models import Budget, BudgetAlert
from costs.selectors.budgets import EXCEEDED, BudgetStatus, budget_statuses

logger = logging.getLogger(__name__)
STALE_PENDING = timedelta(minutes=10)  # a run that died mid-send leaves "pending"; retry it after this


@dataclass
class BudgetCheck:
    status: BudgetStatus
    due: list[tuple[str, int]] = field(default_factory=list)  # (kind, threshold) this period
    sent: list[BudgetAlert] = field(default_factory=list)
    failed: list[BudgetAlert] = field(default_factory=list)


def _due(status: BudgetStatus) -> list[tuple[str, int]]:
    due = [(BudgetAlert.Kind.THRESHOLD, t) for t in status.crossed]
    if status.status != EXCEEDED and status.projected > status.budget.amount_usd:
        due.append((BudgetAlert.Kind.PROJECTED, 100))
    return due


def alert_message(status: BudgetStatus, kind: str, threshold: int) -> str:
    budget = status.budget
    period = f"{status.period_start:%B %Y}" if budget.period == Budget.Period.MONTHLY else (
        f"Q{(status.period_start.month - 1) // 3 + 1} {status.period_start.year}")  # fmt: skip
    head = (
        f"projected to exceed its budget: ${status.projected:,} by {status.period_end - timedelta(days=1)}"
        if kind == BudgetAlert.Kind.PROJECTED
        else f"crossed {threshold}% of its budget"
    )
    return (
        f"Heliox: team {budget.team.name} has {head}. Spent ${status.spent:,} of ${budget.amount_usd:,} "
        f"({status.percent}%) {budget.period} for {period}, as of {status.as_of}; run-rate ${status.run_rate:,}/day, "
        f"projected ${status.projected:,}. {settings.HELIOX_BASE_URL}/admin/dashboard/team/{budget.team_id}/"
    )


def _claim(status: BudgetStatus, kind: str, threshold: int, channel: str, target: str) -> BudgetAlert | None:
    """Take the alert for sending, or None if it was sent already or another run is sending it."""
    key = {"budget": status.budget, "period_start": status.period_start, "kind": kind, "threshold": threshold,
           "channel": channel, "target": target}  # fmt: skip
    try:
        with transaction.atomic():
            return BudgetAlert.objects.create(**key, outcome=BudgetAlert.Outcome.PENDING, spend_usd=status.spent)
    except IntegrityError:
        pass  # raised before (this run or a concurrent one): retry only a failure, and only once
    retry = Q(outcome=BudgetAlert.Outcome.FAILED) | Q(
        outcome=BudgetAlert.Outcome.PENDING, updated_at__lt=timezone.now() - STALE_PENDING
    )
    taken = BudgetAlert.objects.filter(retry, **key).update(
        outcome=BudgetAlert.Outcome.PENDING, updated_at=timezone.now()
    )
    return BudgetAlert.objects.get(**key) if taken else None


def post_webhook(url: str, payload: dict) -> None:
    """POST JSON, retrying with exponential back-off; raises the last error."""
    body = json.dumps(payload).encode()
    error: Exception | None = None
    for attempt in range(settings.BUDGET_WEBHOOK_ATTEMPTS):
        if attempt:
            time.sleep(settings.BUDGET_WEBHOOK_BACKOFF * 2 ** (attempt - 1))
        # The URL was validated as http(s) when the budget was saved (Budget.clean).
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.BUDGET_WEBHOOK_TIMEOUT) as response:  # noqa: S310
                if 200 <= response.status < 300:
                    return
                error = RuntimeError(f"HTTP {response.status}")
        except (urllib.error.URLError, TimeoutError, OSError) as failure:
            error = failure
    raise error or RuntimeError("no attempt made")


def _deliver(alert: BudgetAlert, message: str) -> bool:
    alert.attempts += 1
    try:
        if alert.channel == "email":
            send_mail(f"Heliox budget alert: {alert.budget.team.name}", message, None, alert.target.split(","))
        else:
            post_webhook(alert.target, {"text": message})
    except Exception as error:  # noqa: BLE001 - any delivery failure is logged and retried next run
        alert.outcome, alert.error = BudgetAlert.Outcome.FAILED, f"{type(error).__name__}: {error}"[:2000]
        logger.warning("budget alert %s via %s failed: %s", alert.pk, alert.channel, alert.error)
    else:
        alert.outcome, alert.error, alert.sent_at = BudgetAlert.Outcome.SENT, "", timezone.now()
    alert.save(update_fields=["outcome", "error", "sent_at", "attempts", "updated_at"])
    return alert.outcome == BudgetAlert.Outcome.SENT


def budgets_check(*, as_of: date, dry_run: bool = False) -> list[BudgetCheck]:
    """Evaluate every active budget on `as_of` and send the alerts that are due (none when dry_run).

    Each (budget, period, threshold, channel) alerts once; a failed delivery is
    retried on the next run; one channel failing never stops the others.
    """
    budgets = Budget.objects.filter(active=True).select_related("team")
    checks = [BudgetCheck(status, _due(status)) for status in budget_statuses(budgets=budgets, as_of=as_of)]
    if dry_run:
        return checks
    for check in checks:
        budget = check.status.budget
        channels = ([("email", ",".join(budget.emails))] if budget.emails else []) + [
            ("webhook", url) for url in budget.webhook_urls
        ]
        for kind, threshold in check.due:
            message = alert_message(check.status, kind, threshold)
            for channel, target in channels:
                alert = _claim(check.status, kind, threshold, channel, target)
                if alert is not None:
                    (check.sent if _deliver(alert, message) else check.failed).append(alert)
    return checks
