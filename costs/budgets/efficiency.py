"""A budget's efficiency alert: the team's GPU efficiency over the last N full days, from the rollup.

Efficiency = used / measured GPU-hours (costs.usage.selectors.efficiency); waste = the measured
jobs' idle cost. Unmeasured GPU-hours are counted apart: a window with none measured is
"unmeasured" (unknown), never 0 % and never alerted. One query per distinct window length.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from costs.billing.money import ZERO, to_cents
from costs.budgets.models import MAX_EFFICIENCY_DAYS, Budget, BudgetAlert
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.efficiency import efficiency_pct

UNMEASURED = "unmeasured"


@dataclass
class EfficiencyStatus:
    """A team's efficiency over [start, end) (the N full days before the check) against a budget's threshold."""

    budget: Budget
    start: date
    end: date
    used_gpu_hours: Decimal
    measured_gpu_hours: Decimal
    unmeasured_gpu_hours: Decimal
    waste_usd: Decimal
    alerted: set[date] = field(default_factory=set)  # first days of the windows alerted lately

    @property
    def covered(self) -> bool:
        """An alert of another window that shares a day with this one was raised: not alerted again.
        (This window's own alert is deduplicated, and retried, by the alert log's unique key.)"""
        days = timedelta(days=self.budget.efficiency_days)
        return any(self.start - days < start < self.start + days and start != self.start for start in self.alerted)

    @property
    def efficiency_pct(self) -> Decimal | None:
        return efficiency_pct(used_gpu_hours=self.used_gpu_hours, measured_gpu_hours=self.measured_gpu_hours)

    @property
    def below(self) -> bool:
        """Under the threshold, with something measured (an unmeasured window never alerts)."""
        pct, threshold = self.efficiency_pct, self.budget.min_efficiency_pct
        return pct is not None and threshold is not None and pct < threshold

    def label(self) -> str:
        pct = self.efficiency_pct
        if pct is None:
            return UNMEASURED
        under = "<" if self.below else ">="
        return f"{pct}% {under} {self.budget.min_efficiency_pct}% (waste ${self.waste_usd:,})"


def efficiency_statuses(*, budgets: Iterable[Budget], as_of: date) -> dict[object, EfficiencyStatus]:
    """Per budget with an efficiency threshold (and valid stored values): its team's figures over the
    `efficiency_days` full days before `as_of` (as_of itself, still running, is left out)."""
    budgets = [b for b in budgets if b.min_efficiency_pct is not None and not b.stored_problem()]
    teams_by_days: dict[int, set] = defaultdict(set)
    for budget in budgets:
        teams_by_days[budget.efficiency_days].add(budget.team_id)
    sums: dict[tuple[int, object], dict] = {}
    for days, teams in teams_by_days.items():
        rows = (
            UsageSnapshot.objects.between(as_of - timedelta(days=days), as_of)
            .for_teams(teams)
            .values("team_id")
            .annotate(
                used=Sum("used_gpu_hours"),
                measured=Sum("measured_gpu_hours"),
                unmeasured=Sum("unmeasured_gpu_hours"),
                waste=Sum("waste_usd"),
            )
            .order_by()
        )
        sums.update({(days, row["team_id"]): row for row in rows})
    statuses: dict[object, EfficiencyStatus] = {}
    for budget in budgets:
        row = sums.get((budget.efficiency_days, budget.team_id), {})
        statuses[budget.pk] = EfficiencyStatus(
            budget, as_of - timedelta(days=budget.efficiency_days), as_of,
            Decimal(row.get("used") or ZERO), Decimal(row.get("measured") or ZERO),
            Decimal(row.get("unmeasured") or ZERO), to_cents(Decimal(row.get("waste") or ZERO)),
        )  # fmt: skip
    if any(status.below for status in statuses.values()):  # one query for every budget's recent alerts
        for budget_id, start in BudgetAlert.objects.filter(
            budget_id__in=statuses, kind=BudgetAlert.Kind.EFFICIENCY,
            period_start__gt=as_of - timedelta(days=3 * MAX_EFFICIENCY_DAYS),
        ).values_list("budget_id", "period_start"):  # fmt: skip
            statuses[budget_id].alerted.add(start)
    return statuses
