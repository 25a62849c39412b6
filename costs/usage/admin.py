from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from costs.usage.models import FxRate, RollupBacklog, UsageSnapshot
from heliox.admin_utils import BoundedCountPaginator


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


@admin.register(FxRate)
class FxRateAdmin(SimpleHistoryAdmin):
    list_display = ["currency", "rate_per_usd", "as_of"]
    list_filter = ["currency"]
    date_hierarchy = "as_of"


@admin.register(RollupBacklog)
class RollupBacklogAdmin(admin.ModelAdmin):
    """Days owed to the rollup (no workers): read only; the next `rollup` without dates clears them."""

    list_display = ["start", "end", "created_at"]
    date_hierarchy = "start"
    readonly_fields = ["start", "end", "created_at", "updated_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting would leave the days stale for good
