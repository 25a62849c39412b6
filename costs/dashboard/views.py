"""The dashboard's pages: the admin index (organisation spend), a team's page and the CSV exports.

The admin site (heliox.admin_site) routes to these; every figure comes from
costs.dashboard.selectors, so the pages show what the API and `report` show.
"""

import csv
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone

from costs.billing.allocation import IDLE_MODES
from costs.dashboard.member import label_tables
from costs.dashboard.selectors import currencies_with_rates, dashboard_data, saved_views, team_page_data
from costs.dashboard.viewstate import (
    VIEW_DEFAULTS,
    choice_links,
    filter_bar,
    kept_fields,
    query_with,
    range_links,
)
from costs.usage.api.params import RangeParams, view_filters
from costs.usage.selectors.shown import chart_value, shown_row
from costs.usage.selectors.spend import INTERVALS
from heliox.csv_safety import safe_cell
from heliox.dates import add_months, month_start
from heliox.permissions import sees_organisation_spend
from heliox.query_guard import refusal
from teams.models import Team

PRESETS = {
    "this-month": "This month",
    "last-month": "Last month",
    "last-30": "Last 30 days",
    "last-90": "Last 90 days",
}
EXPORT_COLUMNS = ("gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd")
EFFICIENCY_COLUMNS = ("used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct", "waste_usd",
                      "allocated_waste_usd")  # fmt: skip
EXPORTS = {
    "teams": ("team", *EXPORT_COLUMNS, "llm_usd", "total_usd", *EFFICIENCY_COLUMNS, "previous_total_usd", "change_pct"),
    "providers": ("provider", *EXPORT_COLUMNS, *EFFICIENCY_COLUMNS, "previous_spend_usd", "change_pct"),
    "gpu-types": ("gpu_type", *EXPORT_COLUMNS, *EFFICIENCY_COLUMNS, "previous_spend_usd", "change_pct"),
}
# The range card whose previous figure and change a table's TOTAL row carries (compare.card_changes): the teams
# table compares GPU + LLM spend, the others GPU spend (allocated + idle), as their rows do.
TOTAL_CARD = {"teams": "all", "providers": "spend", "gpu-types": "spend"}


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


def range_context(request) -> dict:
    """The range the page shows and the range picker's context: preset links and the custom form's hidden
    fields, both keeping the rest of the view (step, idle mode, currency, filters)."""
    start, end, preset, errors = dashboard_range(request, timezone.now().date())
    return {"start": start, "end": end, "last_day": end - timedelta(days=1), "preset": preset,
            "days": (end - start).days, "presets": PRESETS, "range_errors": errors,
            "range_query": f"start={start}&end={end}", "range_kept": kept_fields(request.GET),
            "range_links": range_links(request.GET, PRESETS, preset)}  # fmt: skip


def index_context(request) -> dict:
    """The admin index's context: the organisation's dashboard, or None for staff who may not see it."""
    context = range_context(request)
    if not sees_organisation_spend(request.user):
        # Staff without the permissions see the admin's app list, not the organisation's spend.
        return {**context, "dashboard": None}
    data = _dashboard(request, context)
    # The CSV exports: the days shown (not "last 30 days" again tomorrow), the view as shown.
    shown = {"currency": data["currency"], "idle": data["idle"], "interval": data["interval"]}
    view_query = query_with(request.GET, range=None, start=str(context["start"]), end=str(context["end"]), **shown)
    currencies = [(code, code) for code in ("USD", *currencies_with_rates())]
    teams = list(Team.objects.order_by("name").values_list("id", "name"))
    saved = {"saved_page": "dashboard", "saved_query": query_with(request.GET),
             "saved": saved_views(user=request.user, page="dashboard")}  # fmt: skip
    return {**context, **filter_bar(request.GET, teams), **saved, "dashboard": data, "view_query": view_query,
            "view_links": [
        ("Idle", choice_links(request.GET, "idle", [("separate", "kept apart"), ("share", "shared")], data["idle"])),
        ("Per", choice_links(request.GET, "interval", [(step, step) for step in INTERVALS], data["interval"])),
        *([("In", choice_links(request.GET, "currency", currencies, data["currency"]))] if len(currencies) > 1 else []),
    ]}  # fmt: skip


