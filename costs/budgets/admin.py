from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from costs.budgets.forms import BudgetForm
from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.budgets.selectors import BudgetStatus, budget_statuses


@admin.register(Budget)
class BudgetAdmin(SimpleHistoryAdmin):
    """Budgets with where they stand today (computed for the whole list in a few queries)."""

    form = BudgetForm
    list_display = ["team", "period", "amount", "spent", "percent", "projected", "status", "active"]
    list_filter = ["period", "active"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    search_fields = ["team__name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_changelist(self, request, **kwargs):
        return BudgetChangeList

    @admin.display(description="Amount (USD)", ordering="amount_usd")
    def amount(self, budget: Budget):
        return intcomma(budget.amount_usd)

    @admin.display(description="Spent (USD)")
    def spent(self, budget: Budget):
        status = _status(budget)
        return None if status is None or status.spent is None else intcomma(status.spent)

    @admin.display(description="Used (%)")
    def percent(self, budget: Budget):
        status = _status(budget)
        return status and status.percent

    @admin.display(description="Projected (USD)")
    def projected(self, budget: Budget):
        status = _status(budget)
        return None if status is None or status.projected is None else intcomma(status.projected)

    @admin.display(description="Status")
    def status(self, budget: Budget):
        status = _status(budget)
        if status is None:
            return None
        return f"{status.status}: {status.problem}" if status.problem else status.status


class BudgetChangeList(ChangeList):
    """The budget list's page, each budget with where it stands today: a few queries for the whole page.

    The statuses ride on the page's own budget objects, never on the admin, which every
    request shares.
    """

    def get_results(self, request):
        super().get_results(request)
        statuses = budget_statuses(budgets=self.result_list, as_of=timezone.now().date())
        for status in statuses:
            status.budget.status_today = status


def _status(budget: Budget) -> BudgetStatus | None:
    return getattr(budget, "status_today", None)


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    """The alert log: what was sent, when, through which channel, and failures awaiting a retry."""

    list_display = ["created_at", "budget", "period_start", "kind", "threshold", "channel", "outcome", "attempts",
                    "sent_at"]  # fmt: skip
    list_filter = ["outcome", "kind", "channel"]
    list_select_related = ["budget__team"]
    readonly_fields = [field.name for field in BudgetAlert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Webhook URLs' delivery health. Deleting a row (or clearing its next try) lets the next run try it at once."""

    list_display = ["url", "failures", "next_attempt_at", "last_success_at", "last_error"]
    list_filter = ["failures"]
    search_fields = ["url"]
    fields = ["url", "failures", "next_attempt_at", "last_success_at", "last_error"]
    readonly_fields = ["url", "failures", "last_success_at", "last_error"]

    def has_add_permission(self, request):
        return False
