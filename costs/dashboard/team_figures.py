"""A team's figures both UIs show (the admin's team page and the member UI's): its LLM spend by model, its GPU spend
by provider, its active budgets; and the LLM spend beside a table's GPU rows. From the rollups only.
"""

from collections.abc import Collection
from datetime import date
from uuid import UUID

from costs.billing.allocation import SEPARATE
from costs.budgets.models import Budget
from costs.budgets.selectors import BudgetStatus, budget_statuses
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.shown import shown_amount, unknown_when_unpriced
from costs.usage.selectors.spend import ZERO_USD, SpendReport, spend_summary


def llm_summary(*, start: date, end: date, group: str, team_ids: Collection[UUID] | None,
              filters: SpendFilter = NO_FILTER) -> SpendReport:  # fmt: skip
    """LLM spend grouped by `group` ("team", "model_name", "provider"): llm_usd (priced calls), llm_calls,
    llm_unpriced_calls. One query on the LLM rollup (LlmUsageSnapshot), never on raw calls."""
    return spend_summary(start=start, end=end, group_by=[group], kind="llm", team_ids=team_ids, filters=filters)


def team_providers(*, team_id: UUID, start: date, end: date, idle: str = SEPARATE) -> list[dict]:
    """The team's GPU spend by provider, unknown (None) where wholly unpriced."""
    report = spend_summary(start=start, end=end, group_by=["provider"], idle=idle, team_ids=[team_id])
    return [unknown_when_unpriced(row) for row in report.rows]


def team_budgets(*, team_id: UUID, today: date) -> list[BudgetStatus]:
    """The team's active budgets, evaluated as of `today`."""
    budgets = Budget.objects.filter(team_id=team_id, active=True).select_related("team")
    return budget_statuses(budgets=budgets, as_of=today)


def llm_shown(figures: dict) -> dict:
    """LLM figures as shown: llm_usd None (unpriced) when there were calls and none of them had a price."""
    calls, unpriced = figures.get("llm_calls") or 0, figures.get("llm_unpriced_calls") or 0
    return {**figures, "llm_usd": None} if calls and unpriced == calls else figures


def with_llm(gpu: dict, llm: dict | None) -> dict:
    """A GPU row (or card: allocated_usd) with its LLM spend beside it and GPU + LLM (total_usd).

    The total is the known part (allocated + priced calls); None only when it is 0 and the GPU-hours are wholly
    unpriced (shown_amount). Unpriced calls are counted beside it, never as $0 of spend."""
    llm = llm or {}
    llm_usd = llm.get("llm_usd") or ZERO_USD
    figures = {"llm_usd": llm_usd, "llm_calls": llm.get("llm_calls") or 0,
               "llm_unpriced_calls": llm.get("llm_unpriced_calls") or 0}  # fmt: skip
    total = shown_amount(gpu, (gpu["allocated_usd"] or ZERO_USD) + llm_usd)
    return llm_shown({**gpu, **figures, "total_usd": total})
