from django.contrib import admin

from costs.models import CostSnapshot, GpuPrice, InstanceType, UsageSnapshot
from heliox.admin_utils import BoundedCountPaginator


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
    readonly_fields = ["created_at", "updated_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False


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
