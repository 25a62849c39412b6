"""A budget's efficiency alert: the team's GPU efficiency over the last N full days, from the rollup.

Efficiency = used / measured GPU-hours (costs.usage.selectors.efficiency); waste = the measured
jobs' idle cost. Unmeasured GPU-hours are counted apart: a window with none measured is
"unmeasured" (unknown), never 0 % and never alerted. One query per distinct window length.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from costs.billing.money import ZERO, to_cents
from costs.budgets.models import Budget
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
    return statuses
