"""Budgets of one's teams with where they stand; their managers edit them."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from costs.budgets.selectors import budget_statuses
from web.forms import BudgetForm, budget_save
from web.selectors import managed_team_ids, may_change, visible_budgets
from web.views.common import csv_response, found, member_required, page_context, wants

CSV_COLUMNS = ("team", "period", "amount_usd", "period_start", "spent_usd", "percent", "projected_usd", "status")


@member_required
def budget_list(request):
    """Every budget one may see, with spend to date, projection and status (USD)."""
    budgets = visible_budgets(user=request.user)
    statuses = budget_statuses(budgets=budgets, as_of=timezone.now().date())
    if wants(request, "csv"):
        return csv_response(name="heliox-budgets", columns=CSV_COLUMNS, rows=(
            [s.budget.team.name, s.budget.period, s.budget.amount_usd, s.period_start, s.spent, s.percent,
             s.projected, s.status]
            for s in statuses))  # fmt: skip
    managed = managed_team_ids(user=request.user, model=budgets.model)
    for status in statuses:
        status.may_edit = managed is None or status.budget.team_id in managed  # type: ignore[attr-defined]
    return TemplateResponse(request, "web/budgets.html", {**page_context(request), "rows": statuses,
                                                          "title": "Budgets"})  # fmt: skip


@member_required
def budget_edit(request, pk):
    """A manager's (or staff's) edit of a budget, validated as the API's PATCH; 404 for anyone else."""
    budget = found(visible_budgets(user=request.user).filter(pk=pk).first())
    if not may_change(user=request.user, obj=budget):
        return found(None)
    form = BudgetForm(request.POST) if request.method == "POST" else BudgetForm.for_budget(budget)
    if request.method == "POST" and budget_save(form=form, budget=budget, request=request):
        messages.success(request, f"The {budget.team.name} budget was saved.")
        return redirect("web:budgets")
    return TemplateResponse(request, "web/budget_edit.html", {**page_context(request), "budget": budget,
                                                              "form": form, "title": f"Edit {budget}"})  # fmt: skip
