"""Each job's cost per day (JobDaySlice), in SQL; label rows follow (job_labels), then its totals (job_totals).

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

Window functions do the distribution over the whole range at once, in 64-bit integers (job_sql);
nothing goes through Python per job.
"""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection

from costs.billing.models import CostSnapshot
from costs.usage.models import JobDaySlice, LabelUsageSnapshot, ModelUsageSnapshot
from costs.usage.services.job_labels import label_months_rebuild, label_params, label_rows_of_day, label_rows_of_range
from costs.usage.services.job_sql import (
    FINAL_TABLE,
    JOBS_TABLE,
    LOCKED_TABLE,
    RANGE_TABLE,
    TARGETS_TABLE,
    TEMP_TABLES,
    TOUCHED_TABLE,
    UNITS_PER_CENT,
    UNITS_PER_WASTE_CENT,
    analyze,
    clear_table,
    div,
    integer,
    mod,
    new_id,
    postgres,
    units,
    wide,
    wide_div,
    wide_mod,
    with_ids,
)
from jobs.models import Job

GROUP = "model_id"  # the slices of one model row (date, team, provider, GPU type, model) add up to it
SLICES, MODELS = JobDaySlice._meta.db_table, ModelUsageSnapshot._meta.db_table
LABELS, BILLS, JOBS = LabelUsageSnapshot._meta.db_table, CostSnapshot._meta.db_table, Job._meta.db_table
# Sorts and hashes of a year's slices fit in memory with this much (PostgreSQL's default, 4 MB, spills them to disk).
WORK_MEM = "64MB"


def largest_remainder(floor: str, remainder: str, target: str, tie: str = "job_id") -> str:
    """floor + 1 for the (target - sum of floors) rows of the group with the largest remainders."""
    return (
        f"{floor} + CASE WHEN ROW_NUMBER() OVER (PARTITION BY {GROUP} ORDER BY {remainder} DESC, {tie}) "
        f"<= {target} - SUM({floor}) OVER (PARTITION BY {GROUP}) THEN 1 ELSE 0 END"
    )


def create_job_table() -> None:
    """The temporary tables of a rollup (dropped by drop_job_tables)."""
    number, uuid = integer(), ("UUID" if postgres() else "CHAR(32)")
    figures = (
        f"gpu_seconds {number}, unpriced_seconds {number}, priced_seconds {number}, cost_units {number}, "
        f"util_bp {number}{''.join(f', v{index} TEXT' for index in range(len(settings.HELIOX_COST_LABELS)))}"
    )
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {JOBS_TABLE} (job_id {uuid}, team_id {uuid}, provider VARCHAR(32), "
            f"gpu_type VARCHAR(32), model_name VARCHAR(200), {figures})"
        )
        # The same rows of every day of the range, by the id of their day's model row.
        cursor.execute(f"CREATE TEMPORARY TABLE {RANGE_TABLE} (model_id {uuid}, job_id {uuid}, {figures})")
        # old: the job lost a slice (which it may have got back); else it got one.
        cursor.execute(f"CREATE TEMPORARY TABLE {TOUCHED_TABLE} (job_id {uuid}, old BOOLEAN)")
        cursor.execute(f"CREATE TEMPORARY TABLE {LOCKED_TABLE} (job_id {uuid})")


def drop_job_tables() -> None:
    with connection.cursor() as cursor:
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def clear_job_table(cursor) -> None:
    clear_table(cursor, JOBS_TABLE)


def job_costs_keep_day(*, day: date) -> None:
    """Keep the day's job rows for job_costs_range, with the id of their model row (stored by then).

    OFFSET 0 keeps the day's model rows a subquery of their own on PostgreSQL, which then hashes those
    few rather than looking each job's up in an index (1 ms a day against 3-5)."""
    columns = ["gpu_seconds", "unpriced_seconds", "priced_seconds", "cost_units", "util_bp",
               *(f"v{index}" for index in range(len(settings.HELIOX_COST_LABELS)))]  # fmt: skip
    fence = "OFFSET 0" if postgres() else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
