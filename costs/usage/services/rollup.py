"""The daily rollup: jobs -> GPU-hours and estimated cost per day, team, provider, GPU type and model.

Set-based: for each UTC day, one SQL statement computes the overlap of every job
with the day and with each price segment, and sums GPU-seconds per (team,
provider, GPU type, model, price), with the utilisation figures (used, measured and
unmeasured GPU-hours, waste) beside them. GPU-seconds are exact (64-bit integers on
both databases); money is multiplied in Python with Decimal, once per
group, and rounded once per stored row. Python loops over days and groups, never
over jobs, so memory does not grow with the number of jobs.
"""

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from costs.billing.money import ZERO, to_cents
from costs.catalog.models import GpuPrice
from costs.catalog.selectors import PriceSegment, price_timeline
from costs.llm.services.rollup import llm_rollup_day
from costs.usage.models import ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.allocation import allocation_apply
from costs.usage.services.job_costs import (
    clear_job_table,
    create_job_table,
    drop_job_tables,
    job_costs_keep_day,
    job_costs_range,
)
from costs.usage.services.job_sql import JOBS_TABLE, UNITS_PER_WASTE_USD, div, label_value, units, wide
from costs.usage.services.job_totals import job_totals_update
from heliox.dates import utc_day_bounds
from heliox.units import SECONDS_PER_HOUR, to_hours
from jobs.labels import UNLABELLED
from jobs.models import Job
from jobs.times import time_floor

TIMELINE_TABLE = "heliox_rollup_prices"
REGIONS_TABLE = "heliox_rollup_price_regions"
# The advisory lock space of rollups (a signed 32-bit key); the second key is the day's ordinal.
ROLLUP_LOCK = zlib.crc32(b"heliox-rollup") - 2**31
FIGURES = (
    "gpu_hours",
    "estimated_cost_usd",
    "job_count",
    "unpriced_gpu_hours",
    "unpriced_job_count",
    "allocated_usd",
    "allocated_shared_usd",
    "used_gpu_hours",
    "unmeasured_gpu_hours",
    "measured_gpu_hours",
    "waste_usd",
    "allocated_waste_usd",
    "allocated_shared_waste_usd",
)
# The figures a team row sums from its model rows (allocation sets the allocated ones).
SUMMED = ("gpu_hours", "estimated_cost_usd", "job_count", "unpriced_gpu_hours", "unpriced_job_count",
          "used_gpu_hours", "unmeasured_gpu_hours", "measured_gpu_hours", "waste_usd")  # fmt: skip


@dataclass
class RollupSummary:
    """What a rollup did, for the command to print. Hours in GPU-hours, money in USD."""

    start: date
    end: date
    days: int = 0
    rows: int = 0
    jobs: int = 0
    gpu_hours: Decimal = ZERO
    estimated_usd: Decimal = ZERO
    unpriced_jobs: int = 0
    unpriced_gpu_hours: Decimal = ZERO
    llm_calls: int = 0
    llm_usd: Decimal = ZERO
    llm_unpriced_calls: int = 0
    jobs_updated: int = 0


def _sql_dialect() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {
            "greatest": "GREATEST",
            "least": "LEAST",
            # Whole seconds, as SQLite counts them (job times are stored to the second; `now` and prices need not be).
            "secs": "CAST(FLOOR(EXTRACT(EPOCH FROM {b})) - FLOOR(EXTRACT(EPOCH FROM {a})) AS BIGINT)",
            "ts": "TIMESTAMP WITH TIME ZONE",
        }
    # SQLite stores datetimes as ISO text; strftime('%s') gives whole seconds. Job
    # times are stored to the second (Job.save), so this is exact.
    return {"greatest": "MAX", "least": "MIN", "secs": "(strftime('%%s', {b}) - strftime('%%s', {a}))", "ts": "TEXT"}


