"""Writing job rows on PostgreSQL: COPY into a staging table, then one set-based upsert.

A CSV file first tries the fast path of `copy_csv`, which stages the file without
making Python objects of its rows and falls back to the row parser on anything unusual.
"""

import json
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from psycopg import errors

from heliox.audit import history_reason
from jobs.models import Job, JobStatus, Pricing
from jobs.services.changes import AffectedDays
from jobs.services.copy_csv import copy_csv_stage
from jobs.services.job_columns import KNOWN_COLUMNS
from jobs.services.job_rows import (
    MAX_LENGTHS,
    PRICINGS,
    PROVIDERS,
    REQUIRED_COLUMNS,
    STATUSES,
    JobImportCounts,
    JobImportOptions,
    JobRow,
    RowParser,
)
from jobs.services.write_portable import (
    UPDATE_FIELDS,
    missing_teams_error,
    not_your_team_error,
    taken_external_id_error,
)
from jobs.times import time_ceiling, time_floor
from teams.models import Team

STAGING = "heliox_job_import"
# A UUIDv7 (RFC 9562) per staged row: the import's millisecond, then the file line as a counter,
# then 44 random bits. Keys that grow in file order append to the primary key's index
# instead of landing on random pages, which saves a bulk insert a fifth of its time.
UUID7_BY_LINE = (
    # (PostgreSQL's bit operators share one precedence, left to right: hence every parenthesis.)
    "encode(int8send(((extract(epoch FROM now()) * 1000)::bigint << 16) | 28672 | ((line::bigint >> 18) & 4095))"
    " || int8send(-9223372036854775808 | ((line::bigint & 262143) << 44) | (random() * 17592186044415)::bigint),"
    " 'hex')::uuid"
)


def _create_teams_postgres(
    cursor, path: Path, create: bool, counts: JobImportCounts, allowed: frozenset[str] | None = None
) -> None:
    """Create the staged rows' unknown teams in one statement, or refuse the file naming every one of them.

    `allowed`: the only team names the rows may name (a manager's teams); the first other one is refused, and
    the first row whose key is a job of another team.
    """
    table = Team._meta.db_table
    if allowed is not None:
        cursor.execute(
            f"SELECT s.team, s.line FROM {STAGING} s WHERE NOT (s.team = ANY(%s)) ORDER BY s.line LIMIT 1",
            [sorted(allowed)],
        )
        if stranger := cursor.fetchone():
            raise not_your_team_error(str(path), *stranger)
        # A row of the manager's own team must not update (so move) another team's job of the same key.
        cursor.execute(
            f"SELECT s.external_id, s.line FROM {STAGING} s JOIN {Job._meta.db_table} j ON j.provider = s.provider "
            f"AND j.external_id = s.external_id JOIN {table} t ON t.id = j.team_id WHERE NOT (t.name = ANY(%s)) "
            "ORDER BY s.line LIMIT 1",
            [sorted(allowed)],
        )
        if taken := cursor.fetchone():
            raise taken_external_id_error(str(path), *taken)
    cursor.execute(
        f"SELECT s.team, MIN(s.line) FROM {STAGING} s LEFT JOIN {table} t ON t.name = s.team "
        "WHERE t.id IS NULL GROUP BY s.team ORDER BY MIN(s.line)"
    )
    missing = cursor.fetchall()
    if missing and not create:
        raise missing_teams_error(str(path), missing)
    if missing:
        cursor.execute(
            f"INSERT INTO {table} (id, created_at, updated_at, name, description) "
            f"SELECT gen_random_uuid(), now(), now(), s.team, '' FROM (SELECT DISTINCT team FROM {STAGING}) s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.name = s.team) RETURNING id"
        )
        created = [team_id for (team_id,) in cursor.fetchall()]
        # A new team is in the audit trail however it was created (Team.objects.create does it on SQLite).
        Team.history.bulk_history_create(  # type: ignore[attr-defined]
            list(Team.objects.filter(pk__in=created)), default_change_reason=history_reason()
        )
        counts.teams_created = [team for team, _ in missing]