INSERT INTO {RANGE_TABLE} (model_id, job_id, {", ".join(columns)})
SELECT m.id, d.job_id, {", ".join(f"d.{column}" for column in columns)}
FROM {JOBS_TABLE} d
JOIN (SELECT id, team_id, provider, gpu_type, model_name FROM {MODELS} WHERE date = %s {fence}) m
  ON m.team_id = d.team_id AND m.provider = d.provider AND m.gpu_type = d.gpu_type AND m.model_name = d.model_name""",
            [connection.ops.adapt_datefield_value(day)],
        )


def _batch_settings(cursor) -> None:
    """PostgreSQL, until the transaction ends: WORK_MEM (unless the session has more already), so that a year's
    sorts and hashes stay in memory; no JIT, whose compilation of these wide expressions costs more than it saves."""
    if postgres():
        cursor.execute("SELECT set_config('work_mem', %s, true) WHERE pg_size_bytes(current_setting('work_mem')) "
                       "< pg_size_bytes(%s)", [WORK_MEM, WORK_MEM])  # fmt: skip
        cursor.execute("SELECT set_config('jit', 'off', true)")


def _create_targets(cursor, params: dict, where: str) -> None:
    """TARGETS_TABLE: the model rows of `where` (on m), with their figures in units and whether a bill is known."""
    cursor.execute(f"DROP TABLE IF EXISTS {TARGETS_TABLE}")
    cursor.execute(f"""
CREATE TEMPORARY TABLE {TARGETS_TABLE} AS
SELECT m.id, m.date, m.team_id, m.provider, m.gpu_type, m.model_name,
       {units("m.gpu_hours", 10000)} AS h_t, {units("m.unpriced_gpu_hours", 10000)} AS u_t,
       {units("m.estimated_cost_usd", 100)} AS c_t, {units("m.used_gpu_hours", 10000)} AS b_t,
       {units("m.unmeasured_gpu_hours", 10000)} AS n_t, {units("m.measured_gpu_hours", 10000)} AS k_t,
       {units("m.waste_usd", 100)} AS w_t, {units("m.allocated_usd", 100)} AS a_t,
       {units("m.allocated_shared_usd", 100)} AS s_t, {units("m.allocated_waste_usd", 100)} AS e_t,
       {units("m.allocated_shared_waste_usd", 100)} AS y_t, CASE WHEN b.id IS NULL THEN 0 ELSE 1 END AS billed
FROM {MODELS} m
LEFT JOIN {BILLS} b ON b.date = m.date AND b.provider = m.provider AND b.gpu_type = m.gpu_type
WHERE {where}""", params)  # fmt: skip
    analyze(cursor, TARGETS_TABLE)


def _allocation_ctes(totals: str) -> str:
    """CTEs from `est` (job_id, model_id, c = cents, h = 0.0001 GPU-hours, w = waste cents, k and b = measured and
    used 0.0001 GPU-hours (0 when unmeasured), a_t, s_t, e_t, y_t, billed) to `final` (a, s, e, y).

    `totals` selects est.* with c_sum, h_sum, w_sum and i_sum, the model row's c, h, w and k - b. e and y, the
    allocated waste, share e_t by waste and y_t by idle GPU-hours (k - b), as the row's figures were computed
    (allocation.allocated_waste); with no bill both are the waste, as a and s are the estimate. t x w can pass
    2**63 (a bill's cents x a job's): wide."""
    return f"""