def _job_day_sql(labels: int) -> str:
    """One row per job of the day in the temporary job table: exact GPU-seconds and cost units (job_costs), and
    the job's values of the first `labels` cost label keys (for the label rollup; none without job costs)."""
    d = _sql_dialect()
    values = [f"v{index}" for index in range(labels)]
    extracted = "".join(f"{label_value('j.labels', index)} AS v{index}, " for index in range(labels))

    def secs(a: str, b: str) -> str:
        return d["secs"].format(a=a, b=b)

    return f"""
WITH slices AS (
    SELECT j.id AS job_id, j.team_id, j.provider, j.gpu_type, j.model_name, j.pricing, j.region, j.gpu_count,
           {extracted}{units("j.gpu_util_avg", 100)} AS util_bp, {d["greatest"]}(j.start_time, %(day_start)s) AS s,
           {d["least"]}(COALESCE(j.end_time, %(now)s), %(day_end)s) AS e
    FROM {Job._meta.db_table} j
    WHERE j.start_time IS NOT NULL AND j.start_time < %(day_end)s AND j.start_time < %(now)s
      AND (j.end_time IS NULL OR (j.end_time > %(day_start)s AND j.start_time >= %(earliest_start)s))
),
live AS (SELECT * FROM slices WHERE e > s),
priced AS (
    SELECT l.job_id, t.price_e4,
           {secs(f"{d['greatest']}(l.s, t.valid_from)", f"{d['least']}(l.e, t.valid_to)")} AS seconds
    FROM live l
    LEFT JOIN {REGIONS_TABLE} r
      ON r.provider = l.provider AND r.gpu_type = l.gpu_type AND r.pricing = l.pricing AND r.region = l.region
    JOIN {TIMELINE_TABLE} t
      ON t.provider = l.provider AND t.gpu_type = l.gpu_type AND t.pricing = l.pricing
     AND t.region = COALESCE(r.region, '') AND t.valid_from < l.e AND t.valid_to > l.s
),
priced_per_job AS (SELECT job_id, SUM(seconds) AS seconds, SUM(seconds * price_e4) AS units FROM priced GROUP BY job_id)
INSERT INTO {JOBS_TABLE} (job_id, team_id, provider, gpu_type, model_name, gpu_seconds, unpriced_seconds,
                          priced_seconds, cost_units, util_bp{"".join(f", {v}" for v in values)})
SELECT l.job_id, l.team_id, l.provider, l.gpu_type, l.model_name, l.gpu_count * {secs("l.s", "l.e")},
       l.gpu_count * ({secs("l.s", "l.e")} - COALESCE(p.seconds, 0)), l.gpu_count * COALESCE(p.seconds, 0),
       l.gpu_count * COALESCE(p.units, 0), l.util_bp{"".join(f", l.{v}" for v in values)}
FROM live l LEFT JOIN priced_per_job p ON p.job_id = l.job_id
"""


def _groups_sql() -> str:
    """The day's figures per model row, exact. Waste units (cost units x idle basis points) are summed in two
    parts, per hundred and the rest, so that SQLite's 64-bit sums cannot overflow; Python adds them up."""
    idle = "(10000 - util_bp)"
    return f"""
SELECT team_id, provider, gpu_type, model_name, COUNT(*), SUM(gpu_seconds),
       SUM(CASE WHEN unpriced_seconds > 0 THEN 1 ELSE 0 END), SUM(unpriced_seconds), SUM(cost_units),
       SUM(gpu_seconds * util_bp), SUM(CASE WHEN util_bp IS NULL THEN gpu_seconds ELSE 0 END),
       SUM(CASE WHEN util_bp IS NULL THEN 0 ELSE gpu_seconds END),
       SUM({wide("cost_units")} * {div(idle, "100")}), SUM({wide("cost_units")} * ({idle} - 100 * {div(idle, "100")}))
FROM {JOBS_TABLE} GROUP BY team_id, provider, gpu_type, model_name
"""


# Cost units per USD: GPU-seconds x price in 1/10,000 USD per GPU-hour.
UNITS_PER_USD = SECONDS_PER_HOUR * 10_000
BASIS_POINTS = 10_000  # utilisation is kept in basis points (1/100 of a percent) in the rollup's SQL