def _view(request, context: dict) -> dict:
    """Idle mode and step from the URL; an unknown value is named in the errors and the default used."""
    view = {}
    for name, allowed in (("idle", IDLE_MODES), ("interval", INTERVALS)):
        value = request.GET.get(name, VIEW_DEFAULTS[name]).strip() or VIEW_DEFAULTS[name]
        if value not in allowed:
            context["range_errors"] = {
                **context["range_errors"],
                name: [f"{value!r} is not one of {', '.join(allowed)}"],
            }
            value = VIEW_DEFAULTS[name]
        view[name] = value
    return view


def _dashboard(request, context: dict) -> dict:
    """dashboard_data for the view in the URL; a currency without rates falls back to USD, the error in `context`."""
    currency = request.GET.get("currency", "USD").strip().upper() or "USD"
    view: dict = _view(request, context)
    team_ids, filters, errors = view_filters(request.GET, scope=None)
    context["range_errors"] = {**context["range_errors"], **errors}
    view.update(team_ids=team_ids, filters=filters)
    try:
        return dashboard_data(start=context["start"], end=context["end"], now=timezone.now(), currency=currency,
                              **view)  # fmt: skip
    except ValueError as error:  # no rate for that currency on some day of the range
        context["range_errors"] = {**context["range_errors"], "currency": [str(error)]}
        return dashboard_data(start=context["start"], end=context["end"], now=timezone.now(), **view)


def team_view(site, request, pk):
    """A team's spend page (staff who may view teams and the organisation's spend)."""
    if not (request.user.has_perm("teams.view_team") and sees_organisation_spend(request.user)):
        raise Http404
    team = get_object_or_404(Team, pk=pk)
    context = range_context(request)
    data = team_page_data(team_id=team.pk, start=context["start"], end=context["end"])
    labels = label_tables(team_id=team.pk, start=context["start"], end=context["end"],
                          range_query=context["range_query"])  # fmt: skip
    today = timezone.now().date()  # wholly unpriced days and days still to come (UTC): gaps, not $0
    chart = {"team_daily": {"labels": [d["date"].isoformat() for d in data["daily"]],
                            "data": [chart_value(d, d["allocated_usd"], day=d["date"], today=today)
                                     for d in data["daily"]]}}  # fmt: skip
    return TemplateResponse(
        request,
        "admin/heliox/team_dashboard.html",
        {**site.each_context(request), **context, "team": team, "data": data, "team_chart": chart,
         "label_tables": labels, "title": f"{team.name}: spend"},
    )  # fmt: skip


def _export_row(row: dict, columns) -> list:
    """A CSV row: unknown cells (None; unmeasured, unpriced: costs.usage.selectors.shown) empty, never 0."""
    shown = shown_row(row)
    return [safe_cell("" if shown.get(column) is None else shown[column]) for column in columns]


def export_view(request, table: str):
    """One of the dashboard's tables as CSV, for the range shown."""
    if not sees_organisation_spend(request.user):
        raise PermissionDenied
    if table not in EXPORTS:
        raise Http404
    context = range_context(request)
    data = _dashboard(request, context)
    if refused := refusal(request, context["range_errors"]):  # a CSV cannot say "shown in USD instead"
        return refused
    shown = data["tables"][table]
    currency = data["currency"].lower()
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="heliox-{table}-{context["start"]}-{context["end"]}.csv"'
    writer = csv.writer(response)
    columns = EXPORTS[table]
    writer.writerow([c.replace("_usd", f"_{currency}") for c in columns])
    # The rows, the bill's idle part and the totals: the money columns add up to the TOTAL row, as on the page.
    # Each row and the TOTAL row against the previous period, as the page shows them (the idle row has no change).
    previous = columns[-2]
    rows = [{**row, previous: row["previous"]} for row in shown["rows"]]
    card = data["kpis"]["change"][TOTAL_CARD[table]]
    total = {**shown["totals"], columns[0]: "TOTAL", previous: card["previous"], "change_pct": card["change_pct"]}
    for row in [*rows, *([shown["idle"]] if shown["idle"] else []), total]:
        writer.writerow(_export_row(row, columns))
    return response
