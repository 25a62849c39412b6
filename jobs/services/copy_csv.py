"""The PostgreSQL fast path for Heliox CSV job files: COPY the file as it is, check it with one regex per line.

The row parser (`RowParser.heliox`) costs a Python object per value; here no row
becomes Python objects. The file's bytes stream into a temporary table of text
columns while every chunk is matched against a regular expression built from the
header, which admits only lines that the row parser accepts and reads the way
PostgreSQL does: strict ISO 8601 times, plain digits for counts, the known
providers, pricings and statuses, GPU type words; a field either plain or quoted
whole on one line (where both CSV readers agree). The few distinct GPU type
spellings are then named by the row parser's own rule, in Python. One INSERT ...
SELECT then trims, types and checks what a regex cannot (required values, lengths,
end after start, times within jobs.times' bounds), and the staged rows go through the same upsert as every other
import. Tests compare the two paths on generated files.

Anything else makes this path give up (`copy_csv_stage` returns None inside a
rolled-back savepoint) and the caller parses the file row by row, which names the
line, column and value of the first error. Giving up costs a re-read; it happens on
broken files and on valid but unusual ones (quotes inside a field, a quoted line
break, padded times, metadata, naive times in a zone other than UTC).
"""

import csv
import io
import json
import re
from functools import cache
from pathlib import Path

from django.db import DataError, connection, transaction
from psycopg import errors

from heliox.reading import CHUNK, MAX_COLUMNS, MAX_LINE_BYTES, open_binary, repeated_column

RAW = "heliox_job_import_raw"
UTIL_COLUMNS = ("gpu_util_avg", "gpu_mem_peak_gib")
# What `datetime.fromisoformat` reads as PostgreSQL's timestamptz input does: years 1000-2999
# (no overflow in UTC), hours 00-23, seconds 00-59 (PostgreSQL takes 24:00 and :60), <= 6 decimals.
ISO_INSTANT = (
    rb"[12]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    rb"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?"
)
NO_INSTANT = ("Unknown", "None", "NULL", "null")  # RowParser.instant reads these (and '') as null
# A field is plain (no quote in it) or quoted whole, quotes doubled, without a line break: Python's
# csv module and PostgreSQL's COPY read those alike; they part ways on a stray quote (a"b, "a"b, ' "a"').
FREE_TEXT = rb'(?:[^,\r\n"]*|"(?:[^"\r\n]|"")*")'  # trimmed and checked in SQL

SUMMARY = "SELECT count(*), count(*) FILTER (WHERE NOT valid) FROM {staging}"
# More distinct GPU type spellings than this is no real file: the row parser judges it.
MAX_GPU_SPELLINGS = 10_000


class NeedsRowParser(Exception):
    """The file holds something that only the row-by-row parser can judge."""


@cache
def python_whitespace() -> str:
    """Every character that `str.strip()` removes, so that SQL's btrim() removes the same."""
    return "".join(chr(code) for code in range(0x110000) if chr(code).isspace())


def _one_of(values) -> bytes:
    return b"(?:" + b"|".join(re.escape(value.encode()) for value in values) + b")"


def line_pattern(header: list[str], rules: dict) -> re.Pattern:
    """A line of data that the row parser would accept as far as each value alone goes."""
    gpu_type = rb"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # named afterwards by rules["gpu_type"]
    last = {name: position for position, name in enumerate(header)}
    values = {
        "provider": _one_of(rules["providers"]),
        "gpu_type": gpu_type,
        "gpu_count": rb"\d{1,9}",
        "pricing": _one_of(["", *rules["pricings"]]),
        "start_time": b"(?:%s|%s|)" % (ISO_INSTANT, _one_of(NO_INSTANT)),
        "end_time": b"(?:%s|%s|)" % (ISO_INSTANT, _one_of(NO_INSTANT)),
        "status": _one_of(["", *rules["statuses"]]),
        "metadata": b"",  # JSON needs quotes; the row parser reads it
    }
    columns = [b'(?:%s|"%s")' % (values[name], values[name]) if name in values and last[name] == position
               else FREE_TEXT for position, name in enumerate(header)]  # fmt: skip
    return re.compile(b"^" + b",".join(columns) + rb"\r?$", re.MULTILINE | re.ASCII)


