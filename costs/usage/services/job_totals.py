"""Each job's totals (jobs.totals.JobTotals: gpu_hours, estimated_usd, allocated_usd...): the sums of all its slices.

After a rollup of [start, end) the slices of the range are still in FINAL_TABLE, in whole units
(cents, 0.0001 GPU-hours): a job's sums are those plus its stored slices outside the range (none
for most jobs), not a second pass over the decimals just stored. After a reallocation (a bill), the
stored slices are summed.
"""

from datetime import date, timedelta

from django.db import connection

from costs.usage.models import JobDaySlice
from costs.usage.services.job_sql import FINAL_TABLE, LOCKED_TABLE, TOUCHED_TABLE, clear_table, postgres, units
from heliox.dates import utc_day_bounds
from jobs.models import Job, JobTotals

SLICES, JOBS, TOTALS_TABLE = JobDaySlice._meta.db_table, Job._meta.db_table, JobTotals._meta.db_table
# A job's totals: the slice column and its units per stored unit.
TOTALS = (("h", "gpu_hours", 10000), ("c", "estimated_usd", 100), ("a", "allocated_usd", 100),
          ("u", "unpriced_gpu_hours", 10000), ("b", "used_gpu_hours", 10000), ("w", "waste_usd", 100),
          ("e", "allocated_waste_usd", 100))  # fmt: skip

# The touched jobs that lost a slice and got none back (moved away, emptied or deleted).
LOST = f"SELECT job_id FROM {TOUCHED_TABLE} WHERE old EXCEPT SELECT job_id FROM {TOUCHED_TABLE} WHERE NOT old"


def _lock_touched_jobs(cursor, fresh: tuple[date, date] | None, longest: timedelta) -> None:
    """Lock the rows of the touched jobs that another rollup may also sum, in id order, before their totals are
    summed, and list them in LOCKED_TABLE (PostgreSQL).

    Rollups of different days run at once; a long job has slices in both. Each sums all of a
    job's slices, and cannot see the other's before it commits: so the second waits here for the
    first's commit, and its sums, a statement that starts after the wait, see them. In id order,
    two rollups never deadlock. A job deleted meanwhile is not locked (and its slices go: _drop_orphans).
    After a rollup of [start, end) (`fresh`), only the jobs that reach outside it (_reaching_sql): the others'
    slices are all on days this rollup holds (rollup._lock_day), and no other rollup can store one of theirs
    elsewhere (a rollup stores a job's slices only on days its times reach), so their sums need no slice from
    outside the range (_sums_sql). Locking a row writes it: a year's 2,000,000 jobs took 30 s.
    """
    reaching, params = f"SELECT job_id FROM {TOUCHED_TABLE}", dict[str, object]()
    if fresh is not None:
        reaching, params = _reaching_sql(fresh, longest)
    cursor.execute(f"""
WITH locked AS (SELECT id FROM {JOBS} WHERE id IN ({reaching}) AND id IN (SELECT job_id FROM {TOUCHED_TABLE})
                ORDER BY id FOR NO KEY UPDATE)
INSERT INTO {LOCKED_TABLE} SELECT id FROM locked""", params)  # fmt: skip
    cursor.execute(f"ANALYZE {LOCKED_TABLE}")


def _reaching_sql(fresh: tuple[date, date], longest: timedelta) -> tuple[str, dict[str, object]]:
    """The jobs that reach outside the rollup's range [start, end): finished jobs across its first or last instant
    (found on the start_time index: no finished job of the range lasts longer than `longest`), running jobs, jobs
    that lost their slices in it (moved or emptied), and jobs with a slice stored outside it (whose times changed
    since): sets the planner can join, not a lookup per touched job (a year's 2,000,000 took 36 s that way)."""
    start, end = (utc_day_bounds(day)[0] for day in fresh)
    adapt = connection.ops.adapt_datefield_value
    params: dict[str, object] = {
        "start": start, "end": end, "start_from": start - longest, "end_from": max(start, end - longest),
        "day_start": adapt(fresh[0]), "day_end": adapt(fresh[1]),
    }  # fmt: skip
    return (
        f"""
SELECT id FROM {JOBS} WHERE start_time >= %(start_from)s AND start_time < %(start)s AND end_time > %(start)s
UNION ALL SELECT id FROM {JOBS} WHERE start_time >= %(end_from)s AND start_time < %(end)s AND end_time > %(end)s
UNION ALL SELECT id FROM {JOBS} WHERE end_time IS NULL AND start_time < %(end)s
UNION ALL SELECT job_id FROM ({LOST}) lost
UNION ALL SELECT s.job_id FROM {SLICES} s WHERE (s.date < %(day_start)s OR s.date >= %(day_end)s)
    AND s.job_id IN (SELECT job_id FROM {TOUCHED_TABLE})""",
        params,
    )


def _drop_orphans(cursor) -> None:
    """Delete the new slices of jobs deleted while the rollup ran (slices have no foreign key in the database).

    After _lock_touched_jobs, no touched job that is still there can be deleted before the commit."""
    cursor.execute(f"""
DELETE FROM {SLICES} WHERE job_id IN (SELECT t.job_id FROM {TOUCHED_TABLE} t
                                      WHERE NOT t.old AND NOT EXISTS (SELECT 1 FROM {JOBS} j WHERE j.id = t.job_id))""")


