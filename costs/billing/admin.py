from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from costs.billing.models import CostSnapshot
from costs.billing.services.bills import bill_changed
from heliox.admin_utils import BoundedCountPaginator
from heliox.audit import record_deletions


@admin.register(CostSnapshot)
class CostSnapshotAdmin(SimpleHistoryAdmin):
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
        bill_changed(days={obj.date, before} - {None})

    def delete_model(self, request, obj):
        day = obj.date
        record_deletions([obj])
        super().delete_model(request, obj)
        bill_changed(days=[day])

    def delete_queryset(self, request, queryset):
        days = set(queryset.values_list("date", flat=True))
        record_deletions(queryset.iterator())
        super().delete_queryset(request, queryset)
        bill_changed(days=days)
