"""Each job's cost per day (JobDaySlice), its totals on the job, and the rollup by cost label: all in SQL.

The rollup first puts one row per job of the day into a temporary table with exact
integer figures: GPU-seconds, unpriced GPU-seconds, cost in units of 1/36,000,000
USD (GPU-seconds x the price in 1/10,000 USD) and utilisation in basis points (null:
unmeasured), from which used, measured and unmeasured GPU-hours and waste (cost x idle
basis points) are exact too. The day's ModelUsageSnapshot rows are
rounded sums of these; here the same figures are rounded per job and the leftover
cents (and 0.0001 GPU-hours) go, one each, to the jobs with the largest remainders
(ties by job id), so that the slices of a (team, provider, GPU type, model) add up to
that row exactly. Each row's two allocated figures are split the same way over its
slices: by estimated cents (else GPU-hours) for idle kept apart, by GPU-hours (else
cents) for idle shared, and equal to the estimate on a day with no bill.

Window functions do the distribution; nothing goes through Python per job.
"""

import zlib
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection

from costs.billing.models import CostSnapshot
from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot, ModelUsageSnapshot
from heliox.dates import add_months, month_start
from jobs.labels import UNLABELLED
from jobs.models import Job

JOBS_TABLE = "heliox_rollup_job_day"  # the jobs of the day being rolled up
RANGE_TABLE = "heliox_rollup_job_range"  # the same rows of every day of the range, dated
FINAL_TABLE = "heliox_rollup_job_slices"  # the range's slices, distributed, before they are stored
TOUCHED_TABLE = "heliox_rollup_touched_jobs"
GROUP = "date, team_id, provider, gpu_type, model_name"
SLICES, MODELS = JobDaySlice._meta.db_table, ModelUsageSnapshot._meta.db_table
LABELS, BILLS, JOBS = LabelUsageSnapshot._meta.db_table, CostSnapshot._meta.db_table, Job._meta.db_table
MONTHS = LabelMonthSnapshot._meta.db_table
# The advisory lock space of label month rebuilds (a signed 32-bit key; the second key is the month's ordinal).
# Taken after a rollup's day locks and before its job row locks, months in ascending order: no deadlock.
MONTH_LOCK = zlib.crc32(b"heliox-label-months") - 2**31
UNITS_PER_CENT = 360_000  # cost units (1/36,000,000 USD) per cent
# Waste units (cost units x idle basis points of utilisation) per cent and per USD.
UNITS_PER_WASTE_CENT, UNITS_PER_WASTE_USD = UNITS_PER_CENT * 10_000, UNITS_PER_CENT * 100 * 10_000
TEMP_TABLES = (JOBS_TABLE, RANGE_TABLE, FINAL_TABLE, TOUCHED_TABLE)


def postgres() -> bool:
    return connection.vendor == "postgresql"


def div(a: str, b: str) -> str:
    """Integer division of non-negative whole numbers (numerics on PostgreSQL, integers on SQLite)."""
    return f"DIV({a}, {b})" if postgres() else f"(({a}) / ({b}))"


def mod(a: str, b: str) -> str:
    return f"MOD({a}, {b})" if postgres() else f"(({a}) %% ({b}))"


def units(column: str, scale: int) -> str:
    """A stored decimal as a whole number of its smallest unit (cents: 100, 0.0001 GPU-hours: 10000)."""
    return f"({column} * {scale})" if postgres() else f"CAST(ROUND({column} * {scale}) AS INTEGER)"


def new_uuid() -> str:
    return "gen_random_uuid()" if postgres() else "lower(hex(randomblob(16)))"


def largest_remainder(floor: str, remainder: str, target: str, tie: str = "job_id") -> str:
    """floor + 1 for the (target - sum of floors) rows of the group with the largest remainders."""
    return (
        f"{floor} + CASE WHEN ROW_NUMBER() OVER (PARTITION BY {GROUP} ORDER BY {remainder} DESC, {tie}) "
        f"<= {target} - SUM({floor}) OVER (PARTITION BY {GROUP}) THEN 1 ELSE 0 END"
    )


