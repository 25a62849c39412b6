"""What the rollup's job-cost SQL shares: its temporary tables and the few expressions that differ by database.

Every figure in these tables is a whole number of its smallest unit (GPU-seconds, cost units of
1/36,000,000 USD, basis points, cents, 0.0001 GPU-hours): BIGINT on PostgreSQL, INTEGER (64-bit)
on SQLite, so that the arithmetic is exact and cheap on both. The few products that could pass
2**63 (waste units: cost units x basis points; a bill's cents x a job's share) are computed as
NUMERIC on PostgreSQL (`wide`).
"""

import uuid

from django.db import connection

JOBS_TABLE = "heliox_rollup_job_day"  # the jobs of the day being rolled up
RANGE_TABLE = "heliox_rollup_job_range"  # the same rows of every day of the range, dated
TARGETS_TABLE = "heliox_rollup_targets"  # the range's model rows (and bills) that the slices must add up to
FINAL_TABLE = "heliox_rollup_job_slices"  # the range's slices, distributed, before they are stored
TOUCHED_TABLE = "heliox_rollup_touched_jobs"
LOCKED_TABLE = "heliox_rollup_locked_jobs"  # the touched jobs that reach outside the range, locked (PostgreSQL)
TEMP_TABLES = (JOBS_TABLE, RANGE_TABLE, TARGETS_TABLE, FINAL_TABLE, TOUCHED_TABLE, LOCKED_TABLE)
UNITS_PER_CENT = 360_000  # cost units (1/36,000,000 USD) per cent
# Waste units (cost units x idle basis points of utilisation) per cent and per USD.
UNITS_PER_WASTE_CENT, UNITS_PER_WASTE_USD = UNITS_PER_CENT * 10_000, UNITS_PER_CENT * 100 * 10_000


def postgres() -> bool:
    return connection.vendor == "postgresql"


def integer() -> str:
    """The column type of the temporary tables' figures."""
    return "BIGINT" if postgres() else "INTEGER"


def div(a: str, b: str) -> str:
    """Integer division of non-negative whole numbers (BIGINT or INTEGER operands: truncates)."""
    return f"(({a}) / ({b}))"


def mod(a: str, b: str) -> str:
    return f"(({a}) %% ({b}))"


def wide(a: str) -> str:
    """A whole number that a product may take past 2**63: NUMERIC on PostgreSQL (SQLite has only 64 bits)."""
    return f"CAST({a} AS NUMERIC)" if postgres() else a


def wide_div(a: str, b: str) -> str:
    """div() of a wide() product, back to a whole number of 64 bits."""
    return f"CAST(DIV({a}, {b}) AS BIGINT)" if postgres() else div(a, b)


def wide_mod(a: str, b: str) -> str:
    return f"CAST(MOD({a}, {b}) AS BIGINT)" if postgres() else mod(a, b)


def units(column: str, scale: int) -> str:
    """A stored decimal as a whole number of its smallest unit (cents: 100, 0.0001 GPU-hours: 10000)."""
    return f"CAST({column} * {scale} AS BIGINT)" if postgres() else f"CAST(ROUND({column} * {scale}) AS INTEGER)"


def new_id() -> str:
    """The primary key of each row of an INSERT ... SELECT (pass the parameters through with_ids()).

    PostgreSQL: a random prefix per statement and the row's number, so that the keys are unique and
    one statement's are in order: its rows go to the end of the primary key's index, not each to a
    random page of it (a year's label rows go in a third faster than with gen_random_uuid()).
    """
    if postgres():
        return "CAST(%(ids)s || LPAD(TO_HEX(ROW_NUMBER() OVER ()), 12, '0') AS UUID)"
    return "lower(hex(randomblob(16)))"


def with_ids(params: dict) -> dict:
    """`params` and a new random prefix of keys for new_id(): the first 24 characters of a random UUID."""
    return {**params, "ids": str(uuid.uuid4())[:24]}


def month_of(column: str) -> str:
    """The first day of the month of a date column."""
    return f"CAST(date_trunc('month', {column}) AS DATE)" if postgres() else f"date({column}, 'start of month')"


def label_value(labels: str, index: int) -> str:
    """The value of the label key %(key<index>)s in a JSON column, or (unlabelled); keys hold no quote."""
    if postgres():
        return f"COALESCE(NULLIF({labels} ->> %(key{index})s, ''), %(unlabelled)s)"
    return f"COALESCE(NULLIF(json_extract({labels}, '$.\"' || %(key{index})s || '\"'), ''), %(unlabelled)s)"


def analyze(cursor, *tables: str) -> None:
    """Statistics for temporary tables (PostgreSQL has none until told), so that joins with them plan well."""
    if postgres():
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def clear_table(cursor, table: str) -> None:
    cursor.execute(f"TRUNCATE {table}" if postgres() else f"DELETE FROM {table}")
