"""The rollup and the aggregates: summary, time series, allocation, a team's spend.

Every figure comes from the usage selectors, the same functions behind `manage.py
report` and the dashboard. Users without the organisation's view get their teams'
figures only; the organisation's bill and idle cost are left out for them.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from costs.usage.api import schemas
from costs.usage.api.params import RangeParams, view_filters
from costs.usage.api.serializers import UsageSnapshotSerializer
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.allocation_cells import allocation_cells
from costs.usage.selectors.bill_coverage import unbilled_days
from costs.usage.selectors.fx import spend_summary_in
from costs.usage.selectors.shown import shown_row, shown_rows
from costs.usage.selectors.spend import IDLE_LABEL, spend_summary, team_spend
from costs.usage.selectors.timeseries import MAX_TIMESERIES_POINTS, TooManyPoints, spend_timeseries
from heliox.api import BrowsableAPIRenderer, CSVRenderer, ExactJSONRenderer
from teams.api.permissions import TeamScopedMixin
from teams.models import Team
from teams.selectors import team_scope


class UsageSnapshotViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The daily rollup of the user's teams (built by `manage.py rollup`)."""

    serializer_class = UsageSnapshotSerializer
    queryset = UsageSnapshot.objects.select_related("team").order_by("-date", "team__name", "provider", "gpu_type")
    filterset_fields = {"date": ["exact", "gte", "lt"], "team": ["exact"], "provider": ["exact"],
                        "gpu_type": ["exact"]}  # fmt: skip


class AggregateView(APIView):
    """Shared by the aggregate endpoints: validated range parameters, JSON or `?format=csv`."""

    renderer_classes = [ExactJSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def params(self, request) -> dict:
        params = RangeParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data

    def filtered_params(self, request) -> dict:
        """params and the filters: `team_ids` (within the user's scope) and `filters`; a 400 naming a bad one."""
        params = self.params(request)
        team_ids, filters, errors = view_filters(request.query_params, team_scope(request.user))
        if errors:
            raise ValidationError(errors)
        return {**params, "team_ids": team_ids, "filters": filters}

    def wants_csv(self, request) -> bool:
        return getattr(request.accepted_renderer, "format", "") == "csv"


RANGE_PARAMETERS = [
    OpenApiParameter("start", str, description="First UTC day, YYYY-MM-DD (default: first day of this month)."),
    OpenApiParameter("end", str, description="Day after the last one, exclusive (default: next month's first)."),
    OpenApiParameter("idle", str, enum=["separate", "share"], description="Idle kept apart or shared."),
]
GROUP_BY = OpenApiParameter(
    "group_by",
    str,
    description="Comma list of team, provider, gpu_type, model_name, label:<key> (a HELIOX_COST_LABELS key).",
)
CSV_ALLOCATION = ["date", "provider", "gpu_type", "billed_usd", "team", "gpu_hours", "estimated_usd", "allocated_usd"]
KIND = OpenApiParameter("kind", str, enum=["gpu", "llm", "all"], description="GPU spend, LLM API spend, or both.")
CURRENCY = OpenApiParameter("currency", str, description="Money in this currency (a rate must be set), e.g. ZAR.")
FILTERS = [
    OpenApiParameter("team", str, description="Only this team (a team's id; one of your teams unless you see all)."),
    OpenApiParameter("provider", str, description="Only this provider (GPU or LLM), e.g. aws."),
    OpenApiParameter("gpu_type", str, description="Only this GPU type (leaves out LLM spend), e.g. H100."),
    OpenApiParameter("model", str, description="Only this model (GPU jobs' model_name, LLM calls' model)."),
    OpenApiParameter("label", str, description="Only jobs with this cost label, key=value (leaves out LLM spend)."),
]


class CostSummaryView(AggregateView):
    @extend_schema(parameters=[*RANGE_PARAMETERS, GROUP_BY, KIND, CURRENCY, *FILTERS], responses={200: schemas.SUMMARY})
    def get(self, request):
        """GPU-hours, estimated, allocated, idle and billed USD per group, with totals."""
        params = self.filtered_params(request)
        arguments = {"start": params["start"], "end": params["end"], "group_by": params["group_by"] or ["team"],
                     "idle": params["idle"], "team_ids": params["team_ids"], "kind": params["kind"],
                     "filters": params["filters"]}  # fmt: skip
        rates = []
        try:
            if params["currency"] == "USD":
                report = spend_summary(**arguments)
            else:
                report, rates = spend_summary_in(currency=params["currency"], **arguments)
        except ValueError as error:  # e.g. no rate on the first day of the range
            return Response({"currency": [str(error)]}, status=400)
        # Unknown figures (nothing measured, every GPU-hour unpriced) are null, empty in the CSV: never 0.
        rows, totals = shown_rows(report.rows), shown_row(report.totals)
        if self.wants_csv(request):
            total = {**{name: "TOTAL" if i == 0 else "" for i, name in enumerate(report.group_by)}, **totals}
            return Response([*rows, total])
        return Response({
            "start": report.start, "end": report.end, "group_by": list(report.group_by), "idle": report.idle,
            "kind": params["kind"], "currency": params["currency"],
            "fx_rates": [{"currency": r.currency, "rate_per_usd": r.rate_per_usd, "as_of": r.as_of} for r in rates],
            "rows": rows, "totals": totals, "unbilled": _unbilled(params),
        })  # fmt: skip


def _unbilled(params: dict) -> list[dict] | None:
    """Providers whose bill is missing on some days of the range (their billed and idle are the billed days'); null
    when the bill is not shown (a member's teams, a model or label filter) or only LLM spend is asked for."""
    if params["kind"] == "llm" or params["filters"].hides_the_bill(params["team_ids"]):
        return None
    days = unbilled_days(start=params["start"], end=params["end"], filters=params["filters"])
    return [{"provider": provider, "days": gap["days"], "usage_days": gap["of"], "first": gap["first"]}
            for provider, gap in days.items()]  # fmt: skip


class CostTimeseriesView(AggregateView):
    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            GROUP_BY,
            KIND,
            CURRENCY,
            *FILTERS,
            OpenApiParameter("interval", str, enum=["day", "week", "month"]),
        ],
        responses={200: schemas.TIMESERIES},
    )
    def get(self, request):
        """One series per group, a point per day, week or month; at most 20,000 points (periods x groups)."""
        params = self.filtered_params(request)
        try:
            result = spend_timeseries(
                start=params["start"], end=params["end"], interval=params["interval"], group_by=params["group_by"],
                idle=params["idle"], team_ids=params["team_ids"], kind=params["kind"],
                currency=params["currency"], max_points=MAX_TIMESERIES_POINTS, filters=params["filters"],
            )  # fmt: skip
        except TooManyPoints as error:
            return Response({"detail": str(error)}, status=400)
        except ValueError as error:  # no rate on some day of the range
            return Response({"currency": [str(error)]}, status=400)
        for series in result["series"]:  # unknown figures null, as in the summary
            series["points"] = shown_rows(series["points"])
        result["totals"] = shown_row(result["totals"])
        if self.wants_csv(request):
            rows = [{**series["group"], **point} for series in result["series"] for point in series["points"]]
            return Response({"rows": rows, "columns": [*params["group_by"], "period"]})
        return Response({"start": params["start"], "end": params["end"], **result})