def create_job_table() -> None:
    """The temporary tables of a rollup (dropped by drop_job_tables)."""
    number, uuid, json = ("NUMERIC", "UUID", "JSONB") if postgres() else ("INTEGER", "CHAR(32)", "TEXT")
    columns = (
        f"job_id {uuid}, team_id {uuid}, provider VARCHAR(32), gpu_type VARCHAR(32), model_name VARCHAR(200), "
        f"gpu_seconds {number}, unpriced_seconds {number}, priced_seconds {number}, cost_units {number}, "
        f"labels {json}, util_bp {number}"
    )
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {JOBS_TABLE} ({columns})")
        cursor.execute(f"CREATE TEMPORARY TABLE {RANGE_TABLE} (date DATE, {columns})")
        # old: the job lost a slice (which it may have got back); else it got one.
        cursor.execute(f"CREATE TEMPORARY TABLE {TOUCHED_TABLE} (job_id {uuid}, old BOOLEAN)")


def drop_job_tables() -> None:
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def clear_job_table(cursor) -> None:
    cursor.execute(f"TRUNCATE {JOBS_TABLE}" if postgres() else f"DELETE FROM {JOBS_TABLE}")


def job_costs_keep_day(*, day: date) -> None:
    """Keep the day's job rows for job_costs_range (after the day's model rows are built)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {RANGE_TABLE} SELECT %s, d.* FROM {JOBS_TABLE} d",
                       [connection.ops.adapt_datefield_value(day)])  # fmt: skip


def _allocation_ctes() -> str:
    """CTEs from `est` (job_id, the group, c = cents, h = 0.0001 GPU-hours, a_t, s_t, billed) to `final` (a, s)."""
    return f"""
sums AS (SELECT est.*, SUM(c) OVER (PARTITION BY {GROUP}) AS c_sum, SUM(h) OVER (PARTITION BY {GROUP}) AS h_sum
         FROM est),
shares AS (
    SELECT sums.*, CASE WHEN c_sum > 0 THEN c ELSE h END AS a_w, CASE WHEN c_sum > 0 THEN c_sum ELSE h_sum END AS a_ws,
           CASE WHEN h_sum > 0 THEN h ELSE c END AS s_w, CASE WHEN h_sum > 0 THEN h_sum ELSE c_sum END AS s_ws
    FROM sums
),
floors AS (
    SELECT shares.*,
           CASE WHEN a_ws > 0 THEN {div("a_t * a_w", "a_ws")} ELSE 0 END AS a_f,
           CASE WHEN a_ws > 0 THEN {mod("a_t * a_w", "a_ws")} ELSE 0 END AS a_r,
           CASE WHEN s_ws > 0 THEN {div("s_t * s_w", "s_ws")} ELSE 0 END AS s_f,
           CASE WHEN s_ws > 0 THEN {mod("s_t * s_w", "s_ws")} ELSE 0 END AS s_r
    FROM shares
),
final AS (
    SELECT floors.*,
           CASE WHEN billed = 0 THEN c ELSE {largest_remainder("a_f", "a_r", "a_t")} END AS a,
           CASE WHEN billed = 0 THEN c ELSE {largest_remainder("s_f", "s_r", "s_t")} END AS s
    FROM floors
)"""


def _targets(alias: str) -> str:
    """The day's model row (m) and bill (b) of the rows of `alias`: the figures the slices must add up to."""
    return f"""
    JOIN {MODELS} m ON m.date = {alias}.date AND m.team_id = {alias}.team_id AND m.provider = {alias}.provider
     AND m.gpu_type = {alias}.gpu_type AND m.model_name = {alias}.model_name
    LEFT JOIN {BILLS} b ON b.date = {alias}.date AND b.provider = {alias}.provider AND b.gpu_type = {alias}.gpu_type"""


