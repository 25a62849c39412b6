"""The member UI's spend pages: a user's teams (or the organisation), a team, a team's model or label value.

Each is a drill-down level (costs.dashboard.drilldown) with its daily series and the jobs
below it; money in USD, ranges [start, end) of UTC days, from the rollups only.
"""

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, date, datetime, time
from urllib.parse import urlencode
from uuid import UUID

from django.urls import reverse
from django.utils import timezone

from costs.budgets.models import Budget
from costs.budgets.selectors import budget_statuses
from costs.dashboard.drilldown import (
    FIGURES,
    UNNAMED,
    Level,
    drill_level,
    job_level,
    label_levels,
    level_card,
    row_share,
)
from costs.dashboard.selectors import COSTLIEST_JOBS, largest_jobs
from costs.dashboard.team_figures import llm_shown, llm_summary, team_budgets, team_providers, with_llm
from costs.usage.selectors.backlog import owed_days
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.labels import LABEL_PREFIX
from costs.usage.selectors.shown import chart_value, unknown_when_unpriced
from costs.usage.selectors.spend import ZERO_HOURS, ZERO_USD, SpendReport, spend_summary
from costs.usage.selectors.top_jobs import most_expensive_jobs
from heliox.dates import periods_between
from jobs.models import Job
from teams.models import Team

JOBS_SHOWN = 50


def _shown_row(row: dict) -> dict:
    """A row (or a card) as shown: wholly unpriced, its estimate and allocated share None, and so its change."""
    shown = unknown_when_unpriced(row)
    return shown if shown["allocated_usd"] is not None else {**shown, "change_pct": None}


def _shown(level: Level) -> Level:
    """The level as its table shows it (_shown_row)."""
    return replace(level, rows=[_shown_row(row) for row in level.rows])


def _card(level: Level, **more) -> dict:
    """The level's cards, unknown (None) where its figures are wholly unpriced, as its table's rows."""
    return {**_shown_row(level_card(level)), **more}


def _share(level: Level) -> dict:
    """A one-row level's share of its parent, for its cards."""
    return {"share_pct": level.rows[0]["share_pct"] if level.rows else None, "share_by": level.share_by}


def _with_llm_rows(level: Level, llm: SpendReport, group: str) -> Level:
    """The level's rows as shown with their LLM spend beside (team_figures.with_llm), largest GPU + LLM first (ties
    in the level's order); a group with LLM calls only has a row of its own (no GPU-hours: `gpu_none`)."""
    by_key = {row[group]: row for row in llm.rows}
    present = {row["key"] for row in level.rows}
    llm_only = [_no_gpu_row(key, level) for key in by_key if key not in present]
    rows = [with_llm(_shown_row(row), by_key.get(row["key"])) for row in [*level.rows, *llm_only]]
    rows.sort(key=lambda row: -(row["total_usd"] or ZERO_USD))
    return replace(level, rows=rows)


def _no_gpu_row(key: str, level: Level) -> dict:
    """A drill row for a group that made LLM calls but used no GPU in the range."""
    zeros = {name: ZERO_HOURS if "hours" in name else ZERO_USD for name in FIGURES}
    row = {"key": key, "label": key or UNNAMED, **zeros, "efficiency_pct": None, "previous_allocated_usd": ZERO_USD,
           "change_pct": None, "gpu_none": True}  # fmt: skip
    return {**row, "share_pct": row_share(row, level.totals, level.share_by)}


def _daily(*, start: date, end: date, team_ids: Collection[UUID] | None, filters: SpendFilter = NO_FILTER) -> dict:
    """Allocated USD per day of the range (0 on days without usage, None, a gap, on wholly unpriced ones and on days
    still to come), for the daily chart."""
    rows = spend_summary(start=start, end=end, group_by=(), interval="day", team_ids=team_ids, filters=filters).rows
    by_day = {row["period"]: row for row in rows}
    days, today, nothing = periods_between(start, end, "day"), timezone.now().date(), {"allocated_usd": ZERO_USD}
    rows_by_day = [(day, by_day.get(day, nothing)) for day in days]
    return {
        "labels": [day.isoformat() for day in days],
        "data": [chart_value(row, row["allocated_usd"], day=day, today=today) for day, row in rows_by_day],
    }


