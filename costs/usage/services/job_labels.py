"""The rollup by cost label: LabelUsageSnapshot (day) and LabelMonthSnapshot (month) rows as sums of job slices.

For each key of HELIOX_COST_LABELS, one GROUP BY over the slices with their job's value of the
key ((unlabelled) when it has none), so that every key's rows add up to the team. Month rows are
the sums of the month's day rows, rebuilt in one statement for every month a change touches.
"""

import zlib
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection

from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot
from costs.usage.services.job_sql import (
    FINAL_TABLE,
    TARGETS_TABLE,
    label_value,
    month_of,
    new_id,
    postgres,
    units,
    with_ids,
)
from heliox.dates import add_months, month_start
from jobs.labels import UNLABELLED
from jobs.models import Job

SLICES, JOBS = JobDaySlice._meta.db_table, Job._meta.db_table
LABELS, MONTHS = LabelUsageSnapshot._meta.db_table, LabelMonthSnapshot._meta.db_table
# The advisory lock space of label month rebuilds (a signed 32-bit key; the second key is the month's ordinal).
# Taken after a rollup's day locks and before its job row locks, months in ascending order: no deadlock.
MONTH_LOCK = zlib.crc32(b"heliox-label-months") - 2**31
# A slice's figures in units (the slice column, the label column, units per stored unit).
UNIT_FIGURES = (
    ("h", "gpu_hours", "gpu_hours", 10000),
    ("c", "estimated_usd", "estimated_cost_usd", 100),
    ("u", "unpriced_gpu_hours", "unpriced_gpu_hours", 10000),
    ("a", "allocated_usd", "allocated_usd", 100),
    ("s", "allocated_shared_usd", "allocated_shared_usd", 100),
    ("b", "used_gpu_hours", "used_gpu_hours", 10000),
    ("n", "unmeasured_gpu_hours", "unmeasured_gpu_hours", 10000),
    ("k", "measured_gpu_hours", "measured_gpu_hours", 10000),
    ("w", "waste_usd", "waste_usd", 100),
    ("e", "allocated_waste_usd", "allocated_waste_usd", 100),
    ("y", "allocated_shared_waste_usd", "allocated_shared_waste_usd", 100),
)
SUMMED = ("gpu_hours", "estimated_cost_usd", "job_count", "unpriced_gpu_hours", "unpriced_job_count",
          "allocated_usd", "allocated_shared_usd", "used_gpu_hours", "unmeasured_gpu_hours", "measured_gpu_hours",
          "waste_usd", "allocated_waste_usd", "allocated_shared_waste_usd")  # fmt: skip


def label_params(now: datetime, **days: date) -> dict:
    adapt = connection.ops
    return {
        "now": adapt.adapt_datetimefield_value(now),
        "unlabelled": UNLABELLED,
        **{name: adapt.adapt_datefield_value(day) for name, day in days.items()},
        **{f"key{index}": key for index, key in enumerate(settings.HELIOX_COST_LABELS)},
    }


def _label_rows_sql(slices: str) -> str:
    """Label rows from `slices`: a SELECT of date, team_id, provider, gpu_type, the figures in units (b, w, e and y
    null when unmeasured) and v0... (the job's value of each key). One GROUP BY per key; the rows go in in the order
    of the unique index (date, team, key, value, provider, GPU type), which it then grows at one end: a third
    faster than in the order of the hash tables."""
    sums = ", ".join(
        f"COALESCE(SUM({unit}), 0) / {scale}.0" if unit in "bwey" else f"SUM({unit}) / {scale}.0"
        for unit, _, _, scale in UNIT_FIGURES
    )
    per_key = [
        f"""SELECT date, team_id, CAST(%(key{index})s AS VARCHAR(63)), v{index}, provider, gpu_type, COUNT(*),
       SUM(CASE WHEN u > 0 THEN 1 ELSE 0 END), {sums}
FROM x GROUP BY date, team_id, provider, gpu_type, v{index}"""
        for index in range(len(settings.HELIOX_COST_LABELS))
    ]
    columns = ", ".join(label for _, _, label, _ in UNIT_FIGURES)
    return f"""
WITH x AS ({slices})
INSERT INTO {LABELS} (id, created_at, updated_at, date, team_id, "key", "value", provider, gpu_type, job_count,
                      unpriced_job_count, {columns})
SELECT {new_id()}, %(now)s, %(now)s, y.*
FROM ({" UNION ALL ".join(per_key)} ORDER BY 1, 2, 3, 4, 5, 6) y"""


def label_rows_of_range(cursor, params: dict) -> None:
    """The label rows of the range's distributed slices (FINAL_TABLE, with their values of each key)."""
    if settings.HELIOX_COST_LABELS:
        values = ", ".join(f"f.v{index}" for index in range(len(settings.HELIOX_COST_LABELS)))
        units_ = ", ".join(f"f.{unit}" for unit, *_ in UNIT_FIGURES)
        cursor.execute(_label_rows_sql(f"""
SELECT g.date, g.team_id, g.provider, g.gpu_type, {units_}, {values}
FROM {FINAL_TABLE} f JOIN {TARGETS_TABLE} g ON g.id = f.model_id"""), with_ids(params))  # fmt: skip


def label_rows_of_day(cursor, params: dict) -> None:
    """The label rows of the stored slices of %(day)s, with their job's labels."""
    if settings.HELIOX_COST_LABELS:
        values = ", ".join(label_value("j.labels", index) + f" AS v{index}"
                           for index in range(len(settings.HELIOX_COST_LABELS)))  # fmt: skip
        units_ = ", ".join(f"{units(f's.{column}', scale)} AS {unit}" for unit, column, _, scale in UNIT_FIGURES)
        cursor.execute(_label_rows_sql(f"""
SELECT s.date, s.team_id, s.provider, s.gpu_type, {units_}, {values}
FROM {SLICES} s JOIN {JOBS} j ON j.id = s.job_id WHERE s.date = %(day)s"""), with_ids(params))  # fmt: skip


def label_months_rebuild(*, start: date, end: date, now: datetime) -> None:
    """Replace the month rows (LabelMonthSnapshot) of every month that [start, end) touches by the sums of its
    label rows, so that they stay those sums exactly: one DELETE and one INSERT for all of them."""
    first, following = month_start(start), add_months(month_start(end - timedelta(days=1)), 1)
    params = label_params(now, first=first, following=following)
    with connection.cursor() as cursor:
        if postgres():  # two rollups of days of one month: one rebuilds it after the other's commit
            month = first
            while month < following:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MONTH_LOCK, month.toordinal()])
                month = add_months(month, 1)
        in_months = "date >= %(first)s AND date < %(following)s"
        cursor.execute(f"DELETE FROM {MONTHS} WHERE {in_months}", params)
        cursor.execute(f"""
INSERT INTO {MONTHS} (id, created_at, updated_at, date, team_id, "key", "value", provider, gpu_type,
                      {", ".join(SUMMED)})
SELECT {new_id()}, %(now)s, %(now)s, month, team_id, "key", "value", provider, gpu_type,
       {", ".join(f"SUM({name})" for name in SUMMED)}
FROM (SELECT {month_of("date")} AS month, l.* FROM {LABELS} l WHERE {in_months}) x
GROUP BY month, team_id, "key", "value", provider, gpu_type""", with_ids(params))  # fmt: skip
