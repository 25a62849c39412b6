"""The drill-down: organisation -> team -> model or label value -> job, each level against its parent and the
period before.

Every level is one spend_summary grouping over the range and the same grouping over the
previous period of the same length ([start - (end - start), start)): two or three queries a
level, from the rollups only (a label value's jobs: their day slices). Money in USD, hours in
GPU-hours, ranges [start, end) of UTC days.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.conf import settings

from costs.usage.selectors.efficiency import with_efficiency
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.job_costs import job_sums
from costs.usage.selectors.labels import LABEL_PREFIX
from costs.usage.selectors.shown import unknown_when_unpriced
from costs.usage.selectors.spend import (
    IDLE_LABEL,
    ZERO_HOURS,
    ZERO_USD,
    SpendReport,
    label_summaries,
    quantized,
    spend_summary,
)
from costs.usage.selectors.top_jobs import top_job_sums
from jobs.models import Job

FIGURES = ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours", "measured_gpu_hours",
           "unmeasured_gpu_hours", "waste_usd", "allocated_waste_usd")  # fmt: skip
PERCENT = Decimal("0.1")
UNNAMED = "(unnamed)"


@dataclass(frozen=True)
class Level:
    """One level's rows (each with share_pct and change_pct), its totals and the ranges compared."""

    rows: list[dict]
    totals: dict
    previous_totals: dict
    start: date
    end: date
    previous_start: date
    share_by: str = "allocated_usd"  # what rows' shares are of: allocated USD, or GPU-hours when nothing is priced


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end)."""
    return start - (end - start), start


def percent_change(now: Decimal, before: Decimal) -> Decimal | None:
    """Change against the previous period, in %; None when there was nothing before (new, not +inf)."""
    if not before:
        return None
    return ((now - before) / before * 100).quantize(PERCENT)


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """The part's share of its parent, in %; None when the parent is zero."""
    return (part / whole * 100).quantize(PERCENT) if whole else None


def row_share(row: dict, whole: dict, by: str) -> Decimal | None:
    """The row's share of `whole` by `by` (allocated USD, or GPU-hours when nothing in the parent is priced); None
    for a wholly unpriced row of a priced parent: its spend is unknown, not 0 % of the parent's."""
    if by == "allocated_usd" and unknown_when_unpriced(row)["allocated_usd"] is None:
        return None
    return share(row[by], whole[by])


def drill_level(
    *,
    start: date,
    end: date,
    group: str,
    team_ids: Collection[UUID] | None,
    only: str | None = None,
    filters: SpendFilter = NO_FILTER,
) -> Level:
    """Rows grouped by `group` ("team", "model_name" or "label:<key>") within `team_ids` (None: the organisation).

    Each row: the group's key, FIGURES now and `previous_allocated_usd`, `share_pct` (of the
    level's allocated total, or of GPU-hours when nothing is priced) and `change_pct`
    (allocated against the previous period; None when it had none). `only` keeps one
    group's row (a model's page). Idle capacity is not a team's: it is left out of the rows.
    `filters` narrows both periods alike.
    """
    before_start, before_end = previous_period(start, end)
    now = spend_summary(start=start, end=end, group_by=[group], team_ids=team_ids, filters=filters)
    before = spend_summary(start=before_start, end=before_end, group_by=[group], team_ids=team_ids, filters=filters)
    return _level(now, before, group=group, only=only)


def _level(now: SpendReport, before: SpendReport, *, group: str, only: str | None) -> Level:
    """drill_level's rows from the two periods' spend reports grouped by `group`."""
    previous = {row[group]: row for row in before.rows if row[group] != IDLE_LABEL}
    current = [row for row in now.rows if row[group] != IDLE_LABEL]
    totals = _sum(current)
    by = "allocated_usd" if totals["allocated_usd"] else "gpu_hours"
    rows = []
    for row in current:
        prior = previous.get(row[group], {})
        rows.append({
            "key": row[group],
            "label": row[group] or UNNAMED,
            **{name: row[name] for name in FIGURES},
            "efficiency_pct": row["efficiency_pct"],
            "previous_allocated_usd": prior.get("allocated_usd", ZERO_USD),
            "share_pct": row_share(row, totals, by),
            "change_pct": percent_change(row["allocated_usd"], prior.get("allocated_usd", ZERO_USD)),
        })  # fmt: skip
    previous_totals = _sum(list(previous.values()))
    if only is not None:  # one group's page: its figures are the level's, its share is of the parent's
        rows = [row for row in rows if row["key"] == only]
        totals = _sum(rows)
        previous_totals = _sum([previous[only]] if only in previous else [])
    return Level(rows=rows, totals=totals, previous_totals=previous_totals, start=now.start, end=now.end,
                 previous_start=before.start, share_by=by)  # fmt: skip


def _sum(rows: list[dict]) -> dict:
    return {name: sum((row[name] for row in rows), ZERO_HOURS if "hours" in name else ZERO_USD) for name in FIGURES}


def level_card(level: Level) -> dict:
    """The level's own figures against the previous period: the cards above its table."""
    totals, before = level.totals, level.previous_totals
    return {
        **with_efficiency(dict(totals)),
        "previous_allocated_usd": before["allocated_usd"],
        "previous_gpu_hours": before["gpu_hours"],
        "change_pct": percent_change(totals["allocated_usd"], before["allocated_usd"]),
        "hours_change_pct": percent_change(totals["gpu_hours"], before["gpu_hours"]),
    }


def label_levels(*, start: date, end: date, team_id: UUID) -> list[tuple[str, Level]]:
    """A team by the value of each rolled-up label key (HELIOX_COST_LABELS), "(unlabelled)" included, so
    that each key's rows add up to the team: drill_level by each key, every key read at once (label_summaries:
    two queries a period, whatever the number of keys)."""
    keys = list(settings.HELIOX_COST_LABELS)
    if not keys:
        return []
    before_start, before_end = previous_period(start, end)
    now = label_summaries(start=start, end=end, keys=keys, team_ids=[team_id])
    before = label_summaries(start=before_start, end=before_end, keys=keys, team_ids=[team_id])
    return [(key, _level(now[key], before[key], group=LABEL_PREFIX + key, only=None)) for key in keys]


def job_level(*, start: date, end: date, team_id: UUID, label: tuple[str, str], parent: dict, limit: int) -> list:
    """The team's jobs with a label value (key, value), costliest first, at most `limit`: each with its figures
    in the range (its day slices there), its share of `parent` (the label value's totals) and its change
    against the previous period. A bounded number of queries, whatever the number of jobs (top_job_sums)."""
    before_start, before_end = previous_period(start, end)
    now = [quantized(row) for row in top_job_sums(start=start, end=end, limit=limit, team_ids=[team_id], label=label)]
    ids = [row["job_id"] for row in now]
    before = {row["job_id"]: quantized(row) for row in job_sums(start=before_start, end=before_end, job_ids=ids,
                                                                team_ids=[team_id], label=label)}  # fmt: skip
    jobs = Job.objects.in_bulk(ids)
    by = "allocated_usd" if parent["allocated_usd"] else "gpu_hours"
    rows = []
    for row in now:
        prior = before.get(row["job_id"], {}).get("allocated_usd", ZERO_USD)
        rows.append(with_efficiency({
            "key": row["job_id"], "label": str(jobs[row["job_id"]]), "job": jobs[row["job_id"]],
            **{name: row[name] for name in FIGURES}, "previous_allocated_usd": prior,
            "share_pct": row_share(row, parent, by), "change_pct": percent_change(row["allocated_usd"], prior),
        }))  # fmt: skip
    return rows