sums AS ({totals}),
shares AS (
    SELECT sums.*, CASE WHEN c_sum > 0 THEN c ELSE h END AS a_w, CASE WHEN c_sum > 0 THEN c_sum ELSE h_sum END AS a_ws,
           CASE WHEN h_sum > 0 THEN h ELSE c END AS s_w, CASE WHEN h_sum > 0 THEN h_sum ELSE c_sum END AS s_ws,
           w AS e_w, w_sum AS e_ws, k - b AS y_w, i_sum AS y_ws
    FROM sums
),
floors AS (
    SELECT shares.*,
           CASE WHEN a_ws > 0 THEN {wide_div(wide("a_t") + " * a_w", "a_ws")} ELSE 0 END AS a_f,
           CASE WHEN a_ws > 0 THEN {wide_mod(wide("a_t") + " * a_w", "a_ws")} ELSE 0 END AS a_r,
           CASE WHEN s_ws > 0 THEN {wide_div(wide("s_t") + " * s_w", "s_ws")} ELSE 0 END AS s_f,
           CASE WHEN s_ws > 0 THEN {wide_mod(wide("s_t") + " * s_w", "s_ws")} ELSE 0 END AS s_r,
           {_floor("e")}, {_floor("y")}
    FROM shares
),
final AS (
    SELECT floors.*,
           CASE WHEN billed = 0 THEN c ELSE {largest_remainder("a_f", "a_r", "a_t")} END AS a,
           CASE WHEN billed = 0 THEN c ELSE {largest_remainder("s_f", "s_r", "s_t")} END AS s,
           CASE WHEN billed = 0 THEN w ELSE {largest_remainder("e_f", "e_r", "e_t")} END AS e,
           CASE WHEN billed = 0 THEN w ELSE {largest_remainder("y_f", "y_r", "y_t")} END AS y
    FROM floors
)"""


def _floor(x: str) -> str:
    """The floor and remainder of a slice's share of {x}_t by weight {x}_w out of {x}_ws (0 when no weight)."""
    product = wide(f"{x}_t") + f" * {x}_w"
    return (
        f"CASE WHEN {x}_ws > 0 THEN {wide_div(product, f'{x}_ws')} ELSE 0 END AS {x}_f, "
        f"CASE WHEN {x}_ws > 0 THEN {wide_mod(product, f'{x}_ws')} ELSE 0 END AS {x}_r"
    )


# Figures distributed by largest remainder over a model row's slices (a and s follow in _allocation_ctes).
DISTRIBUTED = ("h", "u", "c", "b", "n", "k", "w")


def _final_slices_sql() -> str:
    """The range's slices with every figure distributed, in units, and their job's label values (v0...).

    Each figure's leftover units (the model row's total less the sum of its slices' floors) come from one
    GROUP BY; window functions then rank the slices of each model row by remainder, once per figure."""
    values = "".join(f", v{index}" for index in range(len(settings.HELIOX_COST_LABELS)))
    leftovers = ", ".join(f"g.{x}_t - s.{x}_s AS {x}_l" for x in DISTRIBUTED)
    in_order = {x: f"{x}_f + CASE WHEN {_rank(f'{x}_r')} <= {x}_l THEN 1 ELSE 0 END" for x in ("h", "u", "c", "b", "w")}
    return f"""
WITH units AS (
    SELECT t.model_id, t.job_id, t.priced_seconds, t.cost_units, t.util_bp{values.replace(", v", ", t.v")},
           {div("t.gpu_seconds * 25", "9")} AS h_f, {mod("t.gpu_seconds * 25", "9")} AS h_r,
           {div("t.unpriced_seconds * 25", "9")} AS u_f, {mod("t.unpriced_seconds * 25", "9")} AS u_r,
           {div("t.cost_units", str(UNITS_PER_CENT))} AS c_f, {mod("t.cost_units", str(UNITS_PER_CENT))} AS c_r,
           {_efficiency_floors()}
    FROM {RANGE_TABLE} t
),
floor_sums AS (
    SELECT model_id, {", ".join(f"CAST(SUM({x}_f) AS {integer()}) AS {x}_s" for x in DISTRIBUTED)}
    FROM units GROUP BY model_id
),
base AS (
    SELECT units.*, {leftovers}, g.h_t, g.c_t, g.a_t, g.s_t, g.e_t, g.y_t, g.billed, g.w_t AS w_sum,
           g.k_t - g.b_t AS i_sum
    FROM units JOIN floor_sums s ON s.model_id = units.model_id JOIN {TARGETS_TABLE} g ON g.id = units.model_id
),
est AS (
    SELECT base.*, {", ".join(f"{expression} AS {x}" for x, expression in in_order.items())},
           {_in_hours_order("n", "IS NULL")} AS n, {_in_hours_order("k", "IS NOT NULL")} AS k
    FROM base
),{_allocation_ctes("SELECT est.*, c_t AS c_sum, h_t AS h_sum FROM est")}
SELECT model_id, job_id, h, c, a, s, u, n, k,
       {", ".join(f"CASE WHEN util_bp IS NULL THEN NULL ELSE {x} END AS {x}" for x in "bwey")},
       CASE WHEN priced_seconds > 0 THEN ROUND(cost_units * 1.0 / priced_seconds) / 10000.0 END AS price{values}
FROM final"""