TARGET_COLUMNS = (
    f"{units('m.allocated_usd', 100)} AS a_t, {units('m.allocated_shared_usd', 100)} AS s_t, "
    "CASE WHEN b.id IS NULL THEN 0 ELSE 1 END AS billed"
)


def _final_slices_sql() -> str:
    """The range's slices with every figure distributed, as a SELECT (into FINAL_TABLE)."""
    return f"""
WITH base AS (
    SELECT t.date, t.job_id, t.team_id, t.provider, t.gpu_type, t.model_name, t.priced_seconds, t.cost_units, t.labels,
           t.util_bp, {div("t.gpu_seconds * 25", "9")} AS h_f, {mod("t.gpu_seconds * 25", "9")} AS h_r,
           {div("t.unpriced_seconds * 25", "9")} AS u_f, {mod("t.unpriced_seconds * 25", "9")} AS u_r,
           {div("t.cost_units", str(UNITS_PER_CENT))} AS c_f, {mod("t.cost_units", str(UNITS_PER_CENT))} AS c_r,
           {_efficiency_floors()},
           {units("m.gpu_hours", 10000)} AS h_t, {units("m.unpriced_gpu_hours", 10000)} AS u_t,
           {units("m.estimated_cost_usd", 100)} AS c_t, {units("m.used_gpu_hours", 10000)} AS b_t,
           {units("m.unmeasured_gpu_hours", 10000)} AS n_t, {units("m.measured_gpu_hours", 10000)} AS k_t,
           {units("m.waste_usd", 100)} AS w_t, {TARGET_COLUMNS}
    FROM {RANGE_TABLE} t {_targets("t")}
),
est AS (
    SELECT base.*, {largest_remainder("h_f", "h_r", "h_t")} AS h, {largest_remainder("u_f", "u_r", "u_t")} AS u,
           {largest_remainder("c_f", "c_r", "c_t")} AS c, {largest_remainder("b_f", "b_r", "b_t")} AS b,
           {largest_remainder("n_f", "n_r", "n_t")} AS n, {largest_remainder("k_f", "k_r", "k_t")} AS k,
           {largest_remainder("w_f", "w_r", "w_t")} AS w
    FROM base
),{_allocation_ctes()}
SELECT date, job_id, team_id, provider, gpu_type, model_name, labels, h / 10000.0 AS gpu_hours,
       c / 100.0 AS estimated_usd, a / 100.0 AS allocated_usd, s / 100.0 AS allocated_shared_usd,
       u / 10000.0 AS unpriced_gpu_hours, n / 10000.0 AS unmeasured_gpu_hours, k / 10000.0 AS measured_gpu_hours,
       CASE WHEN util_bp IS NULL THEN NULL ELSE b / 10000.0 END AS used_gpu_hours,
       CASE WHEN util_bp IS NULL THEN NULL ELSE w / 100.0 END AS waste_usd,
       CASE WHEN priced_seconds > 0 THEN ROUND(cost_units * 1.0 / priced_seconds) / 10000.0 END AS price
FROM final"""


def _efficiency_floors() -> str:
    """Floors and remainders of a slice's used GPU-hours (b, in 0.0001 GPU-hours: GPU-seconds x basis points / 3600),
    unmeasured and measured GPU-hours (n, k) and waste (w, cents: cost units x idle basis points). A figure that is 0
    for a job (all but n when unmeasured, n when measured) never gets a leftover unit: those go to positive
    remainders first, and no more are left than those."""
    bp, measured = "COALESCE(t.util_bp, 0)", "CASE WHEN t.util_bp IS NULL THEN 0 ELSE 1 END"
    unmeasured, idle = f"(t.gpu_seconds * (1 - {measured}) * 25)", f"(t.cost_units * {measured} * (10000 - {bp}))"
    measured_units = f"(t.gpu_seconds * {measured} * 25)"
    return (
        f"{div(f't.gpu_seconds * {bp}', '3600')} AS b_f, {mod(f't.gpu_seconds * {bp}', '3600')} AS b_r, "
        f"{div(unmeasured, '9')} AS n_f, {mod(unmeasured, '9')} AS n_r, "
        f"{div(measured_units, '9')} AS k_f, {mod(measured_units, '9')} AS k_r, "
        f"{div(idle, str(UNITS_PER_WASTE_CENT))} AS w_f, {mod(idle, str(UNITS_PER_WASTE_CENT))} AS w_r"
    )


