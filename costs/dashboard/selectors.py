"""Everything the admin dashboard and the team page show, from rollups and snapshots only.

A bounded number of queries whatever the size of the data: each figure is one of
the spend selectors (two or three queries) or an indexed count.
"""

import calendar
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import FloatField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from costs.billing.allocation import SEPARATE
from costs.billing.money import ZERO, to_cents
from costs.budgets.models import Budget
from costs.budgets.selectors import budget_statuses
from costs.dashboard.compare import add_change, card_changes, gpu_spend, llm_spend, pivot_change, total_spend
from costs.dashboard.drilldown import previous_period
from costs.dashboard.models import SavedView
from costs.dashboard.team_figures import llm_summary, team_budgets, team_providers
from costs.usage.models import FxRate
from costs.usage.selectors.backlog import owed_days
from costs.usage.selectors.bill_coverage import unbilled_days
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.fx import fx_rates, spend_summary_in
from costs.usage.selectors.labels import usage_source
from costs.usage.selectors.shown import chart_value, shown_amount, unknown_when_unpriced
from costs.usage.selectors.spend import IDLE_LABEL, SpendReport, spend_summary, team_spend
from costs.usage.selectors.timeseries import spend_timeseries
from costs.usage.selectors.top_jobs import most_expensive_jobs
from heliox.dates import month_start, utc_day_bounds
from jobs.models import Job
from teams.models import Team

TOP_WASTE = 10  # teams and jobs in the dashboard's "top waste" tables
COSTLIEST_JOBS = 10  # a team page's most expensive jobs in the range (both UIs)


def _money(value: Decimal | None) -> Decimal:
    return value if value is not None else ZERO


def currencies_with_rates() -> list[str]:
    """The currencies the dashboard can show besides USD: those with an exchange rate."""
    return list(FxRate.objects.order_by("currency").values_list("currency", flat=True).distinct())


def _month_to_date(today: date, now: datetime, currency: str = "USD", scope: dict | None = None) -> dict:
    """Spend since the first of this month and the month-end projection at the current run-rate, in `currency`.

    When part of the month has no rate for `currency`, the card falls back to USD and
    says so (`currency` of the result), rather than show USD under another label.
    """
    first, scope = month_start(today), scope or {}
    try:
        totals = _summary(currency, start=first, end=today + timedelta(days=1), group_by=(), **scope).totals
    except ValueError:  # no rate for part of this month: show it in USD rather than not at all
        currency = "USD"
        totals = spend_summary(start=first, end=today + timedelta(days=1), group_by=(), **scope).totals
    # Wholly unpriced GPU usage: spent and projected unknown (None), not 0; partly priced, the unpriced hours beside.
    spent = shown_amount(totals, _money(totals["allocated_usd"]) + _money(totals["idle_usd"]))
    elapsed = Decimal((now - utc_day_bounds(first)[0]).total_seconds()) / 86400
    days = calendar.monthrange(today.year, today.month)[1]
    projected = to_cents(spent / elapsed * days) if elapsed > 0 and spent is not None else spent
    return {"spent": spent, "projected": projected, "days_in_month": days, "currency": currency,
            "unpriced_gpu_hours": totals["unpriced_gpu_hours"]}  # fmt: skip


def _summary(currency: str, **kwargs):
    """spend_summary in USD, or converted at each day's rate (same keys; the page names the currency)."""
    if currency == "USD":
        return spend_summary(**kwargs)
    return spend_summary_in(currency=currency, rename=False, **kwargs)[0]


