"""What each job cost: a job's per-day breakdown and the most expensive jobs of a range.

Scoped like every costs endpoint: users without the organisation's view see their teams' jobs only;
another team's job is a 404.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from costs.usage.api import schemas
from costs.usage.api.params import RangeParams
from costs.usage.api.views import RANGE_PARAMETERS, AggregateView
from costs.usage.selectors.job_costs import job_cost_days
from costs.usage.selectors.top_jobs import MAX_TOP_JOBS, TOP_ORDERS, most_expensive_jobs
from jobs.models import Job
from teams.selectors import team_scope

SLICE_COLUMNS = ["date", "gpu_hours", "unpriced_gpu_hours", "price_usd_per_gpu_hour", "estimated_usd", "allocated_usd",
                 "allocated_shared_usd", "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours",
                 "waste_usd", "allocated_waste_usd", "allocated_shared_waste_usd"]  # fmt: skip
TOP_COLUMNS = ["id", "team", "model_name", "provider", "gpu_type", "gpu_count", "external_id", "start_time",
               "end_time", "days", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd",
               "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct",
               "waste_usd", "allocated_waste_usd"]  # fmt: skip


class TopJobsParams(RangeParams):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TOP_JOBS, default=20, help_text="How many jobs.")
    order = serializers.ChoiceField(choices=TOP_ORDERS, default="cost", help_text="cost, or waste (measured jobs).")


class JobCostsView(AggregateView):
    @extend_schema(responses={200: schemas.JOB_COSTS})
    def get(self, request, pk):
        """A job's GPU-hours, estimated and allocated USD per UTC day, with the price used, and its totals."""
        scope = team_scope(request.user)
        job = Job.objects.select_related("team").filter(pk=pk).first()
        if job is None or (scope is not None and job.team_id not in scope):
            raise Http404
        costs = job_cost_days(job=job)
        if self.wants_csv(request):
            return Response({"rows": costs["days"], "columns": SLICE_COLUMNS})
        return Response({"job": job.pk, "team": job.team.name, **costs})


class TopJobsView(AggregateView):
    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("limit", int, description=f"1 to {MAX_TOP_JOBS} (20)."),
            OpenApiParameter(
                "order",
                str,
                enum=list(TOP_ORDERS),
                description="cost (default), or waste: the measured jobs that wasted most.",
            ),
        ],
        responses={200: schemas.TOP_JOBS},
    )
    def get(self, request):
        """The most expensive jobs of [start, end) (by allocated, then estimated USD; unpriced ones last, null), or
        with order=waste the measured jobs that wasted most (estimated cost x (1 - utilisation))."""
        params = TopJobsParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        jobs = most_expensive_jobs(start=data["start"], end=data["end"], team_ids=team_scope(request.user),
                                   limit=data["limit"], idle=data["idle"], order=data["order"])  # fmt: skip
        if self.wants_csv(request):
            return Response({"rows": jobs, "columns": TOP_COLUMNS})
        return Response({"start": data["start"], "end": data["end"], "idle": data["idle"], "order": data["order"],
                         "jobs": jobs})  # fmt: skip