def _reallocate_sql() -> str:
    return f"""
WITH est AS (
    SELECT x.id, x.date, x.job_id, x.team_id, x.provider, x.gpu_type, x.model_name,
           {units("x.estimated_usd", 100)} AS c, {units("x.gpu_hours", 10000)} AS h, {TARGET_COLUMNS}
    FROM {SLICES} x {_targets("x")}
    WHERE x.date = %(day)s
),{_allocation_ctes()}
UPDATE {SLICES} SET allocated_usd = final.a / 100.0, allocated_shared_usd = final.s / 100.0
FROM final WHERE {SLICES}.id = final.id"""


def _label_value(labels: str) -> str:
    """The value of the label key k.label_key in a JSON column; keys hold no quote (jobs.labels)."""
    if postgres():
        return f"COALESCE(NULLIF({labels} ->> k.label_key, ''), %(unlabelled)s)"
    return f"COALESCE(NULLIF(json_extract({labels}, '$.\"' || k.label_key || '\"'), ''), %(unlabelled)s)"


def _label_rollup_sql(source: str, labels: str, keys: list[str], where: str = "") -> str:
    """Label rows as sums of the slices of `source` (with `labels`, their job's labels), one set per key."""
    key_rows = " UNION ALL ".join(
        f"SELECT CAST(%(key{index})s AS VARCHAR(63)) AS label_key" for index in range(len(keys))
    )
    return f"""
INSERT INTO {LABELS} (id, created_at, updated_at, date, team_id, "key", "value", provider, gpu_type, gpu_hours,
                      estimated_cost_usd, job_count, unpriced_gpu_hours, unpriced_job_count, allocated_usd,
                      allocated_shared_usd, used_gpu_hours, unmeasured_gpu_hours, measured_gpu_hours, waste_usd)
SELECT {new_uuid()}, %(now)s, %(now)s, date, team_id, label_key, label_value, provider, gpu_type, SUM(gpu_hours),
       SUM(estimated_usd), COUNT(*), SUM(unpriced_gpu_hours),
       SUM(CASE WHEN unpriced_gpu_hours > 0 THEN 1 ELSE 0 END), SUM(allocated_usd), SUM(allocated_shared_usd),
       COALESCE(SUM(used_gpu_hours), 0), SUM(unmeasured_gpu_hours), SUM(measured_gpu_hours),
       COALESCE(SUM(waste_usd), 0)
FROM (
    SELECT s.date, s.team_id, s.provider, s.gpu_type, s.gpu_hours, s.estimated_usd, s.unpriced_gpu_hours,
           s.allocated_usd, s.allocated_shared_usd, s.used_gpu_hours, s.unmeasured_gpu_hours, s.measured_gpu_hours,
           s.waste_usd,
           k.label_key, {_label_value(labels)} AS label_value
    FROM {source} CROSS JOIN ({key_rows}) k {where}
) x
GROUP BY date, team_id, label_key, label_value, provider, gpu_type"""


def _params(now: datetime, **days: date) -> dict:
    adapt = connection.ops
    return {
        "now": adapt.adapt_datetimefield_value(now),
        "unlabelled": UNLABELLED,
        **{name: adapt.adapt_datefield_value(day) for name, day in days.items()},
        **{f"key{index}": key for index, key in enumerate(settings.HELIOX_COST_LABELS)},
    }