def home_data(
    *, start: date, end: date, team_ids: Collection[UUID] | None, today: date, filters: SpendFilter = NO_FILTER
) -> dict:
    """The user's teams (None: the organisation's) by team, the daily series and their active budgets.

    `filters` narrows the cards, chart and table; budgets (a team's whole spend) follow the teams only."""
    level = drill_level(start=start, end=end, group="team", team_ids=team_ids, filters=filters)
    llm = llm_summary(start=start, end=end, group="team", team_ids=team_ids, filters=filters)
    level = _with_llm_rows(level, llm, "team")
    ids = dict(Team.objects.filter(name__in=[row["key"] for row in level.rows]).values_list("name", "id"))
    for row in level.rows:
        row["team_id"] = ids.get(row["key"])
    budgets = Budget.objects.filter(active=True).select_related("team")
    if team_ids is not None:
        budgets = budgets.filter(team__in=team_ids)
    return {
        "level": level,
        "card": with_llm(_card(level), llm.totals),
        "daily": _daily(start=start, end=end, team_ids=team_ids, filters=filters),
        "budgets": budget_statuses(budgets=budgets, as_of=today),
        "owed": owed_days(start=start, end=end),
    }


def team_data(*, team: Team, start: date, end: date, scope: Collection[UUID] | None) -> dict:
    """A team against its parent (the user's teams, or the organisation) and its models, its LLM spend by model,
    its GPU spend by provider, its active budgets, daily series, big jobs and the jobs that cost most in the range
    (their days inside it). The LLM, provider and budget figures are the admin's team page's (team_figures)."""
    own = drill_level(start=start, end=end, group="team", team_ids=scope, only=team.name)
    models = _shown(drill_level(start=start, end=end, group="model_name", team_ids=[team.pk]))
    llm = llm_summary(start=start, end=end, group="model_name", team_ids=[team.pk])
    return {
        "level": models,
        "card": with_llm(_card(own, **_share(own)), llm.totals),
        "llm_models": [llm_shown(row) for row in llm.rows],
        "llm_totals": llm_shown(llm.totals),
        "providers": team_providers(team_id=team.pk, start=start, end=end),
        "budgets": team_budgets(team_id=team.pk, today=timezone.now().date()),
        "daily": _daily(start=start, end=end, team_ids=[team.pk]),
        "largest_jobs": largest_jobs(team_id=team.pk, start=start, end=end),
        "costliest_jobs": most_expensive_jobs(start=start, end=end, team_ids=[team.pk], limit=COSTLIEST_JOBS),
    }


def label_tables(*, team_id: UUID, start: date, end: date, range_query: str) -> list[dict]:
    """The team by each rolled-up label key: {"key", "level"}, each row linked to its value's page (range kept).

    The member UI's team page and the admin's team page show them; the link is the member UI's, where staff
    who may view the organisation's spend see every team.
    """
    base = reverse("web:label", args=[team_id])
    tables = []
    for key, level in label_levels(start=start, end=end, team_id=team_id):
        level = _shown(level)
        for row in level.rows:
            row["href"] = f"{base}?{urlencode({'key': key, 'value': row['key']})}&{range_query}"
        tables.append({"key": key, "level": level})
    return tables


def label_data(*, team: Team, key: str, value: str, start: date, end: date) -> dict:
    """One label value of a team against the team, and the team's jobs with that value, costliest in the range
    first (their figures inside it, against the value's)."""
    own = drill_level(start=start, end=end, group=LABEL_PREFIX + key, team_ids=[team.pk], only=value)
    jobs = job_level(start=start, end=end, team_id=team.pk, label=(key, value), parent=own.totals, limit=JOBS_SHOWN)
    return {
        "card": _card(own, **_share(own)),
        "jobs": [_shown_row(row) for row in jobs],
        "jobs_shown": JOBS_SHOWN,
    }


def model_data(*, team: Team, model_name: str, start: date, end: date) -> dict:
    """One model of a team against the team, and the team's jobs of that model that ran in the range."""
    own = drill_level(start=start, end=end, group="model_name", team_ids=[team.pk], only=model_name)
    begin, finish = (datetime.combine(day, time.min, tzinfo=UTC) for day in (start, end))
    jobs = (
        Job.objects.filter(team=team, model_name=model_name)
        .overlapping(begin, finish)
        .select_related("team", "totals")
        .order_by("-start_time")
    )
    return {
        "card": _card(own, **_share(own)),
        "jobs": list(jobs[:JOBS_SHOWN]),
        "jobs_shown": JOBS_SHOWN,
    }