def _sums_sql(fresh: tuple[date, date] | None) -> tuple[str, dict]:
    """Per touched job, the sums of its slices in units (h, c, a, u, b, w, e), and their parameters.

    `fresh`: the range whose slices are in FINAL_TABLE (a rollup's); else every slice is read from the table.
    After a rollup on PostgreSQL only the locked jobs can have slices outside the range (_lock_touched_jobs): a
    few index lookups, where every touched job's took a scan of all the slices (2.3 s a month at 2,000,000 jobs)."""
    stored = ", ".join(f"{units(f's.{column}', scale)} AS {unit}" for unit, column, scale in TOTALS)
    touched = f"s.job_id IN (SELECT job_id FROM {TOUCHED_TABLE})"
    if fresh is None:
        rows, params = f"SELECT s.job_id, {stored} FROM {SLICES} s WHERE {touched}", {}
    else:
        if postgres():
            touched = f"s.job_id IN (SELECT job_id FROM {LOCKED_TABLE})"
        adapt = connection.ops.adapt_datefield_value
        params = {"fresh_start": adapt(fresh[0]), "fresh_end": adapt(fresh[1])}
        rows = (f"SELECT job_id, {', '.join(unit for unit, *_ in TOTALS)} FROM {FINAL_TABLE} UNION ALL "
                f"SELECT s.job_id, {stored} FROM {SLICES} s "
                f"WHERE (s.date < %(fresh_start)s OR s.date >= %(fresh_end)s) AND {touched}")  # fmt: skip
    sums = ", ".join(f"SUM({unit}) AS {unit}" for unit, *_ in TOTALS)
    return f"SELECT job_id, {sums} FROM ({rows}) x GROUP BY job_id", params


def job_totals_update(fresh: tuple[date, date] | None = None, longest: timedelta = timedelta(0)) -> int:
    """Set the totals of every job whose slices changed (listed in the touched table) as sums of all its slices.

    A job none of whose hours is priced has estimated and allocated null (unknown, not $0);
    a job with no slice left has no totals row (all null). Only the rows whose totals change
    are written (a re-run writes none): an upsert on the narrow totals table, not the job
    row. `fresh`: see _sums_sql; `longest`: the longest finished job that touches it (_reaching_sql). Returns the
    jobs updated.
    """
    distinct = (lambda a, b: f"{a} IS DISTINCT FROM {b}") if postgres() else (lambda a, b: f"{a} IS NOT {b}")
    unknown = "sums.c = 0 AND sums.u > 0"
    new = {
        "gpu_hours": "sums.h / 10000.0",
        "estimated_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.c / 100.0 END",
        "allocated_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.a / 100.0 END",
        "unpriced_gpu_hours": "sums.u / 10000.0",
        "used_gpu_hours": "sums.b / 10000.0",
        "waste_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.w / 100.0 END",
        "allocated_waste_usd": f"CASE WHEN {unknown} THEN NULL ELSE sums.e / 100.0 END",
    }
    changed = " OR ".join(distinct(f"{TOTALS_TABLE}.{name}", f"excluded.{name}") for name in new)
    sums, params = _sums_sql(fresh)
    # In the order of jobs_totals_estimated_idx (and, mostly, of the allocated one): each of their pages is written
    # once, not once per row (a month's totals at 2,000,000 jobs: 7.5 s -> 4.7 s with 128 MB of shared_buffers).
    in_index_order = "\nORDER BY 3 DESC NULLS LAST, 1" if postgres() else ""
    with connection.cursor() as cursor:
        if postgres():
            cursor.execute(f"ANALYZE {TOUCHED_TABLE}")  # a temporary table has no statistics until told
            _lock_touched_jobs(cursor, fresh, longest)
        _drop_orphans(cursor)
        # Only jobs that are still there (a job deleted meanwhile keeps no totals). WHERE TRUE: SQLite parses
        # ON CONFLICT after a SELECT only when the SELECT has a WHERE. No WITH in front: Python's sqlite3
        # reports no rowcount for a statement that starts with one.
        cursor.execute(f"""
INSERT INTO {TOTALS_TABLE} (job_id, {", ".join(new)})
SELECT sums.job_id, {", ".join(new.values())}
FROM ({sums}) sums WHERE EXISTS (SELECT 1 FROM {JOBS} j WHERE j.id = sums.job_id){in_index_order}
ON CONFLICT (job_id) DO UPDATE SET {", ".join(f"{name} = excluded.{name}" for name in new)}
WHERE {changed}""", params)  # fmt: skip
        updated = cursor.rowcount + _clear_gone(cursor)
        clear_table(cursor, TOUCHED_TABLE)
        clear_table(cursor, LOCKED_TABLE)
    return updated


def _clear_gone(cursor) -> int:
    """Delete the totals of jobs that lost a slice, got none back and have none left: few (deleted or moved jobs)."""
    cursor.execute(f"""
SELECT job_id FROM ({LOST}) lost
WHERE NOT EXISTS (SELECT 1 FROM {SLICES} s WHERE s.job_id = lost.job_id)""")  # fmt: skip
    gone, updated = [row[0] for row in cursor.fetchall()], 0
    for first in range(0, len(gone), 500):
        updated += JobTotals.objects.filter(job_id__in=gone[first : first + 500]).delete()[0]
    return updated