def _load_timeline(timeline: list[PriceSegment]) -> None:
    """Put the resolved price segments into temporary tables that the rollup SQL joins."""
    ts = _sql_dialect()["ts"]
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for table in (TIMELINE_TABLE, REGIONS_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {TIMELINE_TABLE} (tid INTEGER, provider VARCHAR(32), gpu_type VARCHAR(32), "
            f"pricing VARCHAR(16), region VARCHAR(64), valid_from {ts}, valid_to {ts}, price_e4 BIGINT)"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {REGIONS_TABLE} "
            "(provider VARCHAR(32), gpu_type VARCHAR(32), pricing VARCHAR(16), region VARCHAR(64))"
        )
        cursor.executemany(
            f"INSERT INTO {TIMELINE_TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    tid,
                    s.provider,
                    s.gpu_type,
                    s.pricing,
                    s.region,
                    adapt(s.valid_from),
                    adapt(s.valid_to),
                    int(s.usd_per_gpu_hour * 10_000),
                )
                for tid, s in enumerate(timeline)
            ],
        )
        regions = sorted({(s.provider, s.gpu_type, s.pricing, s.region) for s in timeline if s.region})
        cursor.executemany(f"INSERT INTO {REGIONS_TABLE} VALUES (%s, %s, %s, %s)", regions)


def _drop_timeline() -> None:
    with connection.cursor() as cursor:
        for table in (TIMELINE_TABLE, REGIONS_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _day_rows(day: date, now: datetime, earliest_start: datetime, labels: int) -> list[ModelUsageSnapshot]:
    """The model-level rollup rows of one day (unsaved); the job table keeps `labels` label values of each job."""
    day_start, day_end = utc_day_bounds(day)
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "day_start": adapt(day_start),
        "day_end": adapt(day_end),
        "now": adapt(now),
        "earliest_start": adapt(earliest_start),
        "unlabelled": UNLABELLED,
        **{f"key{index}": key for index, key in enumerate(settings.HELIOX_COST_LABELS[:labels])},
    }
    rows = []
    with connection.cursor() as cursor:
        clear_job_table(cursor)
        cursor.execute(_job_day_sql(labels), params)
        cursor.execute(_groups_sql())
        for team_id, provider, gpu_type, model, jobs, seconds, unpriced_jobs, unpriced, cost, *efficiency in cursor:
            used, unmeasured, measured, waste_hundreds, waste_rest = efficiency
            waste = Decimal((waste_hundreds or 0) * 100 + (waste_rest or 0)) / UNITS_PER_WASTE_USD
            rows.append(
                ModelUsageSnapshot(
                    # SQLite returns UUIDs from raw SQL as 32-digit hex text; PostgreSQL as UUID.
                    date=day, team_id=UUID(str(team_id)), provider=provider, gpu_type=gpu_type, model_name=model,
                    gpu_hours=to_hours(seconds), estimated_cost_usd=to_cents(Decimal(cost) / UNITS_PER_USD),
                    job_count=jobs, unpriced_gpu_hours=to_hours(unpriced), unpriced_job_count=unpriced_jobs,
                    used_gpu_hours=to_hours(Decimal(used or 0) / BASIS_POINTS),
                    unmeasured_gpu_hours=to_hours(unmeasured), measured_gpu_hours=to_hours(measured),
                    waste_usd=to_cents(waste),
                )
            )  # fmt: skip
    return sorted(rows, key=lambda row: (str(row.team_id), row.provider, row.gpu_type, row.model_name))


def _team_rows(model_rows: list[ModelUsageSnapshot]) -> list[UsageSnapshot]:
    """Team-level rows as exact sums of the model-level rows."""
    teams: dict[tuple, UsageSnapshot] = {}
    for row in model_rows:
        key = (row.date, row.team_id, row.provider, row.gpu_type)
        if key not in teams:
            teams[key] = UsageSnapshot(
                date=row.date, team_id=row.team_id, provider=row.provider, gpu_type=row.gpu_type,
                **dict.fromkeys(FIGURES, 0),
            )  # fmt: skip
        total = teams[key]
        for name in SUMMED:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return list(teams.values())


