"""Checking budgets and alerting once per threshold and period, by e-mail and webhook."""

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.budgets.selectors import EXCEEDED, INVALID, BudgetStatus, budget_statuses

logger = logging.getLogger(__name__)
STALE_PENDING = timedelta(minutes=10)  # a run that died mid-send leaves "pending"; retry it after this


@dataclass
class BudgetCheck:
    status: BudgetStatus
    due: list[tuple[str, int]] = field(default_factory=list)  # (kind, threshold) this period
    sent: list[BudgetAlert] = field(default_factory=list)
    failed: list[BudgetAlert] = field(default_factory=list)
    deferred: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, threshold, why) left for a later run
    queued: list[BudgetAlert] = field(default_factory=list)  # sent to a worker, delivery under way


def _due(status: BudgetStatus) -> list[tuple[str, int]]:
    assert status.projected is not None  # a valid budget's figures
    due: list[tuple[str, int]] = [(BudgetAlert.Kind.THRESHOLD, t) for t in status.crossed]
    if status.status != EXCEEDED and status.projected > status.budget.amount_usd:
        due.append((BudgetAlert.Kind.PROJECTED, 100))
    return due


def alert_message(status: BudgetStatus, kind: str, threshold: int) -> str:
    budget = status.budget
    assert status.period_start is not None  # a valid budget's figures
    assert status.period_end is not None
    period = f"{status.period_start:%B %Y}" if budget.period == Budget.Period.MONTHLY else (
        f"Q{(status.period_start.month - 1) // 3 + 1} {status.period_start.year}")  # fmt: skip
    head = (
        f"is projected to exceed its budget: ${status.projected:,} by {status.period_end - timedelta(days=1)}"
        if kind == BudgetAlert.Kind.PROJECTED
        else f"has crossed {threshold}% of its budget"
    )
    return (
        f"Heliox: team {budget.team.name} {head}. Spent ${status.spent:,} of ${budget.amount_usd:,} "
        f"({status.percent}%) {budget.period} for {period}, as of {status.as_of}; run-rate ${status.run_rate:,}/day, "
        f"projected ${status.projected:,}. {settings.HELIOX_BASE_URL}/admin/dashboard/team/{budget.team_id}/"
    )


def _claim(status: BudgetStatus, kind: str, threshold: int, channel: str, target: str) -> BudgetAlert | None:
    assert status.spent is not None
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


class _Endpoints:
    """The webhook URLs' delivery records: which may be tried now, and what each delivery did to them."""

    def __init__(self, urls: set[str], now: datetime) -> None:
        self.now = now
        self.rows = {row.url: row for row in WebhookEndpoint.objects.filter(url__in=urls)}

    def waiting(self, url: str) -> str:
        """Why `url` is not tried in this run ('' when it may be)."""
        row = self.rows.get(url)
        if row and row.next_attempt_at and row.next_attempt_at > self.now:
            return (f"the URL failed {row.failures} time(s) in a row; "
                    f"next try after {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
        return ""

    def refresh(self, url: str) -> None:
        """Read the URL's health again (a delivery that ended in this process wrote it)."""
        row = WebhookEndpoint.objects.filter(url=url).first()
        if row is not None:
            self.rows[url] = row


def _send(alert: BudgetAlert, message: str, *, give_up_at: datetime) -> str:
    """Send the alert's delivery task; the alert's outcome after it (embedded, the delivery has run: sent or
    failed; on workers: pending)."""
    from costs.budgets.tasks import deliver_alert  # the task calls this domain's services

    deliver_alert.delay(str(alert.pk), message, give_up_at.isoformat())
    alert.refresh_from_db(fields=["outcome", "error", "attempts", "sent_at"])
    return alert.outcome


def _delivery_deadline(channel: str, run_ends: datetime) -> datetime:
    """When a delivery gives up. Embedded, a webhook has what is left of the run's BUDGET_WEBHOOK_RUN_SECONDS (the
    run waits for it). Otherwise (an e-mail, or any delivery on a worker) BUDGET_ALERT_DEADLINE_SECONDS from now,
    at most 9 minutes: a pending alert is claimed again by a later run after 10."""
    if settings.CELERY_TASK_ALWAYS_EAGER and channel == "webhook":
        return run_ends
    seconds = min(settings.BUDGET_ALERT_DEADLINE_SECONDS, STALE_PENDING.total_seconds() - 60)
    return timezone.now() + timedelta(seconds=seconds)


def budgets_check(*, as_of: date, dry_run: bool = False) -> list[BudgetCheck]:
    """Evaluate every active budget on `as_of` and send the alerts that are due (none when dry_run).

    Each (budget, period, threshold, channel) alerts once; a failed delivery is
    retried on a later run; one channel failing never stops the others. An invalid
    budget (status `invalid`) is reported and skipped; the others are checked as
    usual. Webhook deliveries share BUDGET_WEBHOOK_RUN_SECONDS; a URL that keeps
    failing is skipped until its back-off ends. What is not tried is `deferred`.
    """
    budgets = Budget.objects.filter(active=True).select_related("team")
    checks = [BudgetCheck(status, _due(status) if status.status != INVALID else [])
              for status in budget_statuses(budgets=budgets, as_of=as_of)]  # fmt: skip
    if dry_run:
        return checks
    deadline = time.monotonic() + settings.BUDGET_WEBHOOK_RUN_SECONDS
    run_ends = timezone.now() + timedelta(seconds=settings.BUDGET_WEBHOOK_RUN_SECONDS)
    endpoints = _Endpoints({url for check in checks if check.due for url in check.status.budget.webhook_urls},
                           timezone.now())  # fmt: skip
    for check in checks:
        budget = check.status.budget
        channels = ([("email", ",".join(budget.emails))] if budget.emails else []) + [
            ("webhook", url) for url in budget.webhook_urls
        ]
        for kind, threshold in check.due:
            message = alert_message(check.status, kind, threshold)
            for channel, target in channels:
                if channel == "webhook":
                    why = endpoints.waiting(target) or (
                        "" if time.monotonic() < deadline else "BUDGET_WEBHOOK_RUN_SECONDS of this run are spent"
                    )
                    if why:
                        check.deferred.append((kind, threshold, why))
                        continue
                alert = _claim(check.status, kind, threshold, channel, target)
                if alert is None:
                    continue
                outcome = _send(alert, message, give_up_at=_delivery_deadline(channel, run_ends))
                if outcome == BudgetAlert.Outcome.SENT:
                    check.sent.append(alert)
                elif outcome == BudgetAlert.Outcome.FAILED:
                    check.failed.append(alert)
                else:
                    check.queued.append(alert)
                if channel == "webhook":
                    endpoints.refresh(target)
    return checks


def budgets_check_today() -> dict[str, int]:
    """The hourly beat task: `budgets_check` for today (UTC); counts of alerts sent, failed, queued, deferred."""
    checks = budgets_check(as_of=timezone.now().date())
    return {
        "budgets": len(checks),
        "sent": sum(len(check.sent) for check in checks),
        "failed": sum(len(check.failed) for check in checks),
        "queued": sum(len(check.queued) for check in checks),
        "deferred": sum(len(check.deferred) for check in checks),
    }
