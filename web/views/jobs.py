"""The job list (filtered, sorted, paged, as CSV too), a job's page with its history, and a manager's edit."""

import copy

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from costs.usage.selectors.job_costs import job_cost_days
from heliox.pagination import TailPaginator, page_shown
from heliox.query_guard import refusal
from jobs.api.filters import JobFilter
from jobs.models import Job
from jobs.selectors import TotalOrdered
from jobs.totals import sort_key
from jobs.utilisation_curve import curve_chart, utilisation_curve
from web.forms import JobForm, job_save
from web.selectors import job_history, managed_team_ids, may_change, visible_jobs
from web.views.common import chart_response, csv_response, found, member_required, page_context, wants

PAGE_SIZE = 50
HISTORY_SHOWN = 50
CSV_LIMIT = 100_000
# ?sort= value -> ordering; ties broken by id so that pages never overlap.
SORTS = {
    "start": ("start_time", "id"), "-start": ("-start_time", "-id"), "team": ("team__name", "-start_time", "id"),
    "model": ("model_name", "-start_time", "id"), "gpus": ("gpu_count", "id"), "-gpus": ("-gpu_count", "id"),
    "status": ("status", "-start_time", "id"),
}  # fmt: skip
# By the rolled-up totals (jobs.selectors.TotalOrdered: on the totals' indexes): known ones by the total, ties by
# id, then the unknown ones (unpriced: most GPU-hours first; not rolled up yet), last either way.
UNKNOWN_LAST = (F(sort_key("gpu_hours")).desc(nulls_last=True), "id")
TOTAL_SORTS = {
    "-cost": ("estimated_usd", True),
    "cost": ("estimated_usd", False),
    "-allocated": ("allocated_usd", True),
    "-waste": ("waste_usd", True),  # unmeasured jobs (no waste known) last
}
CSV_COLUMNS = ("id", "team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time",
               "end_time", "status", "external_id", "gpu_hours", "estimated_usd", "allocated_usd",
               "unpriced_gpu_hours", "gpu_util_avg", "used_gpu_hours", "waste_usd")  # fmt: skip


@member_required
def job_list(request):
    """Jobs one may see, filtered as the API filters them (team, status, provider, GPU type, model, started...)."""
    jobs = visible_jobs(user=request.user)
    filters = JobFilter(request.GET, queryset=jobs, request=request)  # the request: the teams one may pick
    sort = request.GET.get("sort", "-start")
    valid = filters.is_valid()
    errors = dict(filters.errors) if not valid else {}
    if sort not in SORTS and sort not in TOTAL_SORTS:
        errors["sort"] = [f"{sort[:40]!r} is not a sort of this list: {', '.join([*SORTS, *TOTAL_SORTS])}"]
        if not wants(request, "csv"):
            messages.warning(request, f"sort: {errors['sort'][0]}; sorted by start, latest first.")
        sort = "-start"
    if wants(request, "csv") and (refused := refusal(request, errors)):
        return refused  # a header-only file would say "no such jobs", another order would not say it is another
    chosen = filters.qs if valid else jobs.none()
    if sort in TOTAL_SORTS:
        name, descending = TOTAL_SORTS[sort]
        ordered = TotalOrdered(chosen, name=name, descending=descending, unknown_order=UNKNOWN_LAST)
        rows = ordered.iterator(CSV_LIMIT)
    else:
        ordered = chosen.order_by(*SORTS[sort])
        rows = ordered[:CSV_LIMIT].iterator(chunk_size=2000)
    if wants(request, "csv"):
        return csv_response(name="heliox-jobs", columns=CSV_COLUMNS, rows=(
            [job.pk, job.team.name, job.model_name, job.provider, job.gpu_type, job.gpu_count, job.region, job.pricing,
             job.start_time, job.end_time, job.status, job.external_id, job.held_gpu_hours(),
             job.estimated_usd, job.allocated_usd, job.unpriced_gpu_hours, job.gpu_util_avg, job.used_gpu_hours,
             job.waste_usd]
            for job in rows))  # fmt: skip
    # A queryset's pages in the second half are read from the end (the last page as fast as the first);
    # TotalOrdered pages on the totals' indexes itself.
    paginator = Paginator if isinstance(ordered, TotalOrdered) else TailPaginator
    page = page_shown(request, paginator(ordered, PAGE_SIZE))
    kept = request.GET.copy()
    kept.pop("page", None)
    sortless = kept.copy()
    sortless.pop("sort", None)
    return TemplateResponse(request, "web/jobs.html", {
        **page_context(request), "filters": filters, "page": page, "sort": sort, "sorts": [*SORTS, *TOTAL_SORTS],
        "kept_query": kept.urlencode(), "sortless_query": sortless.urlencode(), "title": "Jobs",
    })  # fmt: skip


@member_required
def job_detail(request, pk):
    """A job: its figures and labels, its utilisation curve (DCGM's, from Prometheus; `?format=json` gives its
    series), its cost per day (the rollup's slices), its history (manual edits: who, when, what) and the edit
    link for its managers."""
    job = found(visible_jobs(user=request.user).filter(pk=pk).first())
    curve = utilisation_curve(job=job)  # None (no request) without Prometheus or for a job DCGM did not measure
    charts = {"job_utilisation": curve_chart(curve)} if curve is not None and not curve.unavailable else {}
    if wants(request, "json"):
        return chart_response({**charts, "utilisation_unavailable": curve.unavailable if curve else None})
    changes = job_history(job=job, limit=HISTORY_SHOWN)
    return TemplateResponse(request, "web/job.html", {
        **page_context(request), "job": job, "changes": changes, "costs": job_cost_days(job=job),
        "labels": sorted(job.labels.items()), "may_change": may_change(user=request.user, obj=job),
        "title": str(job), "curve": curve, "charts": charts,
    })  # fmt: skip


@member_required
def job_edit(request, pk):
    """A manager's (or staff's) edit of a job, validated as the API's PATCH; 404 for anyone else."""
    job = found(visible_jobs(user=request.user).filter(pk=pk).first())
    if not may_change(user=request.user, obj=job):
        return found(None)
    form = JobForm(request.POST or None, instance=copy.copy(job))  # the form's cleaning writes to its instance
    managed = managed_team_ids(user=request.user, model=Job)
    if managed is not None:
        form.fields["team"].queryset = form.fields["team"].queryset.filter(pk__in=managed)
    if request.method == "POST" and job_save(form=form, job=job, request=request):
        messages.success(request, "The job was saved; the days it covers are rolled up again.")
        return redirect("web:job", pk=job.pk)
    return TemplateResponse(request, "web/job_edit.html", {**page_context(request), "job": job, "form": form,
                                                           "title": f"Edit {job}"})  # fmt: skip
