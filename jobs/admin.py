from datetime import timedelta
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import F, Q
from django.utils import timezone

from heliox.admin_utils import BoundedCountPaginator, FastDateHierarchyChangeList
from jobs.gpus import KNOWN_GPU_TYPES
from jobs.models import Job, JobStatus


class GpuTypeFilter(admin.SimpleListFilter):
    """GPU type choices from the known list: a DISTINCT over millions of jobs per page view is too slow."""

    title = "GPU type"
    parameter_name = "gpu_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in KNOWN_GPU_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(gpu_type=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "team",
        "model_name",
        "provider",
        "gpu_type",
        "gpu_count",
        "status",
        "start_time",
        "duration",
        "gpu_hours_column",
    ]
    list_filter = ["status", "provider", GpuTypeFilter, "pricing", "team"]
    list_select_related = ["team"]
    search_fields = ["model_name", "external_id"]
    date_hierarchy = "start_time"
    autocomplete_fields = ["team"]
    ordering = ["-start_time"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    actions = ["mark_succeeded", "mark_cancelled"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["team", "model_name", "status", "external_id"]}),
        ("GPUs", {"fields": ["provider", "region", "gpu_type", "gpu_count", "pricing"]}),
        ("Time (UTC)", {"fields": ["start_time", "end_time"]}),
        ("Other", {"fields": ["metadata", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_changelist(self, request, **kwargs):
        return FastDateHierarchyChangeList

    @admin.display(description="Duration")
    def duration(self, job: Job) -> str:
        hours = job.duration_hours()
        if hours is None:
            return "-"
        return str(timedelta(seconds=int(hours * 3600)))

    @admin.display(description="GPU-hours")
    def gpu_hours_column(self, job: Job) -> str:
        hours = job.gpu_hours()
        return "-" if hours is None else f"{hours.quantize(Decimal('0.01')):,}"

    def _finish(self, request, queryset, status: str) -> None:
        now = timezone.now().replace(microsecond=0)  # job times are kept to the second
        # end_time only where missing; a job that has not started yet (or starts in
        # the future) ends at its start so that end_time >= start_time holds.
        open_jobs = queryset.filter(end_time__isnull=True)
        open_jobs.filter(Q(start_time__isnull=True) | Q(start_time__lte=now)).update(end_time=now)
        open_jobs.filter(start_time__gt=now).update(end_time=F("start_time"))
        updated = queryset.update(status=status, updated_at=now)
        self.message_user(request, f"{updated} job(s) marked {status}.", messages.SUCCESS)

    @admin.action(description="Mark selected jobs succeeded", permissions=["change"])
    def mark_succeeded(self, request, queryset):
        self._finish(request, queryset, JobStatus.SUCCEEDED)

    @admin.action(description="Mark selected jobs cancelled", permissions=["change"])
    def mark_cancelled(self, request, queryset):
        self._finish(request, queryset, JobStatus.CANCELLED)
