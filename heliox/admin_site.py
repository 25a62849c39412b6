"""The admin site: its index is the spend dashboard; it adds a team page and CSV exports."""

import csv
from datetime import date, timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from costs.dashboard.selectors import dashboard_data, team_page_data
from costs.models import FxRate
from costs.usage.api.params import RangeParams
from heliox.csv_safety import safe_cell
from heliox.dates import add_months, month_start
from heliox.permissions import sees_organisation_spend
from teams.models import Team

PRESETS = {
    "this-month": "This month",
    "last-month": "Last month",
    "last-30": "Last 30 days",
    "last-90": "Last 90 days",
}
EXPORTS = {"teams": ("team",), "providers": ("provider",), "gpu-types": ("gpu_type",)}
EXPORT_COLUMNS = ("gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd")


def dashboard_range(request, today: date) -> tuple[date, date, str, dict]:
    """The range the page shows: a preset (default this month) or custom ?start=&end= ([start, end), UTC days)."""
    preset = request.GET.get("range", "")
    if "start" in request.GET or "end" in request.GET:
        params = RangeParams(data={k: v for k, v in request.GET.items() if k in ("start", "end")})
        if params.is_valid():
            return params.validated_data["start"], params.validated_data["end"], "custom", {}
        return *_preset("this-month", today), "this-month", params.errors
    if preset not in PRESETS:
        preset = "this-month"
    return *_preset(preset, today), preset, {}


def _preset(name: str, today: date) -> tuple[date, date]:
    tomorrow = today + timedelta(days=1)
    first = month_start(today)
    if name == "last-month":
        return add_months(first, -1), first
    if name == "last-30":
        return tomorrow - timedelta(days=30), tomorrow
    if name == "last-90":
        return tomorrow - timedelta(days=90), tomorrow
    return first, add_months(first, 1)


class HelioxAdminSite(admin.AdminSite):
    site_header = "Heliox"
    site_title = "Heliox"
    index_title = "GPU spend"

    def get_urls(self):
        return [
            path("dashboard/export/<slug:table>.csv", self.admin_view(self.export_view), name="dashboard_export"),
            path("dashboard/team/<uuid:pk>/", self.admin_view(self.team_view), name="team_dashboard"),
            *super().get_urls(),
        ]

    def _range_context(self, request) -> dict:
        start, end, preset, errors = dashboard_range(request, timezone.now().date())
        return {"start": start, "end": end, "last_day": end - timedelta(days=1), "preset": preset,
                "presets": PRESETS, "range_errors": errors,
                "range_query": f"start={start}&end={end}"}  # fmt: skip

    def index(self, request, extra_context=None):
        context = self._range_context(request)
        if not sees_organisation_spend(request.user):
            # Staff without the permissions see the admin's app list, not the organisation's spend.
            context["dashboard"] = None
            return super().index(request, extra_context={**context, **(extra_context or {})})
        currency = request.GET.get("currency", "USD").strip().upper() or "USD"
        try:
            data = dashboard_data(start=context["start"], end=context["end"], now=timezone.now(), currency=currency)
        except ValueError as error:  # no rate for that currency on some day of the range
            context["range_errors"] = {**context["range_errors"], "currency": [str(error)]}
            data = dashboard_data(start=context["start"], end=context["end"], now=timezone.now())
        context["dashboard"] = data
        context["currencies"] = ["USD", *FxRate.objects.order_by("currency").values_list("currency", flat=True)
                                 .distinct()]  # fmt: skip
        return super().index(request, extra_context={**context, **(extra_context or {})})

    def team_view(self, request, pk):
        if not (request.user.has_perm("teams.view_team") and sees_organisation_spend(request.user)):
            raise Http404
        team = get_object_or_404(Team, pk=pk)
        context = self._range_context(request)
        data = team_page_data(team_id=team.pk, start=context["start"], end=context["end"])
        chart = {"team_daily": {"labels": [d["date"].isoformat() for d in data["daily"]],
                                "data": [float(d["allocated_usd"]) for d in data["daily"]]}}  # fmt: skip
        return TemplateResponse(
            request,
            "admin/heliox/team_dashboard.html",
            {**self.each_context(request), **context, "team": team, "data": data, "team_chart": chart,
             "title": f"{team.name}: spend"},
        )  # fmt: skip

    def export_view(self, request, table: str):
        if not sees_organisation_spend(request.user):
            raise PermissionDenied
        if table not in EXPORTS:
            raise Http404
        context = self._range_context(request)
        data = dashboard_data(start=context["start"], end=context["end"], now=timezone.now())
        rows = {"teams": data["teams"], "providers": data["providers"], "gpu-types": data["gpu_types"]}[table]
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="heliox-{table}-{context["start"]}-{context["end"]}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow([*EXPORTS[table], *EXPORT_COLUMNS])
        for row in rows:
            writer.writerow(
                [safe_cell("" if row.get(c) is None else row.get(c)) for c in (*EXPORTS[table], *EXPORT_COLUMNS)]
            )
        return response
