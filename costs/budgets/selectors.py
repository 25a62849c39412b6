"""Budgets against spend: spend to date, run-rate projection and status. USD; UTC days.

Spend = the team's allocated cost (idle kept apart), which on days without a bill
is the catalog estimate (UsageSnapshot.allocated_usd). Queries are grouped by
window, so checking every budget costs a few queries, not a few per budget.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from costs.billing.money import ZERO, to_cents
from costs.budgets.models import Budget
from costs.usage.models import UsageSnapshot
from heliox.dates import period_bounds

OK, WARNING, PROJECTED, EXCEEDED, INVALID = "ok", "warning", "projected-overrun", "exceeded", "invalid"
STATUSES = (OK, WARNING, PROJECTED, EXCEEDED, INVALID)


def budget_period(period: str, day: date) -> tuple[date, date]:
    """[start, end) of the month or quarter that contains `day`."""
    return period_bounds(day, "quarter" if period == Budget.Period.QUARTERLY else "month")


@dataclass
class BudgetStatus:
    """Where a budget stands. An invalid budget (`problem` says why) has no figures: None, not 0."""

    budget: Budget
    as_of: date
    period_start: date | None
    period_end: date | None
    spent: Decimal | None
    run_rate: Decimal | None  # USD per day over the last run_rate_days days
    projected: Decimal | None
    percent: Decimal | None
    status: str
    crossed: list[int] = field(default_factory=list)
    problem: str = ""

    @property
    def projected_percent(self) -> Decimal | None:
        if self.projected is None:
            return None
        return (self.projected / self.budget.amount_usd * 100).quantize(Decimal("0.1"))


def _spend(windows: dict[tuple[date, date], set]) -> dict[tuple, dict]:
    """Allocated spend per team for each (start, end) window: one query per window."""
    result = {}
    for (start, end), teams in windows.items():
        rows = (
            UsageSnapshot.objects.between(start, end)
            .for_teams(teams)
            .values("team_id")
            .annotate(total=Sum("allocated_usd"))
            .order_by()
        )
        result[(start, end)] = {row["team_id"]: to_cents(Decimal(row["total"])) for row in rows}
    return result


def _invalid(budget: Budget, as_of: date, problem: str) -> BudgetStatus:
    return BudgetStatus(budget, as_of, None, None, None, None, None, None, INVALID, problem=problem)


def _plan(budget: Budget, as_of: date) -> tuple[date, date, date]:
    """The period [start, end) and the first day of the run-rate window; ValueError for a budget out of bounds."""
    problem = budget.stored_problem()
    if problem:
        raise ValueError(problem)
    start, end = budget_period(budget.period, as_of)
    tomorrow = as_of + timedelta(days=1)
    return start, end, max(start, tomorrow - timedelta(days=budget.run_rate_days))


def _status(budget: Budget, as_of: date, start: date, end: date, recent: date, spend: dict) -> BudgetStatus:
    tomorrow = as_of + timedelta(days=1)
    spent = spend[(start, tomorrow)].get(budget.team_id, ZERO)
    days = (tomorrow - recent).days
    run_rate = spend[(recent, tomorrow)].get(budget.team_id, ZERO) / days if days > 0 else ZERO
    projected = to_cents(spent + run_rate * max(0, (end - tomorrow).days))
    percent = (spent / budget.amount_usd * 100).quantize(Decimal("0.1"))
    crossed = sorted(t for t in budget.thresholds if spent >= budget.amount_usd * t / 100)
    if spent >= budget.amount_usd:
        status = EXCEEDED
    elif projected > budget.amount_usd:
        status = PROJECTED
    elif crossed:
        status = WARNING
    else:
        status = OK
    return BudgetStatus(budget, as_of, start, end, spent, to_cents(run_rate), projected, percent, status, crossed)


def budget_statuses(*, budgets: Iterable[Budget], as_of: date) -> list[BudgetStatus]:
    """Where each budget stands on `as_of` (spend through the end of that day).

    A budget whose stored values are out of bounds (written before the bounds, or by
    hand) or whose figures cannot be computed is `invalid` with its `problem`; it never
    stops the others.
    """
    budgets = list(budgets)
    tomorrow = as_of + timedelta(days=1)
    plans: dict[object, tuple[date, date, date] | str] = {}
    windows: dict[tuple[date, date], set] = defaultdict(set)
    for budget in budgets:
        try:
            plans[budget.pk] = start, _, recent = _plan(budget, as_of)
        except (ValueError, TypeError, ArithmeticError) as error:
            plans[budget.pk] = str(error)
            continue
        windows[(start, tomorrow)].add(budget.team_id)
        windows[(recent, tomorrow)].add(budget.team_id)
    spend = _spend(windows)
    statuses = []
    for budget in budgets:
        plan = plans[budget.pk]
        if isinstance(plan, str):
            statuses.append(_invalid(budget, as_of, plan))
            continue
        try:
            statuses.append(_status(budget, as_of, *plan, spend))
        except (ValueError, TypeError, ArithmeticError) as error:
            statuses.append(_invalid(budget, as_of, f"cannot be evaluated ({type(error).__name__}: {error})"))
    return statuses