def job_costs_range(*, start: date, end: date, now: datetime) -> None:
    """Replace the slices and label rows of [start, end) from the kept job rows, in a few set-based statements.

    Runs after every day's model rows are stored (they are the targets); the jobs whose
    slices change are listed for job_totals_update.
    """
    params = _params(now, start=start, end=end)
    in_range = "date >= %(start)s AND date < %(end)s"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, TRUE FROM {SLICES} WHERE {in_range}", params)
        cursor.execute(f"DELETE FROM {SLICES} WHERE {in_range}", params)
        cursor.execute(f"DELETE FROM {LABELS} WHERE {in_range}", params)
        cursor.execute(f"DROP TABLE IF EXISTS {FINAL_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {FINAL_TABLE} AS {_final_slices_sql()}", params)
        cursor.execute(f"""
INSERT INTO {SLICES} (id, created_at, updated_at, job_id, date, team_id, provider, gpu_type, model_name, gpu_hours,
                      estimated_usd, allocated_usd, allocated_shared_usd, unpriced_gpu_hours, price_usd_per_gpu_hour,
                      used_gpu_hours, unmeasured_gpu_hours, measured_gpu_hours, waste_usd)
SELECT {new_uuid()}, %(now)s, %(now)s, job_id, date, team_id, provider, gpu_type, model_name, gpu_hours,
       estimated_usd, allocated_usd, allocated_shared_usd, unpriced_gpu_hours, price, used_gpu_hours,
       unmeasured_gpu_hours, measured_gpu_hours, waste_usd
FROM {FINAL_TABLE}""", params)  # fmt: skip
        if settings.HELIOX_COST_LABELS:
            cursor.execute(_label_rollup_sql(f"{FINAL_TABLE} s", "s.labels", settings.HELIOX_COST_LABELS), params)
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, FALSE FROM {FINAL_TABLE}")
    label_months_rebuild(start=start, end=end, now=now)


def job_slices_reallocate(*, day: date, now: datetime) -> None:
    """After the day's allocation changed (a bill): split it again over the stored slices; rebuild label rows."""
    params = _params(now, day=day)
    with connection.cursor() as cursor:
        cursor.execute(_reallocate_sql(), params)
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, FALSE FROM {SLICES} WHERE date = %(day)s", params)
        cursor.execute(f"DELETE FROM {LABELS} WHERE date = %(day)s", params)
        if settings.HELIOX_COST_LABELS:
            source = f"{SLICES} s JOIN {JOBS} j ON j.id = s.job_id"
            labels_sql = _label_rollup_sql(source, "j.labels", settings.HELIOX_COST_LABELS, "WHERE s.date = %(day)s")
            cursor.execute(labels_sql, params)
    label_months_rebuild(start=day, end=day + timedelta(days=1), now=now)


def label_months_rebuild(*, start: date, end: date, now: datetime) -> None:
    """Replace the month rows (LabelMonthSnapshot) of every month that [start, end) touches by the sums of its
    label rows, so that they stay those sums exactly. One DELETE and one INSERT a month."""
    month = month_start(start)
    with connection.cursor() as cursor:
        while month < end:
            following = add_months(month, 1)
            params = _params(now, month=month, following=following)
            if postgres():  # two rollups of days of one month: one rebuilds it after the other's commit
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MONTH_LOCK, month.toordinal()])
            cursor.execute(f"DELETE FROM {MONTHS} WHERE date = %(month)s", params)
            cursor.execute(f"""
INSERT INTO {MONTHS} (id, created_at, updated_at, date, team_id, "key", "value", provider, gpu_type, gpu_hours,
                      estimated_cost_usd, job_count, unpriced_gpu_hours, unpriced_job_count, allocated_usd,
                      allocated_shared_usd, used_gpu_hours, measured_gpu_hours, unmeasured_gpu_hours, waste_usd)
SELECT {new_uuid()}, %(now)s, %(now)s, %(month)s, team_id, "key", "value", provider, gpu_type, SUM(gpu_hours),
       SUM(estimated_cost_usd), SUM(job_count), SUM(unpriced_gpu_hours), SUM(unpriced_job_count),
       SUM(allocated_usd), SUM(allocated_shared_usd), SUM(used_gpu_hours), SUM(measured_gpu_hours),
       SUM(unmeasured_gpu_hours), SUM(waste_usd)
FROM {LABELS} WHERE date >= %(month)s AND date < %(following)s
GROUP BY team_id, "key", "value", provider, gpu_type""", params)  # fmt: skip
            month = following


