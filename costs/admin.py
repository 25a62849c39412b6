from django.contrib import admin
from django.utils import timezone

from costs.budgets.selectors import budget_statuses
from costs.models import (
    Budget,
    BudgetAlert,
    CostSnapshot,
    FxRate,
    GpuPrice,
    InstanceType,
    LlmCall,
    LlmUsageSnapshot,
    ModelPrice,
    UsageSnapshot,
    WebhookEndpoint,
)
from costs.usage.services.allocation import allocation_refresh
from heliox.admin_utils import BoundedCountPaginator, FastDateHierarchyChangeList


@admin.register(GpuPrice)
class GpuPriceAdmin(admin.ModelAdmin):
    list_display = ["provider", "gpu_type", "region", "pricing", "usd_per_gpu_hour", "effective_from", "effective_to"]
    list_filter = ["provider", "pricing", "gpu_type"]
    search_fields = ["gpu_type", "region", "source"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(InstanceType)
class InstanceTypeAdmin(admin.ModelAdmin):
    list_display = ["provider", "name", "gpu_type", "gpu_count", "vcpus", "memory_gib"]
    list_filter = ["provider", "gpu_type", "gpu_count"]
    search_fields = ["name", "gpu_type"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(CostSnapshot)
class CostSnapshotAdmin(admin.ModelAdmin):
    list_display = ["date", "provider", "gpu_type", "cost_usd", "gpu_hours"]
    list_filter = ["provider", "gpu_type"]
    date_hierarchy = "date"
    search_fields = ["gpu_type"]
    readonly_fields = ["created_at", "updated_at", "idle_usd", "idle_shared_usd"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    # The bill changed: re-allocate the day(s), as the API and the imports do.
    def save_model(self, request, obj, form, change):
        before = form.initial.get("date")
        super().save_model(request, obj, form, change)
        allocation_refresh(days={obj.date, before} - {None})

    def delete_model(self, request, obj):
        day = obj.date
        super().delete_model(request, obj)
        allocation_refresh(days=[day])

    def delete_queryset(self, request, queryset):
        days = set(queryset.values_list("date", flat=True))
        super().delete_queryset(request, queryset)
        allocation_refresh(days=days)


@admin.register(UsageSnapshot)
class UsageSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "team",
        "provider",
        "gpu_type",
        "gpu_hours",
        "estimated_cost_usd",
        "job_count",
        "unpriced_gpu_hours",
        "unpriced_job_count",
    ]
    list_filter = ["provider", "gpu_type", "team"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    date_hierarchy = "date"
    search_fields = ["team__name", "gpu_type"]
    readonly_fields = ["created_at", "updated_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    """Budgets with where they stand today (computed for the whole list in a few queries)."""

    list_display = ["team", "period", "amount_usd", "spent", "percent", "projected", "status", "active"]
    list_filter = ["period", "active"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    search_fields = ["team__name"]
    readonly_fields = ["created_at", "updated_at"]

    def changelist_view(self, request, extra_context=None):
        today = timezone.now().date()
        self._statuses = {s.budget.pk: s for s in budget_statuses(budgets=Budget.objects.all(), as_of=today)}
        return super().changelist_view(request, extra_context)

    def _status(self, budget: Budget):
        return getattr(self, "_statuses", {}).get(budget.pk)

    @admin.display(description="Spent (USD)")
    def spent(self, budget: Budget):
        return self._status(budget) and self._status(budget).spent

    @admin.display(description="%")
    def percent(self, budget: Budget):
        return self._status(budget) and self._status(budget).percent

    @admin.display(description="Projected (USD)")
    def projected(self, budget: Budget):
        return self._status(budget) and self._status(budget).projected

    @admin.display(description="Status")
    def status(self, budget: Budget):
        status = self._status(budget)
        if status is None:
            return None
        return f"{status.status}: {status.problem}" if status.problem else status.status


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


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["provider", "model", "input_usd_per_mtok", "cached_input_usd_per_mtok", "output_usd_per_mtok",
                    "effective_from", "effective_to"]  # fmt: skip
    list_filter = ["provider"]
    search_fields = ["model", "provider", "source"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "rate_per_usd", "as_of"]
    list_filter = ["currency"]
    date_hierarchy = "as_of"


@admin.register(LlmCall)
class LlmCallAdmin(admin.ModelAdmin):
    """The call log: read-only (calls arrive through the API or import_llm_calls)."""

    list_display = ["created_at", "team", "provider", "model", "node_name", "input_tokens", "output_tokens",
                    "latency_ms", "cost"]  # fmt: skip
    list_filter = ["provider", "team"]
    list_select_related = ["team"]
    search_fields = ["model", "session_id", "node_name"]
    date_hierarchy = "created_at"
    paginator = BoundedCountPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in LlmCall._meta.fields]

    def get_changelist(self, request, **kwargs):
        return FastDateHierarchyChangeList

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Cost (USD)")
    def cost(self, call: LlmCall) -> str:
        return "unpriced" if call.cost_usd is None else f"{call.cost_usd:.6f}"


@admin.register(LlmUsageSnapshot)
class LlmUsageSnapshotAdmin(admin.ModelAdmin):
    list_display = ["date", "team", "provider", "model", "calls", "input_tokens", "output_tokens", "cost_usd",
                    "unpriced_calls"]  # fmt: skip
    list_filter = ["provider", "team"]
    list_select_related = ["team"]
    date_hierarchy = "date"
    readonly_fields = ["created_at", "updated_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