def _kpis(*, totals: dict, llm_totals: dict, start: date, end: date, now: datetime, currency: str, idle: str,
          **scope) -> dict:  # fmt: skip
    """The cards: spend, LLM spend, bill, idle and its share, GPU-hours, running jobs, unpriced usage, budgets.

    Narrowed by `scope` (team_ids, filters); budgets are a team's whole spend, so only the team narrows them."""
    billed, idle_usd = totals["billed_usd"], totals["idle_usd"]  # None: no bill in the range (unknown, not 0)
    team_ids, filters = scope["team_ids"], scope["filters"]
    unpriced = usage_source(start=start, end=end, group_by=(), **scope)[0].filter(unpriced_gpu_hours__gt=0)
    budgets = Budget.objects.filter(active=True).select_related("team")
    budgets = budgets if team_ids is None else budgets.filter(team__in=team_ids)
    return {  # spend and GPU + LLM: unknown (None) when 0 and no GPU-hour is priced
        "spend": shown_amount(totals, totals["allocated_usd"] + _money(idle_usd)),
        "llm": llm_totals["llm_usd"],
        "llm_calls": llm_totals["llm_calls"],
        "all": shown_amount(totals, totals["allocated_usd"] + _money(idle_usd) + llm_totals["llm_usd"]),
        "billed": billed,
        "estimated": totals["estimated_usd"],
        "gpu_hours": totals["gpu_hours"],
        "idle": idle_usd,
        "idle_share": (idle_usd / billed * 100).quantize(Decimal("0.1")) if billed else None,
        "running_jobs": Job.objects.running().filter(filters.jobs_q(team_ids)).count(),
        "unpriced_gpu_hours": totals["unpriced_gpu_hours"],
        "efficiency_pct": totals["efficiency_pct"],  # None: no job measured (unknown, not 0 %)
        "measured_gpu_hours": totals["measured_gpu_hours"],
        "unmeasured_gpu_hours": totals["unmeasured_gpu_hours"],
        "waste": totals["waste_usd"],
        "allocated_waste": totals["allocated_waste_usd"],
        "unpriced_rows": unpriced.count(),
        "budgets": budget_statuses(budgets=budgets, as_of=now.date()),
        "month": _month_to_date(now.date(), now, currency, scope),
    }


def _charts(*, by_team, by_provider, by_gpu, start: date, end: date, idle: str, currency: str, interval: str,
            scope: dict, today: date) -> dict:  # fmt: skip
    """The chart series: cost per day/week/month by provider, spend by team, GPU-hours by type, billed vs
    estimated, idle per period. Money in `currency`, each day at its own rate. Unknown is null (a gap): a wholly
    unpriced team, provider or period (shown.shown_amount) and a period starting after `today`."""
    common: dict[str, Any] = {"start": start, "end": end, "interval": interval, "idle": idle, "currency": currency,
                              **scope}  # fmt: skip
    periodic = spend_timeseries(group_by=["provider"], **common)
    org = spend_timeseries(group_by=(), **common)
    suffix = "_usd" if currency == "USD" else f"_{currency.lower()}"

    def value(amount: Decimal | None) -> float | None:
        return None if amount is None else float(amount)

    org_periods = {p["period"]: p for series in org["series"] for p in series["points"]}
    teams = [row for row in by_team.rows if row["team"] != IDLE_LABEL]
    return {
        "interval": interval,
        "daily_by_provider": {
            "labels": [period.isoformat() for period in periodic["periods"]],
            "datasets": [
                {
                    "label": series["group"]["provider"],
                    "data": [_period_spend(p, suffix, today) for p in series["points"]],
                }
                for series in periodic["series"]
            ],
        },
        "spend_by_team": {
            "labels": [row["team"] for row in teams],
            "data": [value(shown_amount(row, row["total_usd"])) for row in teams],
        },
        "hours_by_gpu": {
            "labels": [row["gpu_type"] for row in by_gpu],
            "data": [float(row["gpu_hours"]) for row in by_gpu],
        },
        # A provider with no bill in the range (on-prem, or not arrived yet): billed is null, labelled so.
        "billed_vs_estimated": {
            "labels": [row["provider"] for row in by_provider.rows],
            "billed": [value(row["billed_usd"]) for row in by_provider.rows],
            "estimated": [value(unknown_when_unpriced(row)["estimated_usd"]) for row in by_provider.rows],
            "no_bill": [row["billed_usd"] is None for row in by_provider.rows],
        },
        # Idle is part of a bill: a period whose bill has not arrived is a gap, not 0.
        "idle_over_time": {
            "labels": [period.isoformat() for period in org["periods"]],
            "data": [_period_idle(org_periods.get(period), suffix) for period in org["periods"]],
        },
    }