def _stream(cursor, handle, columns: int, pattern: re.Pattern, progress) -> None:
    """COPY the data lines into RAW, checking each chunk of whole lines against `pattern` first."""
    names = ", ".join(f"c{index}" for index in range(columns))
    rest = b""
    with cursor.copy(f"COPY {RAW} ({names}) FROM STDIN (FORMAT csv, ENCODING 'UTF8')") as copy:
        while True:
            try:
                chunk = handle.read(CHUNK)
            except (OSError, EOFError):  # a truncated gzip file: the row parser names the line
                raise NeedsRowParser from None
            data = rest + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if len(rest) > CHUNK:  # a line longer than a chunk is no job: keep memory bounded
                raise NeedsRowParser
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            if len(pattern.findall(data)) != lines:
                raise NeedsRowParser
            copy.write(data)
            if progress:
                progress(lines)
            if not chunk:
                return


# heliox.validation.CONTROL in PostgreSQL's regular expressions (no NUL: its text holds none).
CONTROL_SQL = r"[\x01-\x1f\x7f-\x9f]"


def _typed_rows_sql(header: list[str], max_lengths) -> str:
    """SELECT of the staged lines as the upsert's columns, plus `valid`: do the checks that need SQL pass?"""
    index = {name: position for position, name in enumerate(header)}
    raw = {name: f"c{index[name]}" if name in index else "NULL::text" for name in (
        "team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
        "status", "external_id")}  # fmt: skip
    trimmed = ("team", "model_name", "region", "external_id")  # the regex vouched for the others' exact text
    columns = ", ".join(
        f"btrim(coalesce({raw[name]}, ''), %(ws)s) AS {name}" if name in trimmed else
        f"coalesce({raw[name]}, '') AS {name}" for name in raw
    )  # fmt: skip

    def instant(name: str) -> str:
        return f"CASE WHEN r.{name} <> ALL(%(no_instant)s) THEN date_trunc('second', r.{name}::timestamptz) END"

    # Each level is a subquery kept apart by OFFSET 0, so that a value used several times above
    # (a trimmed team, a parsed time) is computed once per row rather than at every use.
    lengths = " AND ".join(f"length(r.{column}) <= {limit}" for column, limit in max_lengths if column in trimmed)
    lengths += " AND r.team !~ %(control)s"  # a team name holds no control character (name_problem)
    return f"""
        SELECT line, team, model_name, provider, gpu_type, gpu_count, region, pricing, start_time, end_time,
               coalesce(nullif(raw_status, ''), CASE WHEN end_time IS NULL THEN %(running)s ELSE %(succeeded)s END)
                   AS status,
               external_id, '{{}}'::jsonb AS metadata, NULL::jsonb AS labels, NULL::numeric AS gpu_util_avg,
               NULL::numeric AS gpu_mem_peak_gib, '' AS gpu_util_source,
               (team <> '' AND external_id <> '' AND (has_start OR raw_status = %(pending)s) AND gpu_count >= 1
                AND (end_time IS NULL OR start_time IS NULL OR end_time >= start_time) AND lengths_ok
                AND coalesce(start_time BETWEEN %(floor)s AND %(ceiling)s, TRUE)
                AND coalesce(end_time BETWEEN %(floor)s AND %(ceiling)s, TRUE)) IS TRUE
                   AS valid
        FROM (
            SELECT r.n + 1 AS line, r.team, r.model_name, r.provider,
                   coalesce(%(gpu_types)s::jsonb ->> r.gpu_type, r.gpu_type) AS gpu_type,
                   r.gpu_count::integer AS gpu_count, r.region, coalesce(nullif(r.pricing, ''), %(default_pricing)s)
                   AS pricing, {instant("start_time")} AS start_time, {instant("end_time")} AS end_time,
                   r.status AS raw_status, r.external_id, r.start_time <> '' AS has_start, {lengths} AS lengths_ok
            FROM (SELECT n, {columns} FROM {RAW} OFFSET 0) r
            OFFSET 0
        ) typed
    """  # noqa: S608 - table and column names are the code's own; values are parameters


