import csv
import json
from collections import Counter
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, JSONField, OuterRef, Subquery
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from simple_history.admin import SimpleHistoryAdmin

from heliox.admin_utils import BoundedCountPaginator, StorableJSONField
from heliox.audit import record_deletions
from heliox.csv_safety import safe_cell
from heliox.errors import InputError
from jobs.admin_imports import ImportRecordAdmin  # noqa: F401 - registers the import log
from jobs.admin_sort import JobChangeList
from jobs.gpus import KNOWN_GPU_TYPES
from jobs.models import Job, JobStatus
from jobs.services.changes import AffectedDays, job_days, jobs_changed
from jobs.services.lifecycle import job_finish
from jobs.totals import sort_key
from teams.admin import TeamAdmin
from teams.models import Team


def cell(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


class Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


class GpuTypeFilter(admin.SimpleListFilter):
    """GPU type choices from the known list: a DISTINCT over millions of jobs per page view is too slow."""

    title = "GPU type"
    parameter_name = "gpu_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in KNOWN_GPU_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(gpu_type=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(SimpleHistoryAdmin):
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
        "estimated_column",
        "allocated_column",
        "util_column",
        "waste_column",
    ]
    list_filter = ["status", "provider", GpuTypeFilter, "pricing", "team"]
    list_select_related = ["team", "totals"]
    search_fields = ["model_name", "external_id"]
    date_hierarchy = "start_time"
    autocomplete_fields = ["team"]
    ordering = ["-start_time"]
    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    actions = ["mark_succeeded", "mark_cancelled"]
    readonly_fields = ["created_at", "updated_at", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours",
                       "used_gpu_hours", "waste_usd", "allocated_waste_usd"]  # fmt: skip
    formfield_overrides = {JSONField: {"form_class": StorableJSONField}}
    fieldsets = [
        (None, {"fields": ["team", "model_name", "status", "external_id", "labels"]}),
        ("GPUs", {"fields": ["provider", "region", "gpu_type", "gpu_count", "pricing"]}),
        ("Time (UTC)", {"fields": ["start_time", "end_time"]}),
        (
            "Cost (from the rollup)",
            {
                "fields": [
                    "gpu_hours",
                    "unpriced_gpu_hours",
                    "estimated_usd",
                    "allocated_usd",
                    "used_gpu_hours",
                    "waste_usd",
                    "allocated_waste_usd",
                ]
            },
        ),
        ("Utilisation", {"fields": ["gpu_util_avg", "gpu_mem_peak_gib", "gpu_util_source"]}),
        ("Other", {"fields": ["metadata", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_changelist(self, request, **kwargs):
        return JobChangeList  # a total column sorted: unknown totals last both ways, on the total's index

    def action_checkbox(self, obj):
        """Django's row checkbox, the same HTML, without rendering a widget's templates for each of the 100 rows
        (a sixth of the page's time)."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
                           ACTION_CHECKBOX_NAME, str(obj.pk), label)  # fmt: skip

    # Edits and deletes roll up the days the jobs covered before and after (jobs.services.changes).
    def save_model(self, request, obj, form, change):
        days = job_days(Job.objects.filter(pk=obj.pk).first() if change else None)
        super().save_model(request, obj, form, change)
        days.add(obj.start_time, obj.end_time)
        jobs_changed(days)

    def delete_model(self, request, obj):
        days = job_days(obj)
        record_deletions([obj])
        super().delete_model(request, obj)
        jobs_changed(days)

    def delete_queryset(self, request, queryset):
        days = AffectedDays()
        days.add_jobs(queryset)
        record_deletions(queryset.iterator())
        super().delete_queryset(request, queryset)
        jobs_changed(days)

    def get_urls(self):
        export = path("export.csv", self.admin_site.admin_view(self.export_view), name="jobs_job_export")
        return [export, *super().get_urls()]

    EXPORT_FIELDS = ("id", "team__name", "model_name", "provider", "region", "gpu_type", "gpu_count", "pricing",
                     "start_time", "end_time", "status", "external_id", sort_key("gpu_hours"),
                     sort_key("unpriced_gpu_hours"), sort_key("estimated_usd"), sort_key("allocated_usd"), "labels",
                     "gpu_util_avg", "gpu_mem_peak_gib", "gpu_util_source")  # fmt: skip

    def export_view(self, request):
        """The changelist as CSV, with the same filters, search and ordering; streamed, any size."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The whole result, not a page: paging (even ?p=0) and the changelist's error flag do not apply.
        request.GET = request.GET.copy()
        for name in (PAGE_VAR, ERROR_FLAG):
            request.GET.pop(name, None)
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # the changelist page redirects with ?e=1; a script gets the reason
            return HttpResponseBadRequest(self._refused_parameters(request), content_type="text/plain")
        rows = changelist.get_queryset(request).values_list(*self.EXPORT_FIELDS).iterator(chunk_size=5000)
        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow([name.replace("__name", "").rpartition("__")[2] for name in self.EXPORT_FIELDS])
            for row in rows:  # labels as JSON; a total not rolled up yet (or unknown) is empty, never 0
                yield writer.writerow([safe_cell(cell(value)) for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="heliox-jobs.csv"'
        return response

    def _refused_parameters(self, request) -> str:
        """Which query parameters the changelist refuses, each tried alone (only on this error path)."""
        query, refused = request.GET, []
        for name in list(query):
            request.GET = query.copy()
            for other in query:
                if other != name:
                    request.GET.pop(other)
            try:
                self.get_changelist_instance(request)
            except IncorrectLookupParameters:
                refused.append(f"{name}={query.get(name)!r}")
        request.GET = query
        return f"Not a filter of the job list: {', '.join(refused) or 'these parameters together'}.\n"

    @admin.display(description="Duration")
    def duration(self, job: Job) -> str:
        hours = job.duration_hours()
        if hours is None:
            return "-"
        return str(timedelta(seconds=int(hours * 3600)))

    @admin.display(description="GPU-hours", ordering=F(sort_key("gpu_hours")).desc(nulls_last=True))
    def gpu_hours_column(self, job: Job) -> str:
        hours = job.held_gpu_hours()
        return "-" if hours is None else f"{hours:,}"

    @admin.display(description="Estimated USD", ordering=F(sort_key("estimated_usd")).desc(nulls_last=True))
    def estimated_column(self, job: Job) -> str:
        return "-" if job.estimated_usd is None else f"{job.estimated_usd:,}"

    @admin.display(description="Allocated USD", ordering=F(sort_key("allocated_usd")).desc(nulls_last=True))
    def allocated_column(self, job: Job) -> str:
        return "-" if job.allocated_usd is None else f"{job.allocated_usd:,}"

    @admin.display(description="GPU util %", ordering=F("gpu_util_avg").desc(nulls_last=True))
    def util_column(self, job: Job) -> str:
        return "unmeasured" if job.gpu_util_avg is None else f"{job.gpu_util_avg} %"  # unknown, never 0 %

    @admin.display(description="Waste USD", ordering=F(sort_key("waste_usd")).desc(nulls_last=True))
    def waste_column(self, job: Job) -> str:
        return "-" if job.waste_usd is None else f"{job.waste_usd:,}"

    def _finish(self, request, queryset, status: str) -> None:
        """The API's finish for each selected job (jobs.services.lifecycle): one rule for who may finish."""
        days, finished, refused = AffectedDays(), 0, Counter[str]()
        for job in queryset.iterator(chunk_size=500):
            try:
                job_finish(job=job, status=status, relabel_ended=True, days=days)
                finished += 1
            except InputError as error:
                refused[error.message] += 1
        jobs_changed(days)
        self.message_user(request, f"{finished} job(s) marked {status}.", messages.SUCCESS)
        for reason, count in sorted(refused.items()):
            self.message_user(request, f"{count} job(s) left as they were: {reason}", messages.WARNING)

    @admin.action(description="Mark selected jobs succeeded", permissions=["change"])
    def mark_succeeded(self, request, queryset):
        self._finish(request, queryset, JobStatus.SUCCEEDED)

    @admin.action(description="Mark selected jobs cancelled", permissions=["change"])
    def mark_cancelled(self, request, queryset):
        self._finish(request, queryset, JobStatus.CANCELLED)


admin.site.unregister(Team)


@admin.register(Team)
class TeamWithJobsAdmin(TeamAdmin):
    """The team list with each team's job count and a link to its jobs (jobs sits above teams, so it adds them)."""

    list_display = ["name", "member_count", "job_count", "jobs_link", "spend_link", "created_at"]

    def get_queryset(self, request):
        # One subquery over the indexed team column, not a query per row.
        jobs = Job.objects.filter(team=OuterRef("pk")).order_by().values("team").annotate(n=Count("*")).values("n")
        return super().get_queryset(request).annotate(_job_count=Subquery(jobs))

    @admin.display(description="Jobs", ordering="_job_count")
    def job_count(self, team: Team) -> int:
        return team._job_count or 0  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.display(description="")
    def jobs_link(self, team: Team) -> str:
        url = reverse("admin:jobs_job_changelist") + f"?team__id__exact={team.pk}"
        return format_html('<a href="{}">View jobs</a>', url)