def _period_spend(point: dict, suffix: str, today: date) -> float | None:
    """A period's GPU spend (allocated + idle) for the chart: None (a gap) when wholly unpriced or still to come."""
    amount = point[f"allocated{suffix}"] + _money(point[f"idle{suffix}"])
    return chart_value(point, amount, day=point["period"], today=today)


def _period_idle(point: dict | None, suffix: str) -> float | None:
    """A period's idle cost for the chart: None (a gap) when it has no bill."""
    if point is None or point[f"billed{suffix}"] is None:
        return None
    return float(point[f"idle{suffix}"])


UNPRICED = "unpriced"  # a team x provider cell whose GPU-hours are all unpriced, with no share of a bill


def team_provider_pivot(rows: list[dict]) -> dict:
    """Team x provider: GPU spend (allocated + idle) per cell, the bill's idle as its own row, totals both ways.

    Providers as columns, largest first; teams as rows in the rows' (spend) order. A cell none of whose
    GPU-hours is priced (shown.shown_amount) is UNPRICED, not $0; a total of such cells only is None (unknown),
    a total with some known cell is theirs. A missing cell (nothing ran) is None.
    """
    cells: dict[str, dict[str, Decimal | str]] = {}
    for row in rows:
        amount = shown_amount(row, row["allocated_usd"] + _money(row["idle_usd"]))
        cells.setdefault(row["team"], {})[row["provider"]] = UNPRICED if amount is None else amount
    by_provider: dict[str, list] = {}
    for team_cells in cells.values():
        for provider, cell in team_cells.items():
            by_provider.setdefault(provider, []).append(cell)
    providers = sorted(by_provider, key=lambda name: (-(_known_sum(by_provider[name]) or ZERO), name))
    return {
        "providers": providers,
        "rows": [
            {"team": team, "cells": [team_cells.get(p) for p in providers], "total": _known_sum(team_cells.values())}
            for team, team_cells in cells.items()
        ],
        "totals": [_known_sum(by_provider[p]) for p in providers],
        "total": _known_sum(amount for amounts in by_provider.values() for amount in amounts),
    }


def _known_sum(amounts) -> Decimal | None:
    """The sum of the known amounts; None when every one is UNPRICED (and 0 for none at all)."""
    amounts = list(amounts)
    known = [amount for amount in amounts if amount != UNPRICED]
    return sum(known, ZERO) if known or not amounts else None


def _table(report, key: str, team_ids: dict | None = None) -> dict:
    """A table of the page: its rows (largest spend first), the bill's idle row when grouped by team, the totals.

    rows + idle add up to totals, column by column: what the CSV export writes too.
    """
    rows = [unknown_when_unpriced(row) for row in report.rows if row[key] != IDLE_LABEL]
    if team_ids is not None:
        rows = [{**row, "team_id": team_ids.get(row["team"])} for row in rows]
    idle = next((row for row in report.rows if row[key] == IDLE_LABEL), None)
    return {"key": key, "rows": rows, "idle": idle, "totals": unknown_when_unpriced(report.totals)}


def _reports(currency: str, **common) -> dict[str, SpendReport]:
    """The spend groupings the dashboard shows over one range (common: start, end, idle, team_ids, filters)."""
    return {
        "teams": _summary(currency, group_by=["team"], kind="all", **common),
        "providers": _summary(currency, group_by=["provider"], **common),
        "gpu-types": _summary(currency, group_by=["gpu_type"], **common),
        "llm": _summary(currency, group_by=["provider"], kind="llm", **common),
        "models": _summary(currency, group_by=["model_name"], kind="all", **common),
        "team-provider": _summary(currency, group_by=["team", "provider"], **common),
    }


def _previous_reports(currency: str, *, start: date, end: date, **common) -> dict[str, SpendReport] | None:
    """_reports over the previous period of the same length; None when `currency` has no rate for all of it."""
    before_start, before_end = previous_period(start, end)
    try:
        return _reports(currency, start=before_start, end=before_end, **common)
    except ValueError:
        return None


