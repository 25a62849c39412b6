"""The drill-down pages: home (one's teams, or the organisation) -> team -> model or label value -> job."""

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from costs.dashboard.drilldown import FIGURES
from costs.dashboard.member import home_data, label_data, label_tables, model_data, team_data
from costs.dashboard.selectors import saved_views
from costs.dashboard.viewstate import filter_bar, query_with
from costs.usage.api.params import view_filters
from costs.usage.selectors.shown import shown_row
from heliox.query_guard import refusal
from teams.selectors import team_scope
from web.selectors import spend_teams, visible_team
from web.views.common import chart_response, csv_response, found, member_required, page_context, wants

LABEL_VALUE_MAX = 200  # LabelUsageSnapshot.value
CHART_JOBS = 20  # a label value's chart: its costliest jobs (the table lists more)
DRILL_COLUMNS = (*FIGURES, "efficiency_pct", "previous_allocated_usd", "share_pct", "change_pct")
LLM_COLUMNS = ("llm_usd", "llm_calls", "llm_unpriced_calls", "total_usd")  # the home's teams: GPU + LLM
TEAM_TABLES = {  # a team page's other tables as CSV (?format=csv&table=...): their columns
    "llm": ("model_name", "llm_calls", "llm_unpriced_calls", "llm_usd"),
    "providers": ("provider", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"),
}


def _drill_csv(name: str, key: str, rows: list[dict], columns: tuple[str, ...] = DRILL_COLUMNS):
    cells = ([shown["key"], *(shown[column] for column in columns)] for shown in map(shown_row, rows))
    return csv_response(name=name, columns=(key, *columns), rows=cells)


def _table_errors(request) -> dict[str, list[str]]:
    """{"table": [why]} when ?table= names no table of the team page; {} when absent or known."""
    table = request.GET.get("table")
    if table is None or table in TEAM_TABLES:
        return {}
    return {"table": [f"{table!r} is not a table of the team page (one of: {', '.join(TEAM_TABLES)})."]}


def _team_table_csv(name: str, table: str, data: dict):
    """One of TEAM_TABLES as CSV: its rows, unknown cells empty; they add up to the page's cards."""
    columns = TEAM_TABLES[table]
    rows = data["llm_models"] if table == "llm" else data["providers"]
    return csv_response(name=f"{name}-{table}", columns=columns, rows=([row[c] for c in columns] for row in rows))


def _linked(rows: list[dict], links: list[str]) -> list[str]:
    """Each row's `href` (the next level of the drill-down); the links, for the chart's bars."""
    for row, link in zip(rows, links, strict=True):
        row["href"] = link
    return links


def _bars(rows: list[dict], links: list[str]) -> dict:
    """A chart of the rows' allocated spend: an unpriced row (None, unknown) has no bar, never a bar of $0."""
    amounts = (row["allocated_usd"] for row in rows)
    return {"labels": [row["label"] for row in rows], "links": links,
            "data": [None if amount is None else float(amount) for amount in amounts]}  # fmt: skip


def _label_key_errors(name: str, key: str) -> dict[str, list[str]]:
    """{name: [why]} when `key` is not a label key the rollup keeps (settings.HELIOX_COST_LABELS); {} when it is."""
    if key in settings.HELIOX_COST_LABELS:
        return {}
    keys = ", ".join(settings.HELIOX_COST_LABELS) or "none"
    return {name: [f"{key!r} is not a rolled-up label key (HELIOX_COST_LABELS: {keys})."]}


def _which_value(request, context: dict, the_team, key: str):
    """A label page asked for without a value: a 400 naming `value`; the page lists the key's values of the team in
    the range (the team page's table of that key), each linked to its page with the range kept."""
    errors = {"value": [f"required: which {key} value to show (value=...); the team page lists {the_team.name}'s "
                        f"{key} values in the range."]}  # fmt: skip
    if refused := refusal(request, {**context["range_errors"], **errors}):
        return refused
    start, end = context["start"], context["end"]
    tables = label_tables(team_id=the_team.pk, start=start, end=end, range_query=context["range_query"])
    return TemplateResponse(request, "web/label_values.html", {
        **context, "team": the_team, "errors": errors, "key": key,
        "label_tables": [table for table in tables if table["key"] == key], "title": f"{the_team.name}: which {key}?",
    }, status=400)  # fmt: skip


@member_required
def home(request):
    """One's teams (staff who may view the organisation's spend: every team), by team, with budgets."""
    context = page_context(request)
    scope = team_scope(request.user)
    start, end = context["start"], context["end"]
    team_ids, filters, errors = view_filters(request.GET, scope)
    context["range_errors"] = {**context["range_errors"], **errors}
    if refused := refusal(request, context["range_errors"]):  # data cannot show "this filter was left out"
        return refused
    data = home_data(start=start, end=end, team_ids=team_ids, today=timezone.now().date(), filters=filters)
    rows = data["level"].rows
    if wants(request, "csv"):
        return _drill_csv(f"heliox-teams-{start}-{end}", "team", rows, (*DRILL_COLUMNS, *LLM_COLUMNS))
    query = context["range_query"]
    links = _linked(rows, [f"{reverse('web:team', args=[row['team_id']])}?{query}" for row in rows])
    charts = {"spend_by_team": _bars(rows, links), "team_daily": data["daily"]}
    if wants(request, "json"):
        return chart_response(charts)
    return TemplateResponse(request, "web/home.html", {
        **context, **data, **filter_bar(request.GET, spend_teams(user=request.user)),
        "view_query": query_with(request.GET, range=None, start=str(start), end=str(end)), "charts": charts,
        "saved_page": "home", "saved_query": query_with(request.GET),
        "saved": saved_views(user=request.user, page="home"),
        "scope_is_org": scope is None, "no_team": scope == [],
        "title": "Organisation spend" if scope is None else "Your teams' spend",
    })  # fmt: skip


@member_required
def team(request, pk):
    """A team's spend against its parent, by model; 404 for a team the user may not see."""
    context = page_context(request)
    scope = team_scope(request.user)
    the_team = found(visible_team(user=request.user, pk=pk))
    errors = context["range_errors"]
    if wants(request, "csv") and "label" in request.GET:  # one label key's table: ?format=csv&label=project
        errors = {**errors, **_label_key_errors("label", request.GET["label"])}
    if wants(request, "csv"):  # the LLM or provider table: ?format=csv&table=llm
        errors = {**errors, **_table_errors(request)}
    if refused := refusal(request, errors):
        return refused
    start, end = context["start"], context["end"]
    data = team_data(team=the_team, start=start, end=end, scope=scope)
    labels = label_tables(team_id=the_team.pk, start=start, end=end, range_query=context["range_query"])
    rows = data["level"].rows
    if wants(request, "csv") and "label" in request.GET:
        table = found(next((t for t in labels if t["key"] == request.GET["label"]), None))
        return _drill_csv(f"heliox-{the_team.name}-{table['key']}-{start}-{end}", table["key"], table["level"].rows)
    if wants(request, "csv") and "table" in request.GET:
        return _team_table_csv(f"heliox-{the_team.name}-{start}-{end}", request.GET["table"], data)
    if wants(request, "csv"):
        return _drill_csv(f"heliox-{the_team.name}-models-{start}-{end}", "model_name", rows)
    base = reverse("web:model", args=[the_team.pk])
    links = _linked(rows, [f"{base}?{urlencode({'model': row['key']})}&{context['range_query']}" for row in rows])
    charts = {"spend_by_model": _bars(rows, links), "team_daily": data["daily"]}
    if wants(request, "json"):
        return chart_response(charts)
    return TemplateResponse(request, "web/team.html", {
        **context, **data, "team": the_team, "charts": charts, "title": f"{the_team.name}: spend",
        "label_tables": labels,
        "parent_label": "the organisation" if scope is None else "your teams",
    })  # fmt: skip


@member_required
def model(request, pk):
    """A team's model: its spend against the team's and the jobs that ran it in the range."""
    context = page_context(request)
    the_team = found(visible_team(user=request.user, pk=pk))
    model_name = request.GET.get("model", "")
    if refused := refusal(request, context["range_errors"]):
        return refused
    start, end = context["start"], context["end"]
    data = model_data(team=the_team, model_name=model_name, start=start, end=end)
    if wants(request, "csv"):
        columns = ("id", "external_id", "gpu_type", "gpu_count", "provider", "start_time", "end_time", "status",
                   "gpu_hours")  # fmt: skip
        return csv_response(
            name=f"heliox-{the_team.name}-{model_name or 'unnamed'}-jobs-{start}-{end}", columns=columns,
            rows=([job.pk, job.external_id, job.gpu_type, job.gpu_count, job.provider, job.start_time, job.end_time,
                   job.status, job.held_gpu_hours()] for job in data["jobs"]),
        )  # fmt: skip
    return TemplateResponse(request, "web/model.html", {
        **context, **data, "team": the_team, "model_name": model_name, "model_label": model_name or "(unnamed)",
        "model_query": urlencode({"model": model_name}),
        "jobs_query": urlencode({"team": the_team.pk, "model_name": model_name}),
        "title": f"{the_team.name}: {model_name or '(unnamed)'}",
    })  # fmt: skip


@member_required
def label(request, pk):
    """A team's label value (?key=project&value=...): its spend against the team's and its jobs with their
    figures in the range; 404 for a team the user may not see or a key the rollup does not keep."""
    context = page_context(request)
    the_team = found(visible_team(user=request.user, pk=pk))
    key, value = request.GET.get("key", ""), request.GET.get("value", "")
    if key_errors := _label_key_errors("key", key):
        return refusal(request, {**context["range_errors"], **key_errors}) or TemplateResponse(
            request, "web/bad_request.html", {**context, "team": the_team, "errors": key_errors,
                                              "title": f"{the_team.name}: no such label key"}, status=400)  # fmt: skip
    if not value:
        return _which_value(request, context, the_team, key)
    if len(value) > LABEL_VALUE_MAX:
        raise Http404  # no label row can hold such a value
    if refused := refusal(request, context["range_errors"]):
        return refused
    start, end = context["start"], context["end"]
    data = label_data(team=the_team, key=key, value=value, start=start, end=end)
    jobs = data["jobs"]
    if wants(request, "csv"):
        return _drill_csv(f"heliox-{the_team.name}-{key}-{value}-jobs-{start}-{end}", "job", jobs)
    links = _linked(jobs, [reverse("web:job", args=[row["key"]]) for row in jobs])
    charts = {"spend_by_job": _bars(jobs[:CHART_JOBS], links[:CHART_JOBS])}
    if wants(request, "json"):
        return chart_response(charts)
    return TemplateResponse(request, "web/label.html", {
        **context, **data, "team": the_team, "key": key, "value": value, "charts": charts,
        "label_query": urlencode({"key": key, "value": value}), "title": f"{the_team.name}: {key} = {value}",
        "parent_label": f"{key} = {value}", "jobs_heading": f"Jobs with {key} = {value}" + (
            f" (the costliest {len(jobs)})" if len(jobs) == data["jobs_shown"] else ""),
    })  # fmt: skip
