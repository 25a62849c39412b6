from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from costs.catalog.models import GpuPrice, InstanceType, ModelPrice


@admin.register(GpuPrice)
class GpuPriceAdmin(SimpleHistoryAdmin):
    list_display = ["provider", "gpu_type", "region", "pricing", "usd_per_gpu_hour", "effective_from", "effective_to"]
    list_filter = ["provider", "pricing", "gpu_type"]
    search_fields = ["gpu_type", "region", "source"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(InstanceType)
class InstanceTypeAdmin(SimpleHistoryAdmin):
    list_display = ["provider", "name", "gpu_type", "gpu_count", "vcpus", "memory_gib"]
    list_filter = ["provider", "gpu_type", "gpu_count"]
    search_fields = ["name", "gpu_type"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ModelPrice)
class ModelPriceAdmin(SimpleHistoryAdmin):
    list_display = ["provider", "model", "input_usd_per_mtok", "cached_input_usd_per_mtok", "output_usd_per_mtok",
                    "effective_from", "effective_to"]  # fmt: skip
    list_filter = ["provider"]
    search_fields = ["model", "provider", "source"]
    readonly_fields = ["created_at", "updated_at"]