def dashboard_data(
    *, start: date, end: date, now: datetime, idle: str = SEPARATE, currency: str = "USD", interval: str = "day",
    team_ids: Collection[UUID] | None = None, filters: SpendFilter = NO_FILTER,
) -> dict:  # fmt: skip
    """KPIs, chart series and tables for [start, end): money in `currency` (USD or converted day by day).

    GPU-hours, UTC days. Budgets stay in USD, the currency they are set in. Raises
    ValueError when a day of the range has no rate for `currency`. The teams table has
    GPU and LLM spend side by side (kind "all"); the others are GPU spend. `team_ids` and
    `filters` narrow every card, chart and table (bill and idle then as spend_summary says).
    Every range card and table row carries its change against the previous period (compare).
    """
    rows = fx_rates(currency, start, end) if currency != "USD" else {}
    used = sorted({row.pk: row for row in rows.values()}.values(), key=lambda row: row.as_of)
    scope: dict[str, Any] = {"team_ids": team_ids, "filters": filters}
    common: dict[str, Any] = {"start": start, "end": end, "idle": idle, **scope}
    now_reports, before = _reports(currency, **common), _previous_reports(currency, **common)
    by_team, by_provider, by_gpu, llm = (now_reports[name] for name in ("teams", "providers", "gpu-types", "llm"))
    gpu_rows = [unknown_when_unpriced(row) for row in sorted(by_gpu.rows, key=lambda r: -r["gpu_hours"])]
    charts = _charts(by_team=by_team, by_provider=by_provider, by_gpu=gpu_rows, start=start, end=end, idle=idle,
                     currency=currency, interval=interval, scope=scope, today=now.date())  # fmt: skip
    tables = _tables(now_reports, before, gpu_rows)
    # Providers whose bill is missing on some days of the range: their billed and idle are those days' only.
    bill_hidden = filters.hides_the_bill(team_ids)
    unbilled = {} if bill_hidden else unbilled_days(start=start, end=end, filters=filters)
    for row in tables["providers"]["rows"]:
        row["unbilled"] = unbilled.get(row["provider"])
    kpis = _kpis(totals=by_provider.totals, llm_totals=llm.totals, now=now, currency=currency, **common)
    kpis["change"] = card_changes(totals=by_provider.totals, llm_totals=llm.totals,
                                  previous=before["teams"] if before else None)  # fmt: skip
    previous_pivot = team_provider_pivot(before["team-provider"].rows) if before else None
    wasteful_teams = sorted((row for row in by_team.rows if row["waste_usd"] > 0), key=lambda r: -r["waste_usd"])
    return {
        "kpis": kpis,
        "has_data": bool(by_provider.rows) or bool(llm.rows),
        "llm_providers": add_change(llm.rows, before["llm"] if before else None, ("provider",), llm_spend),
        "tables": tables,
        "teams": tables["teams"]["rows"],
        "top_models": tables["models"]["rows"],
        "team_by_provider": pivot_change(team_provider_pivot(now_reports["team-provider"].rows), previous_pivot),
        "top_waste": {
            "teams": wasteful_teams[:TOP_WASTE],
            "jobs": most_expensive_jobs(
                start=start, end=end, team_ids=team_ids, limit=TOP_WASTE, idle=idle, order="waste", filters=filters
            ),
        },
        "providers": by_provider.rows,
        "gpu_types": tables["gpu-types"]["rows"],
        "charts": {**charts, "currency": currency},
        "currency": currency,
        "idle": idle,
        "interval": interval,
        "fx_rates": used,
        "bill_hidden": bill_hidden,
        "unbilled": unbilled,
        "owed": owed_days(start=start, end=end),
        "previous": {"start": previous_period(start, end)[0], "known": before is not None},
    }


def _tables(reports: dict[str, SpendReport], before: dict[str, SpendReport] | None, gpu_rows: list[dict]) -> dict:
    """The tables (rows, idle row, totals), each row against the previous period."""
    team_ids_by_name = dict(Team.objects.values_list("name", "id"))
    models = [unknown_when_unpriced(row) for row in reports["models"].rows
              if row["model_name"] != IDLE_LABEL]  # fmt: skip
    tables = {
        "teams": (_table(reports["teams"], "team", team_ids_by_name), total_spend),
        "providers": (_table(reports["providers"], "provider"), gpu_spend),
        "gpu-types": ({**_table(reports["gpu-types"], "gpu_type"), "rows": gpu_rows}, gpu_spend),
        "models": ({"key": "model_name", "rows": models[:10]}, total_spend),
    }
    return {
        name: {**table, "rows": add_change(table["rows"], before[name] if before else None, (table["key"],), figure)}
        for name, (table, figure) in tables.items()
    }