def _rank(remainder: str) -> str:
    """A slice's rank among its model row's slices: largest remainder first, ties by job id."""
    return f"ROW_NUMBER() OVER (PARTITION BY {GROUP} ORDER BY {remainder} DESC, job_id)"


def _in_hours_order(figure: str, util: str) -> str:
    """The distributed unmeasured (n) or measured (k) GPU-hours, without a sort of their own.

    For the jobs it applies to (util_bp `util`) the figure is the GPU-hours, so its remainders are
    h's and its order is h's order; its other jobs have remainder 0 and no leftover unit (see
    _efficiency_floors). So a job's rank is the count of such jobs up to it in h's order, which the
    window of h's rank gives (no two slices of a model row tie on job_id: no peers).
    """
    rank = f"SUM(CASE WHEN util_bp {util} THEN 1 ELSE 0 END) OVER (PARTITION BY {GROUP} ORDER BY h_r DESC, job_id)"
    return f"{figure}_f + CASE WHEN util_bp {util} AND {rank} <= {figure}_l THEN 1 ELSE 0 END"


def _efficiency_floors() -> str:
    """Floors and remainders of a slice's used GPU-hours (b, in 0.0001 GPU-hours: GPU-seconds x basis points / 3600),
    unmeasured and measured GPU-hours (n, k) and waste (w, cents: cost units x idle basis points, wide). A figure
    that is 0 for a job (all but n when unmeasured, n when measured) never gets a leftover unit: those go to positive
    remainders first, and no more are left than those."""
    bp, measured = "COALESCE(t.util_bp, 0)", "CASE WHEN t.util_bp IS NULL THEN 0 ELSE 1 END"
    unmeasured = f"(t.gpu_seconds * (1 - {measured}) * 25)"
    idle = f"({wide('t.cost_units')} * {measured} * (10000 - {bp}))"
    measured_units = f"(t.gpu_seconds * {measured} * 25)"
    return (
        f"{div(f't.gpu_seconds * {bp}', '3600')} AS b_f, {mod(f't.gpu_seconds * {bp}', '3600')} AS b_r, "
        f"{div(unmeasured, '9')} AS n_f, {div(measured_units, '9')} AS k_f, "
        f"{wide_div(idle, str(UNITS_PER_WASTE_CENT))} AS w_f, {wide_mod(idle, str(UNITS_PER_WASTE_CENT))} AS w_r"
    )


# The stored slices' own sums (the model row's, unless a rollup without job costs changed it since).
REALLOCATION_TOTALS = f"""SELECT est.*, SUM(c) OVER (PARTITION BY {GROUP}) AS c_sum,
                                 SUM(h) OVER (PARTITION BY {GROUP}) AS h_sum,
                                 SUM(w) OVER (PARTITION BY {GROUP}) AS w_sum,
                                 SUM(k - b) OVER (PARTITION BY {GROUP}) AS i_sum FROM est"""