def copy_csv_stage(*, path: Path, staging: str, required: tuple[str, ...], rules: dict, progress=None):
    """Stage a Heliox CSV file into `staging` by COPY; None when the row parser must judge the file.

    Returns (rows read, rows per GPU type spelling). On None, everything this did is
    rolled back. `rules` holds the parser's vocabularies: providers, pricings,
    statuses, column sizes, the defaults, and `gpu_type`, the parser's function from a
    spelling to the stored GPU type (ValueError when it is none).
    """
    with open_binary(path) as handle:
        try:
            first = handle.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError):
            return None  # a corrupt or truncated gzip file: the row parser names it
        if len(first) > MAX_LINE_BYTES:
            return None  # the row parser names the line that is too long
        try:
            header = next(csv.reader(io.StringIO(first.decode("utf-8-sig", errors="replace"))), [])
        except csv.Error:
            return None
        if not header or len(header) > MAX_COLUMNS or any(name not in header for name in required):
            return None  # the row parser says which column is missing
        if repeated_column(header):
            return None  # the row parser refuses the file, naming the column
        if any(name and name not in rules["columns"] for name in header):
            return None  # the row parser names the unknown column
        if any(name == "labels" or name.startswith("label.") for name in header):
            return None  # labels are read (and checked) by the row parser
        if any(name in header for name in UTIL_COLUMNS):
            return None  # utilisation figures are checked by the row parser
        pattern = line_pattern(header, rules)
        params = {"ws": python_whitespace(), "no_instant": ["", *NO_INSTANT], "control": CONTROL_SQL,
                  **{key: rules[key] for key in ("default_pricing", "running", "succeeded", "pending", "floor",
                                                 "ceiling")}}  # fmt: skip
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {RAW}")
                columns = ", ".join(f"c{index} text" for index in range(len(header)))
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {RAW} (n bigint GENERATED ALWAYS AS IDENTITY, {columns}) ON COMMIT DROP"
                )
                _stream(cursor.cursor, handle, len(header), pattern, progress)
                spellings = _gpu_spellings(cursor, header)
                params["gpu_types"] = json.dumps({raw: rules["gpu_type"](raw) for raw in spellings})
                cursor.execute("SET LOCAL TimeZone = 'UTC'")  # naive times are UTC
                cursor.execute(f"DROP TABLE IF EXISTS {staging}")
                typed = _typed_rows_sql(header, rules["max_lengths"])
                cursor.execute(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS {typed}", params)
                cursor.execute(SUMMARY.format(staging=staging))
                read, invalid = cursor.fetchone()
                if invalid:
                    raise NeedsRowParser
                cursor.execute(f"DROP TABLE {RAW}")
        except (NeedsRowParser, DataError, errors.DataError, ValueError):
            return None
    return read, spellings


def _gpu_spellings(cursor, header: list[str]) -> dict[str, int]:
    """Rows per distinct GPU type spelling of the staged lines (quotes already removed by COPY)."""
    column = f"c{len(header) - 1 - header[::-1].index('gpu_type')}"
    cursor.execute(f"SELECT {column}, count(*) FROM {RAW} GROUP BY 1 LIMIT %s", [MAX_GPU_SPELLINGS + 1])  # noqa: S608
    rows = cursor.fetchall()
    if len(rows) > MAX_GPU_SPELLINGS or any(raw is None for raw, _ in rows):
        raise NeedsRowParser
    return dict(rows)