def _lock_touched_jobs(cursor) -> None:
    """Lock the touched jobs' rows, in id order, before their totals are summed (PostgreSQL).

    Rollups of different days run at once; a long job has slices in both. Each sums all of a
    job's slices, and cannot see the other's before it commits: so the second waits here for the
    first's commit, and its sums, a statement that starts after the wait, see them. In id order,
    two rollups never deadlock; FOR NO KEY UPDATE leaves the slices' foreign-key checks free.
    """
    cursor.execute(f"SELECT id FROM {JOBS} WHERE id IN (SELECT job_id FROM {TOUCHED_TABLE}) "
                   "ORDER BY id FOR NO KEY UPDATE")  # fmt: skip


def job_totals_update() -> int:
    """Set the totals of every job whose slices changed (listed in the touched table) as sums of all its slices.

    A job none of whose hours is priced has estimated and allocated null (unknown, not $0);
    a job with no slice left has all four null. Returns the jobs updated.
    """
    distinct = (lambda a, b: f"{a} IS DISTINCT FROM {b}") if postgres() else (lambda a, b: f"{a} IS NOT {b}")
    unknown = "sums.c = 0 AND sums.u > 0"
    new = {
        "gpu_hours": "sums.h",
        "estimated_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.c END",
        "allocated_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.a END",
        "unpriced_gpu_hours": "sums.u",
        "used_gpu_hours": "sums.b",
        "waste_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.w END",
    }
    changed = " OR ".join(distinct(f"{JOBS}.{name}", value) for name, value in new.items())
    with connection.cursor() as cursor:
        if postgres():
            cursor.execute(f"ANALYZE {TOUCHED_TABLE}")  # a temporary table has no statistics until told
            _lock_touched_jobs(cursor)
        # No WITH in front: Python's sqlite3 reports no rowcount for a statement that starts with one.
        cursor.execute(f"""
UPDATE {JOBS} SET {", ".join(f"{name} = {value}" for name, value in new.items())}
FROM (
    SELECT s.job_id, SUM(s.gpu_hours) AS h, SUM(s.estimated_usd) AS c, SUM(s.allocated_usd) AS a,
           SUM(s.unpriced_gpu_hours) AS u, SUM(s.used_gpu_hours) AS b, SUM(s.waste_usd) AS w
    FROM {SLICES} s WHERE s.job_id IN (SELECT DISTINCT job_id FROM {TOUCHED_TABLE}) GROUP BY s.job_id
) sums
WHERE {JOBS}.id = sums.job_id AND ({changed})""")
        updated = cursor.rowcount
        # Jobs that lost a slice and got none back, and have none left: few (deleted or moved jobs).
        cursor.execute(f"""
SELECT job_id FROM (SELECT job_id FROM {TOUCHED_TABLE} WHERE old
                    EXCEPT SELECT job_id FROM {TOUCHED_TABLE} WHERE NOT old) lost
WHERE NOT EXISTS (SELECT 1 FROM {SLICES} s WHERE s.job_id = lost.job_id)""")  # fmt: skip
        gone = [row[0] for row in cursor.fetchall()]
        for first in range(0, len(gone), 500):
            updated += Job.objects.filter(pk__in=gone[first : first + 500], gpu_hours__isnull=False).update(
                gpu_hours=None,
                estimated_usd=None,
                allocated_usd=None,
                unpriced_gpu_hours=None,
                used_gpu_hours=None,
                waste_usd=None,
            )
        cursor.execute(f"TRUNCATE {TOUCHED_TABLE}" if postgres() else f"DELETE FROM {TOUCHED_TABLE}")
    return updated
