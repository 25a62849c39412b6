"""Checking budgets and alerting once per threshold and period, by e-mail and webhook."""

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.budgets.selectors import EXCEEDED, INVALID, BudgetStatus, budget_statuses
from heliox.net import DeliveryError, UnsafeURLError, post_json

logger = logging.getLogger(__name__)
STALE_PENDING = timedelta(minutes=10)  # a run that died mid-send leaves "pending"; retry it after this


@dataclass
class BudgetCheck:
    status: BudgetStatus
    due: list[tuple[str, int]] = field(default_factory=list)  # (kind, threshold) this period
    sent: list[BudgetAlert] = field(default_factory=list)
    failed: list[BudgetAlert] = field(default_factory=list)
    deferred: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, threshold, why) left for a later run


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


def post_webhook(url: str, payload: dict, *, deadline: float) -> None:
    """POST JSON to a checked, pinned address, retrying quick failures with exponential back-off.

    A timeout is not tried again (it already took its time), and nothing runs past
    `deadline` (time.monotonic()). Raises the last error.
    """
    error: Exception = DeliveryError("no attempt made")
    for attempt in range(max(settings.BUDGET_WEBHOOK_ATTEMPTS, 1)):
        if attempt:
            pause = settings.BUDGET_WEBHOOK_BACKOFF * 2 ** (attempt - 1)
            if time.monotonic() + pause >= deadline:
                raise error
            time.sleep(pause)
        try:
            post_json(url, payload, deadline=deadline)
            return
        except UnsafeURLError:
            raise
        except DeliveryError as failure:
            error = failure
            if failure.timed_out:
                raise
    raise error


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

    def record(self, url: str, error: str) -> None:
        row = self.rows.get(url) or WebhookEndpoint.objects.get_or_create(url=url)[0]
        self.rows[url] = row
        if error:
            row.failures += 1
            pause = min(settings.BUDGET_WEBHOOK_RETRY_AFTER * 2 ** min(row.failures - 1, 32),
                        settings.BUDGET_WEBHOOK_RETRY_MAX)  # fmt: skip
            row.next_attempt_at, row.last_error = timezone.now() + timedelta(seconds=pause), error[:2000]
        else:
            row.failures, row.next_attempt_at, row.last_success_at = 0, None, timezone.now()
        row.save()


def _deliver(alert: BudgetAlert, message: str, *, deadline: float) -> bool:
    alert.attempts += 1
    try:
        if alert.channel == "email":
            send_mail(f"Heliox budget alert: {alert.budget.team.name}", message, None, alert.target.split(","))
        else:
            post_webhook(alert.target, {"text": message}, deadline=deadline)
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
                delivered = _deliver(alert, message, deadline=deadline)
                (check.sent if delivered else check.failed).append(alert)
                if channel == "webhook":
                    endpoints.record(target, "" if delivered else alert.error)
    return checks