def team_page_data(*, team_id, start: date, end: date, idle: str = SEPARATE) -> dict:
    """A team's spend: totals, daily series, top models, GPU types, costliest and largest jobs, share of the bill,
    LLM spend."""
    spend = team_spend(team_id=team_id, start=start, end=end, idle=idle)
    llm = llm_summary(start=start, end=end, group="model_name", team_ids=[team_id])
    gpus = spend_summary(start=start, end=end, group_by=["gpu_type"], idle=idle, team_ids=[team_id])
    org = spend_summary(start=start, end=end, group_by=(), idle=idle).totals
    billed = _money(org["billed_usd"])
    mine = spend["totals"]["allocated_usd"]
    unpriced = unknown_when_unpriced(spend["totals"])["allocated_usd"] is None
    largest = largest_jobs(team_id=team_id, start=start, end=end)
    costliest = most_expensive_jobs(start=start, end=end, team_ids=[team_id], limit=COSTLIEST_JOBS, idle=idle)
    return {
        "providers": team_providers(team_id=team_id, start=start, end=end, idle=idle),
        "budgets": team_budgets(team_id=team_id, today=timezone.now().date()),
        "totals": unknown_when_unpriced(spend["totals"]),  # the cards: unknown when no GPU-hour is priced
        # None: no bill, or (allocated None) none of the team's GPU-hours priced: unknown, not 0.0 %.
        "share_of_bill": (mine / billed * 100).quantize(Decimal("0.1")) if billed and not unpriced else None,
        "daily": spend["daily"],
        "top_models": [unknown_when_unpriced(row) for row in spend["top_models"]],
        "gpu_types": [unknown_when_unpriced(row) for row in gpus.rows],
        "largest_jobs": largest,
        "costliest_jobs": costliest,
        "llm_models": llm.rows,
        "llm_usd": llm.totals["llm_usd"],
        "all_usd": shown_amount(spend["totals"], spend["totals"]["allocated_usd"] + llm.totals["llm_usd"]),
    }


def largest_jobs(*, team_id, start: date, end: date, limit: int = 10) -> list[Job]:
    """The team's finished jobs started in [start, end) with the most GPU-hours (computed in SQL). One query.

    A finished job ended at or after its start (jobs_job_end_after_start), so after the range's start: that
    redundant condition on end_time lets PostgreSQL rank the jobs on jobs_job_team_end_idx (team, end_time, with
    start_time, gpu_count and id) without reading their rows, then read only the `limit` it keeps."""
    # Only an ordering (no money): seconds x GPUs, in each database's own date arithmetic.
    seconds = (
        "EXTRACT(EPOCH FROM end_time - start_time)"
        if connection.vendor == "postgresql"
        else "(julianday(end_time) - julianday(start_time)) * 86400"
    )
    gpu_time = RawSQL(f"{seconds} * gpu_count", (), output_field=FloatField())  # noqa: S611 - constant SQL
    begin, finish = (datetime.combine(day, time.min, tzinfo=UTC) for day in (start, end))
    ranking = ("-gpu_time", "start_time", "id")
    started = Job.objects.filter(team_id=team_id, start_time__gte=begin, start_time__lt=finish, end_time__gte=begin)
    top = started.annotate(gpu_time=gpu_time).order_by(*ranking).values("id")[:limit]
    jobs = Job.objects.filter(id__in=top).select_related("totals")  # their totals shown beside them
    return list(jobs.annotate(gpu_time=gpu_time).order_by(*ranking))


def saved_views(*, user, page: str | None = None) -> list[SavedView]:
    """The user's own saved views (of one page, or all), by name; nobody else's."""
    views = SavedView.objects.filter(user=user)
    return list(views.filter(page=page) if page else views)
