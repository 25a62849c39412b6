"""Checking budgets and alerting once per threshold and period, by e-mail and webhook."""

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from costs.budgets.efficiency import EfficiencyStatus, efficiency_statuses
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
    efficiency: EfficiencyStatus | None = None  # None: no efficiency threshold (or an invalid budget)


def _due(status: BudgetStatus) -> list[tuple[str, int]]:
    assert status.projected is not None  # a valid budget's figures
    due: list[tuple[str, int]] = [(BudgetAlert.Kind.THRESHOLD, t) for t in status.crossed]
    if status.status != EXCEEDED and status.projected > status.budget.amount_usd:
        due.append((BudgetAlert.Kind.PROJECTED, 100))
    return due


def _efficiency_due(efficiency: EfficiencyStatus | None) -> list[tuple[str, int]]:
    """The efficiency alert, when the window is under the threshold and no alert covered any of its days."""
    if efficiency is None or not efficiency.below:
        return []
    assert efficiency.budget.min_efficiency_pct is not None  # below implies a threshold
    return [] if efficiency.covered else [(BudgetAlert.Kind.EFFICIENCY, efficiency.budget.min_efficiency_pct)]


def efficiency_message(efficiency: EfficiencyStatus) -> str:
    budget, last = efficiency.budget, efficiency.end - timedelta(days=1)
    unmeasured = (f"; {efficiency.unmeasured_gpu_hours:,.1f} GPU-hours unmeasured (not counted)"
                  if efficiency.unmeasured_gpu_hours else "")  # fmt: skip
    return (
        f"Heliox: team {budget.team.name} ran at {efficiency.efficiency_pct}% GPU efficiency from {efficiency.start} "
        f"to {last} ({budget.efficiency_days} days), under its {budget.min_efficiency_pct}% threshold: "
        f"{efficiency.used_gpu_hours:,.1f} of {efficiency.measured_gpu_hours:,.1f} measured GPU-hours used, "
        f"${efficiency.waste_usd:,} of GPU time paid for and idle (waste){unmeasured}. "
        f"{settings.HELIOX_BASE_URL}/admin/dashboard/team/{budget.team_id}/"
    )


def _alert_of(check: BudgetCheck, kind: str, threshold: int) -> tuple[str, date, Decimal]:
    """The message of a due alert, the first day it is deduplicated on and the amount it logs."""
    if kind == BudgetAlert.Kind.EFFICIENCY:
        assert check.efficiency is not None
        return efficiency_message(check.efficiency), check.efficiency.start, check.efficiency.waste_usd
    assert check.status.period_start is not None  # a valid budget's figures
    assert check.status.spent is not None
    return alert_message(check.status, kind, threshold), check.status.period_start, check.status.spent


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


def _claim(key: dict, amount: Decimal) -> BudgetAlert | None:
    """Take the alert (budget, period_start, kind, threshold, channel, target) for sending, or None if it was
    sent already or another run is sending it."""
    try:
        with transaction.atomic():
            return BudgetAlert.objects.create(**key, outcome=BudgetAlert.Outcome.PENDING, spend_usd=amount)
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
    budgets = list(Budget.objects.filter(active=True).select_related("team"))
    efficiency = efficiency_statuses(budgets=budgets, as_of=as_of)
    checks = []
    for status in budget_statuses(budgets=budgets, as_of=as_of):
        check = BudgetCheck(status, efficiency=efficiency.get(status.budget.pk))
        if status.status != INVALID:
            check.due = _due(status) + _efficiency_due(check.efficiency)
        checks.append(check)
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
            message, period_start, amount = _alert_of(check, kind, threshold)
            for channel, target in channels:
                if channel == "webhook":
                    why = endpoints.waiting(target) or (
                        "" if time.monotonic() < deadline else "BUDGET_WEBHOOK_RUN_SECONDS of this run are spent"
                    )
                    if why:
                        check.deferred.append((kind, threshold, why))
                        continue
                alert = _claim({"budget": budget, "period_start": period_start, "kind": kind, "threshold": threshold,
                                "channel": channel, "target": target}, amount)  # fmt: skip
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