def write_postgres(
    rows: Iterable[JobRow], path: Path, options: JobImportOptions, counts: JobImportCounts, days: AffectedDays
) -> None:
    """COPY the parsed rows into a staging table, then upsert them.

    Nothing else may run on the connection while COPY streams, so teams are
    resolved afterwards, in SQL.
    """
    columns = ("line", "team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing",
               "start_time", "end_time", "status", "external_id", "metadata", "labels", "gpu_util_avg",
               "gpu_mem_peak_gib", "gpu_util_source")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")  # left over by an enclosing transaction
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (line integer, team text, model_name text, provider text, "
            "gpu_type text, gpu_count integer, region text, pricing text, start_time timestamptz, "
            "end_time timestamptz, status text, external_id text, metadata jsonb, labels jsonb, "
            "gpu_util_avg numeric(5, 2), gpu_mem_peak_gib numeric(9, 3), gpu_util_source text) ON COMMIT DROP"
        )
        raw = cursor.cursor  # psycopg's cursor, for COPY
        with raw.copy(f"COPY {STAGING} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row.line, row.team, row.model_name, row.provider, row.gpu_type, row.gpu_count,
                                row.region, row.pricing, row.start_time, row.end_time, row.status, row.external_id,
                                json.dumps(row.metadata),
                                None if row.labels is None else json.dumps(row.labels), row.gpu_util_avg,
                                row.gpu_mem_peak_gib, row.gpu_util_source))  # fmt: skip
    _upsert_staged(path, options, counts, days)


def _staged_days(cursor, days: AffectedDays) -> None:
    """Add the days the staged jobs cover, and those their stored versions covered when the interval changes.

    Runs before the upsert, which overwrites the stored intervals.
    """
    table = Job._meta.db_table

    def spans(alias: str) -> str:
        end = f"COALESCE({alias}.end_time, %(now)s)"
        return (f"SELECT ({alias}.start_time AT TIME ZONE 'UTC')::date, "
                f"max((({end}) - interval '1 microsecond') AT TIME ZONE 'UTC')::date")  # fmt: skip

    cursor.execute(
        f"{spans('s')} FROM {STAGING} s WHERE s.start_time < COALESCE(s.end_time, %(now)s) GROUP BY 1 UNION ALL "
        f"{spans('j')} FROM {STAGING} s JOIN {table} j ON j.provider = s.provider AND j.external_id = s.external_id "
        "WHERE j.start_time < COALESCE(j.end_time, %(now)s) "
        "AND (j.start_time, j.end_time) IS DISTINCT FROM (s.start_time, s.end_time) GROUP BY 1",
        {"now": days.now},
    )
    days.update(cursor.fetchall())


def _upsert_staged(path: Path, options: JobImportOptions, counts: JobImportCounts, days: AffectedDays) -> None:
    """Create the staged rows' teams, then update the jobs that exist and insert the others; the last line wins.

    A plain INSERT of the keys not yet stored costs a quarter less than INSERT ...
    ON CONFLICT. If another writer stores one of those keys meanwhile, the INSERT
    meets a unique violation and the statement is run again with ON CONFLICT.
    """
    with connection.cursor() as cursor:
        _create_teams_postgres(cursor, path, options.create_teams, counts, options.allowed_teams)
        cursor.execute("SET LOCAL work_mem = '256MB'")  # hash and sort the staged rows in memory
        _staged_days(cursor, days)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {STAGING} GROUP BY provider, external_id HAVING count(*) > 1)")
        # Sorting a million staged rows costs seconds: only a file that repeats a key pays for it.
        latest = (
            f"SELECT DISTINCT ON (s.provider, s.external_id) s.*, t.id AS team_id FROM {STAGING} s "
            f"JOIN {Team._meta.db_table} t ON t.name = s.team ORDER BY s.provider, s.external_id, s.line DESC"
            if cursor.fetchone()[0]
            else f"SELECT s.*, t.id AS team_id FROM {STAGING} s JOIN {Team._meta.db_table} t ON t.name = s.team"
        )
        try:
            with transaction.atomic():
                cursor.execute(_upsert_sql(latest, on_conflict=False))
        except IntegrityError as error:
            if not isinstance(error.__cause__, errors.UniqueViolation):
                raise
            cursor.execute(_upsert_sql(latest, on_conflict=True))
        total, counts.created, counts.updated = cursor.fetchone()
        counts.unchanged = total - counts.created - counts.updated


def _new(name: str, new: str, table: str) -> str:
    """The value an update writes: staged labels are NULL when the file holds none, and the job keeps its own."""
    return f"COALESCE({new}.labels, {table}.labels)" if name == "labels" else f"{new}.{name}"