class AllocationView(AggregateView):
    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: schemas.ALLOCATION})
    def get(self, request):
        """The bill of each (day, provider, GPU type), allocated per team, and its idle part."""
        params = self.params(request)
        cells = allocation_cells(start=params["start"], end=params["end"], idle=params["idle"],
                                 team_ids=team_scope(request.user))  # fmt: skip
        if self.wants_csv(request):
            return Response({"rows": list(_allocation_rows(cells)), "columns": CSV_ALLOCATION})
        data = [
            {"date": c.date, "provider": c.provider, "gpu_type": c.gpu_type, "billed_usd": c.billed_usd,
             "estimated_usd": c.estimated_usd, "gpu_hours": c.gpu_hours, "idle_usd": c.idle_usd,
             "teams": c.teams}
            for c in cells
        ]  # fmt: skip
        return Response({"start": params["start"], "end": params["end"], "idle": params["idle"], "cells": data})


def _allocation_rows(cells):
    """A CSV row per team of each cell, and one for its idle part: the allocated column adds up to the bill."""
    for cell in cells:
        where = {"date": cell.date, "provider": cell.provider, "gpu_type": cell.gpu_type, "billed_usd": cell.billed_usd}
        for share in cell.teams:
            yield {**where, **{key: share[key] for key in ("team", "gpu_hours", "estimated_usd", "allocated_usd")}}
        if cell.idle_usd:
            yield {**where, "team": IDLE_LABEL, "allocated_usd": cell.idle_usd}


class TeamSpendView(AggregateView):
    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: schemas.TEAM_SPEND})
    def get(self, request, pk):
        """A team's totals, daily series and top models."""
        scope = team_scope(request.user)
        team = Team.objects.filter(pk=pk).first()
        if team is None or (scope is not None and team.pk not in scope):
            raise Http404
        params = self.params(request)
        result = team_spend(team_id=team.pk, start=params["start"], end=params["end"], idle=params["idle"])
        result.update(totals=shown_row(result["totals"]), top_models=shown_rows(result["top_models"]),
                      daily=shown_rows(result["daily"]))  # fmt: skip
        if self.wants_csv(request):  # the daily series
            return Response({"rows": result["daily"], "columns": ["date", "gpu_hours", "unpriced_gpu_hours",
                                                                   "estimated_usd", "allocated_usd"]})  # fmt: skip
        return Response({"team": {"id": team.pk, "name": team.name}, "start": params["start"], "end": params["end"],
                         **result})  # fmt: skip
