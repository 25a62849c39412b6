from django.contrib import admin

from costs.llm.models import LlmCall, LlmUsageSnapshot
from heliox.admin_utils import BoundedCountPaginator, FastDateHierarchyChangeList


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