def _upsert_sql(latest: str, *, on_conflict: bool) -> str:
    """One statement that updates the changed jobs and inserts the new ones; returns (rows, inserted, updated)."""
    table, names = Job._meta.db_table, ", ".join(UPDATE_FIELDS)
    changed = (
        f"({', '.join(f'{table}.{name}' for name in UPDATE_FIELDS)}) IS DISTINCT FROM "
        f"({', '.join(_new(name, '{new}', table) for name in UPDATE_FIELDS)})"
    )
    insert = f"INSERT INTO {table} (id, created_at, updated_at, provider, external_id, {names}) "
    values = names.replace("labels", "COALESCE(labels, '{}'::jsonb)")
    insert += f"SELECT {UUID7_BY_LINE}, now(), now(), provider, external_id, {values} FROM latest"
    if on_conflict:
        # EXCLUDED holds '{}' for a row without labels: take the stored ones first (a rare, concurrent case).
        latest = (f"SELECT l.*, COALESCE(l.labels, (SELECT j.labels FROM {table} j WHERE j.provider = l.provider "
                  f"AND j.external_id = l.external_id)) AS labels_kept FROM ({latest}) l")  # fmt: skip
        values = names.replace("labels", "COALESCE(labels_kept, '{}'::jsonb)")
        insert = f"INSERT INTO {table} (id, created_at, updated_at, provider, external_id, {names}) "
        insert += f"SELECT {UUID7_BY_LINE}, now(), now(), provider, external_id, {values} FROM latest"
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in UPDATE_FIELDS)
        return f"""
            WITH latest AS ({latest}), upserted AS (
                {insert} ON CONFLICT (provider, external_id) DO UPDATE SET updated_at = now(), {assignments}
                WHERE {changed.format(new="EXCLUDED")} RETURNING (xmax = 0) AS inserted
            )
            SELECT (SELECT count(*) FROM latest), count(*) FILTER (WHERE inserted),
                   count(*) FILTER (WHERE NOT inserted) FROM upserted
        """
    same_key = f"{table}.provider = latest.provider AND {table}.external_id = latest.external_id"
    assignments = ", ".join(f"{name} = {_new(name, 'latest', table)}" for name in UPDATE_FIELDS)
    return f"""
        WITH latest AS ({latest}), updated AS (
            UPDATE {table} SET updated_at = now(), {assignments} FROM latest
            WHERE {same_key} AND {changed.format(new="latest")} RETURNING 1
        ), inserted AS (
            {insert} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {same_key}) RETURNING 1
        )
        SELECT (SELECT count(*) FROM latest), (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
    """


def copy_csv_fast(
    path: Path, options: JobImportOptions, parser: RowParser, counts: JobImportCounts, days: AffectedDays, progress
) -> bool:
    """The fast path: COPY the CSV file as it is and check it in SQL. False when rows must be parsed one by one."""
    if connection.vendor != "postgresql" or options.fmt != "csv" or options.timezone != "UTC":
        return False

    def gpu_type(raw: str) -> str:
        name = parser.resolve_gpu_type(raw.strip())  # the row parser strips values first
        if len(name) > dict(MAX_LENGTHS)["gpu_type"]:
            raise ValueError(name)
        return name

    rules = {"providers": PROVIDERS, "pricings": PRICINGS, "statuses": STATUSES, "gpu_type": gpu_type,
             "default_pricing": Pricing.ON_DEMAND.value, "running": JobStatus.RUNNING.value,
             "succeeded": JobStatus.SUCCEEDED.value, "pending": JobStatus.PENDING.value,
             "max_lengths": MAX_LENGTHS, "columns": KNOWN_COLUMNS, "floor": time_floor(),
             "ceiling": time_ceiling(parser.now)}  # fmt: skip
    try:
        staged = copy_csv_stage(path=path, staging=STAGING, required=REQUIRED_COLUMNS, rules=rules, progress=progress)
    except ValidationError:
        staged = None  # a spelling that makes no GPU type name: the row parser names its line
    if staged is None:
        return False
    counts.read, spellings = staged
    for raw, rows in spellings.items():
        if raw.strip() in parser.unknown:
            name = parser.gpu_types[raw.strip()]
            counts.unknown_gpu_types[name] = counts.unknown_gpu_types.get(name, 0) + rows
    counts.kept, counts.copied = counts.read, True
    _upsert_staged(path, options, counts, days)
    return True