def _reallocate_sql() -> str:
    return f"""
WITH est AS (
    SELECT x.id, g.id AS model_id, x.job_id, {units("x.estimated_usd", 100)} AS c, {units("x.gpu_hours", 10000)} AS h,
           COALESCE({units("x.waste_usd", 100)}, 0) AS w, {units("x.measured_gpu_hours", 10000)} AS k,
           COALESCE({units("x.used_gpu_hours", 10000)}, 0) AS b, g.a_t, g.s_t, g.e_t, g.y_t, g.billed
    FROM {SLICES} x JOIN {TARGETS_TABLE} g ON g.date = x.date AND g.team_id = x.team_id AND g.provider = x.provider
     AND g.gpu_type = x.gpu_type AND g.model_name = x.model_name
    WHERE x.date = %(day)s
),{_allocation_ctes(REALLOCATION_TOTALS)}
UPDATE {SLICES} SET allocated_usd = final.a / 100.0, allocated_shared_usd = final.s / 100.0,
       allocated_waste_usd = CASE WHEN {SLICES}.used_gpu_hours IS NULL THEN NULL ELSE final.e / 100.0 END,
       allocated_shared_waste_usd = CASE WHEN {SLICES}.used_gpu_hours IS NULL THEN NULL ELSE final.y / 100.0 END
FROM final WHERE {SLICES}.id = final.id"""


def job_costs_range(*, start: date, end: date, now: datetime) -> None:
    """Replace the slices and label rows of [start, end) from the kept job rows, in a few set-based statements.

    Runs after every day's model rows are stored (they are the targets); the jobs whose
    slices change are listed for job_totals.job_totals_update, which sums them from FINAL_TABLE.
    """
    params = label_params(now, start=start, end=end)
    in_range = "date >= %(start)s AND date < %(end)s"
    with connection.cursor() as cursor:
        _batch_settings(cursor)
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, TRUE FROM {SLICES} WHERE {in_range}", params)
        cursor.execute(f"DELETE FROM {SLICES} WHERE {in_range}", params)
        cursor.execute(f"DELETE FROM {LABELS} WHERE {in_range}", params)
        analyze(cursor, RANGE_TABLE)
        _create_targets(cursor, params, "m.date >= %(start)s AND m.date < %(end)s")
        cursor.execute(f"DROP TABLE IF EXISTS {FINAL_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {FINAL_TABLE} AS {_final_slices_sql()}", params)
        cursor.execute(f"""
INSERT INTO {SLICES} (id, created_at, updated_at, job_id, date, team_id, provider, gpu_type, model_name, gpu_hours,
                      estimated_usd, allocated_usd, allocated_shared_usd, unpriced_gpu_hours, price_usd_per_gpu_hour,
                      used_gpu_hours, unmeasured_gpu_hours, measured_gpu_hours, waste_usd, allocated_waste_usd,
                      allocated_shared_waste_usd)
SELECT {new_id()}, %(now)s, %(now)s, f.job_id, g.date, g.team_id, g.provider, g.gpu_type, g.model_name,
       f.h / 10000.0, f.c / 100.0, f.a / 100.0, f.s / 100.0, f.u / 10000.0, f.price, f.b / 10000.0, f.n / 10000.0,
       f.k / 10000.0, f.w / 100.0, f.e / 100.0, f.y / 100.0
FROM {FINAL_TABLE} f JOIN {TARGETS_TABLE} g ON g.id = f.model_id
ORDER BY f.job_id""", with_ids(params))  # in the (job_id, date) index's order: its pages written once  # fmt: skip
        label_rows_of_range(cursor, params)
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, FALSE FROM {FINAL_TABLE}")
    label_months_rebuild(start=start, end=end, now=now)


def job_slices_reallocate(*, day: date, now: datetime) -> None:
    """After the day's allocation changed (a bill): split it again over the stored slices; rebuild label rows."""
    params = label_params(now, day=day)
    with connection.cursor() as cursor:
        _create_targets(cursor, params, "m.date = %(day)s")
        cursor.execute(_reallocate_sql(), params)
        cursor.execute(f"INSERT INTO {TOUCHED_TABLE} SELECT job_id, FALSE FROM {SLICES} WHERE date = %(day)s", params)
        cursor.execute(f"DELETE FROM {LABELS} WHERE date = %(day)s", params)
        label_rows_of_day(cursor, params)
    label_months_rebuild(start=day, end=day + timedelta(days=1), now=now)
