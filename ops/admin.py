from django.contrib import admin

from heliox.admin_utils import BoundedCountPaginator
from ops.models import TaskRun


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    """The task-run log, read-only: what ran, where, how often, how long, and why it failed."""

    list_display = ["created_at", "name", "state", "attempts", "progress", "duration", "worker", "finished_at"]
    list_filter = ["state", "name"]
    search_fields = ["=task_id", "name"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
    readonly_fields = [*(field.name for field in TaskRun._meta.fields), "progress", "duration"]
    fields = ["task_id", "name", "state", "attempts", "worker", "arguments", "progress", "created_at", "started_at",
              "finished_at", "duration", "result", "error"]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Progress")
    def progress(self, run: TaskRun) -> str:
        if run.progress_done is None:
            return "-"
        if run.progress_percent is None:
            return f"{run.progress_done:,}"
        return f"{run.progress_done:,} / {run.progress_total:,} ({run.progress_percent:.0f}%)"

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, run: TaskRun) -> str:
        return "-" if run.duration_ms is None else f"{run.duration_ms / 1000:,.1f} s"