def _replace_day(day: date, model_rows: list[ModelUsageSnapshot], team_rows: list[UsageSnapshot]) -> None:
    """Upsert the day's rows and delete the ones no job backs any more."""
    for model, rows, key_fields in (
        (ModelUsageSnapshot, model_rows, ["date", "team", "provider", "gpu_type", "model_name"]),
        (UsageSnapshot, team_rows, ["date", "team", "provider", "gpu_type"]),
    ):
        keep = {tuple(getattr(row, f if f != "team" else "team_id") for f in key_fields[1:]) for row in rows}
        fields = [f if f != "team" else "team_id" for f in key_fields[1:]]
        stale = [pk for pk, *key in model.objects.filter(date=day).values_list("pk", *fields) if tuple(key) not in keep]
        model.objects.filter(pk__in=stale).delete()
        if rows:
            model.objects.bulk_create(
                rows,  # type: ignore[arg-type]  # each model with its own rows
                update_conflicts=True,
                unique_fields=key_fields,
                update_fields=[*FIGURES, "updated_at"],
                batch_size=1000,
            )


def _lock_day(day: date) -> None:
    """Two rollups never build one day at once (PostgreSQL: an advisory lock per day, until the transaction ends;
    SQLite serialises writers already). Ranges take their days in ascending order, so they cannot deadlock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK, day.toordinal()])


def _count_day(summary: RollupSummary, team_rows: list[UsageSnapshot], llm_rows: list) -> None:
    for llm_row in llm_rows:
        summary.llm_calls += llm_row.calls
        summary.llm_usd += llm_row.cost_usd
        summary.llm_unpriced_calls += llm_row.unpriced_calls
    summary.days += 1
    summary.rows += len(team_rows)
    for row in team_rows:
        summary.jobs += row.job_count
        summary.gpu_hours += row.gpu_hours
        summary.estimated_usd += row.estimated_cost_usd
        summary.unpriced_jobs += row.unpriced_job_count
        summary.unpriced_gpu_hours += row.unpriced_gpu_hours


def usage_rollup(
    *,
    start: date,
    end: date,
    now: datetime | None = None,
    progress: Callable[[date], None] | None = None,
    job_costs: bool = True,
) -> RollupSummary:
    """(Re)build UsageSnapshot and ModelUsageSnapshot rows for the UTC days [start, end).

    Running jobs accrue up to `now` (default: the current instant). Re-running gives
    identical rows; days without jobs end up with no rows; the bill's allocation of
    the days is recomputed. With `job_costs` (the default) each job's slices of the
    days, the label rollup and the totals of the jobs concerned are rebuilt too (off
    only to measure what they cost). All or nothing: one transaction.
    """
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    now = now or timezone.now()
    summary = RollupSummary(start=start, end=end)
    start = max(start, time_floor().date())  # no job may start earlier (jobs.times): nothing to roll up
    if start >= end:
        return summary
    range_start, range_end = utc_day_bounds(start)[0], utc_day_bounds(end)[0]
    # The longest finished job that touches the range bounds how far back a job can
    # have started and still overlap a day: it keeps the scan on the start_time index.
    longest = Job.objects.filter(end_time__gt=range_start, start_time__lt=range_end).aggregate(
        longest=Max(F("end_time") - F("start_time"))
    )["longest"] or timedelta(0)
    reach = min(longest, range_start - time_floor())  # a job stored before jobs.times' floor: not below it
    timeline = price_timeline(GpuPrice.objects.all())
    labels = len(settings.HELIOX_COST_LABELS) if job_costs else 0
    with transaction.atomic():  # rollups of other days run at once; the jobs they share wait (job_totals_update)
        _load_timeline(timeline)
        create_job_table()
        try:
            day = start
            while day < end:
                _lock_day(day)
                model_rows = _day_rows(day, now, utc_day_bounds(day)[0] - reach, labels)
                team_rows = _team_rows(model_rows)
                allocation_apply(day=day, team_rows=team_rows, model_rows=model_rows)
                _replace_day(day, model_rows, team_rows)
                if job_costs:
                    job_costs_keep_day(day=day)
                _count_day(summary, team_rows, llm_rollup_day(day=day))
                if progress:
                    progress(day)
                day += timedelta(days=1)
            if job_costs:
                job_costs_range(start=start, end=end, now=now)
                summary.jobs_updated = job_totals_update(fresh=(start, end), longest=longest)
        finally:
            _drop_timeline()
            drop_job_tables()
    return summary
