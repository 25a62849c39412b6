"""The floor of the job-cost writes: the rows a rollup with job costs produced, written again with nothing to
compute, into tables shaped like the real ones (same columns, same indexes), in a transaction rolled back.

What it times is what the rollup with job costs must write beyond the rollup without them, whatever the SQL
that computes the rows: the job slices, the label day and month rows and the jobs' totals (INSERT ... SELECT
of each table into a copy of it). If this floor alone is more than 0.3 x the rollup without job costs, no SQL
can bring the ratio to 1.3x with these rows stored.
"""

import time


def write_floor() -> dict[str, float]:
    """Seconds per table written (slices, label day rows, label month rows, job totals), and 'total'."""
    from django.db import connection, transaction

    from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot
    from jobs.models import JobTotals

    times: dict[str, float] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for name, model in (("slices", JobDaySlice), ("label day rows", LabelUsageSnapshot),
                            ("label month rows", LabelMonthSnapshot), ("job totals", JobTotals)):  # fmt: skip
            table = model._meta.db_table
            # Not TEMPORARY: the real tables' writes go to the WAL, and so must these.
            cursor.execute(f"CREATE TABLE floor_copy (LIKE {table} INCLUDING ALL)")
            start = time.perf_counter()
            cursor.execute(f"INSERT INTO floor_copy SELECT * FROM {table}")
            times[name] = time.perf_counter() - start
            cursor.execute("DROP TABLE floor_copy")
        transaction.set_rollback(True)
    times["total"] = sum(times.values())
    return times
