"""Importing job records: Heliox CSV and JSON, and Slurm `sacct --parsable2` output.

Every format is parsed and validated row by row in Python (so that an error names
the same line, column and value on every database), streaming, in constant memory.
Valid rows are then written in batches: on PostgreSQL through COPY into a staging
table and one set-based upsert; elsewhere through batched upserts. A CSV file on
PostgreSQL first tries the fast path of `copy_csv`, which stages the file without
making Python objects of its rows and falls back to the row parser on anything
unusual. Jobs are keyed by
(provider, external_id): a re-import updates a running job to its final state
instead of duplicating it; within a file, the last line for a key wins.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from psycopg import errors

from heliox.errors import InputError
from heliox.reading import CsvReader, first_byte, json_array_items, json_lines, loads, open_text
from heliox.validation import json_problem, text_problem
from jobs.gpus import gpu_type_name, unknown_gpu_type_name
from jobs.models import ImportRecord, Job, JobStatus, Pricing, Provider, gpu_type_validator
from jobs.services.changes import AffectedDays, rollups_follow
from jobs.services.copy_csv import copy_csv_stage
from jobs.services.records import ImportOutcome, import_run
from jobs.services.sacct import FIELD_OF, SACCT_FIELDS, SACCT_STATES, array_tasks, gres_gpus, split_line
from teams.models import Team

FORMATS = ("csv", "json", "sacct")
REQUIRED_COLUMNS = ("team", "provider", "gpu_type", "gpu_count", "start_time", "external_id")
OPTIONAL_COLUMNS = ("model_name", "region", "pricing", "end_time", "status", "metadata")
TEXT_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS[:-1]
BATCH = 5000
# The columns' sizes (jobs_job and teams_team): longer is refused here, not by the database mid-import.
MAX_LENGTHS = (("team", 100), ("model_name", 200), ("gpu_type", 32), ("region", 64), ("external_id", 128))
MAX_GPU_COUNT = 2**31 - 1
# Django rebuilds Choices.values on every access; a row-by-row parser reads them millions of times.
PROVIDERS, PRICINGS, STATUSES = tuple(Provider.values), tuple(Pricing.values), tuple(JobStatus.values)


@dataclass(slots=True)
class JobRow:
    line: int
    team: str
    model_name: str
    provider: str
    gpu_type: str
    gpu_count: int
    region: str
    pricing: str
    start_time: datetime | None
    end_time: datetime | None
    status: str
    external_id: str
    metadata: dict


@dataclass
class JobImportOptions:
    fmt: str
    provider: str | None = None
    gpu_type: str | None = None
    team_from: str = "account"
    create_teams: bool = True
    timezone: str = "UTC"
    gpu_map: dict[str, str] = field(default_factory=dict)  # site spelling (lower-case) -> GPU type
    dry_run: bool = False

    def site_gpu_map(self) -> dict[str, str]:
        """The GPU_TYPE_MAP setting, overridden by --gpu-map; keys lower-case."""
        return {**{k.lower(): v for k, v in settings.GPU_TYPE_MAP.items()}, **self.gpu_map}

    def fingerprint(self) -> dict:
        """The options that change what a file imports as: part of the duplicate check."""
        return {"format": self.fmt, "provider": self.provider, "gpu_type": self.gpu_type,
                "team_from": self.team_from, "timezone": self.timezone, "gpu_map": self.site_gpu_map()}  # fmt: skip


@dataclass
class JobImportCounts:
    read: int = 0
    kept: int = 0
    skipped: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    teams_created: list[str] = field(default_factory=list)
    skip_reasons: dict[str, int] = field(default_factory=dict)  # why lines were skipped (sacct)
    unknown_gpu_types: dict[str, int] = field(default_factory=dict)  # GPU types kept that no table knows: rows
    copied: bool = False  # checked in SQL after a COPY of the file as it is (PostgreSQL, CSV)


# --- parsing and validation ------------------------------------------------------------


class RowParser:
    """Turns raw fields into a JobRow, raising InputError that names the path, line and column."""

    def __init__(self, path: Path, options: JobImportOptions, counts: JobImportCounts | None = None) -> None:
        self.path, self.options = str(path), options
        self.counts = counts or JobImportCounts()
        self.site_map = options.site_gpu_map()
        self.gpu_types: dict[str, str] = {}  # raw spelling -> validated canonical name
        self.unknown: set[str] = set()  # raw spellings that no map or table knows
        # Errors name the file's own fields: sacct's `end`, `jobid`, and the field the team comes from.
        self.names = {**FIELD_OF, "team": options.team_from} if options.fmt == "sacct" else {}
        try:
            self.zone = ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError("unknown time zone", field="--timezone", value=options.timezone) from None

    def fail(self, message: str, line: int, column: str, value: object = None):
        raise InputError(message, path=self.path, line=line, field=column, value=value)

    def instant(self, value: str | None, line: int, column: str) -> datetime | None:
        value = (value or "").strip()
        if value in ("", "Unknown", "None", "NULL", "null"):
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail("not an ISO 8601 date-time", line, column, value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.zone)
        try:
            return parsed.astimezone(UTC).replace(microsecond=0)
        except OverflowError:
            self.fail("out of range (year 1 to 9999, in UTC)", line, column, value)

    def choice(self, value: str, choices: tuple[str, ...], line: int, column: str) -> str:
        if value not in choices:
            self.fail(f"must be one of {', '.join(choices)}", line, column, value)
        return value

    def resolve_gpu_type(self, value: str) -> str:
        """The GPU type stored for a spelling (cached); ValidationError when that is no valid name.

        A spelling that neither the site's map nor Heliox's table knows is kept as its own
        type (unpriced until the catalog has it) and counted in `unknown`.
        """
        if value not in self.gpu_types:
            name = gpu_type_name(value, self.site_map)
            if name is None:
                self.unknown.add(value)
                # A Slurm GRES type is the site's word (`nvidia_gh200_480gb`); a Heliox file names types itself.
                name = unknown_gpu_type_name(value) if self.options.fmt == "sacct" else value.strip()
            gpu_type_validator(name)
            self.gpu_types[value] = name
        return self.gpu_types[value]

    def gpu_type(self, value: str, line: int, column: str) -> str:
        name = self.gpu_types.get(value)  # hot path: one lookup per row
        if name is None:
            try:
                name = self.resolve_gpu_type(value)
            except ValidationError:
                self.fail("not a GPU type name (e.g. H100, A100-80GB)", line, column, value)
        if self.unknown and value in self.unknown:
            self.counts.unknown_gpu_types[name] = self.counts.unknown_gpu_types.get(name, 0) + 1
        return name

    def check(self, row: JobRow) -> JobRow:
        name = self.names.get
        if row.start_time and row.end_time and row.end_time < row.start_time:
            self.fail(f"{name('end_time', 'end_time')} is before {name('start_time', 'start_time')}", row.line,
                      name("end_time", "end_time"), row.end_time.isoformat())  # fmt: skip
        if not row.team:
            self.fail("is required", row.line, name("team", "team"))
        for column, limit in MAX_LENGTHS:
            value = getattr(row, column)
            if len(value) > limit:
                self.fail(f"longer than {limit} characters", row.line, name(column, column), value[:limit] + "...")
            problem = text_problem(value)  # PostgreSQL text holds no NUL, UTF-8 no lone surrogate
            if problem:
                self.fail(problem, row.line, name(column, column), value)
        problem = json_problem(row.metadata) if row.metadata else None
        if problem:
            self.fail(problem[1], row.line, ".".join(filter(None, ("metadata", problem[0]))))
        if row.gpu_count > MAX_GPU_COUNT:
            self.fail(f"more than {MAX_GPU_COUNT:,} GPUs", row.line, name("gpu_count", "gpu_count"), row.gpu_count)
        return row

    def heliox(self, line: int, raw: dict) -> JobRow:
        """A row with Heliox's own columns (CSV or JSON). Hot path: a million calls per big file."""

        values = {}
        for column in TEXT_COLUMNS:  # each column read once: a million rows make this the hot loop
            value = raw.get(column)
            values[column] = value.strip() if value.__class__ is str else ("" if value is None else str(value))
        text = values.__getitem__
        status = values["status"]
        for column in REQUIRED_COLUMNS:
            if not values[column] and not (column == "start_time" and status == JobStatus.PENDING):
                self.fail("is required", line, column)
        count_text = values["gpu_count"]
        try:
            count = int(count_text)
        except ValueError:
            self.fail("not a whole number", line, "gpu_count", count_text)
        if count < 1:
            self.fail("must be at least 1", line, "gpu_count", count_text)
        metadata = raw.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = loads(metadata, path=self.path, line=line, field="metadata")
        if not isinstance(metadata, dict):
            self.fail("must be a JSON object", line, "metadata", metadata)
        end_time = self.instant(text("end_time"), line, "end_time")
        status = status or (JobStatus.SUCCEEDED if end_time else JobStatus.RUNNING)
        return self.check(
            JobRow(
                line=line,
                team=text("team"),
                model_name=text("model_name"),
                provider=self.choice(text("provider"), PROVIDERS, line, "provider"),
                gpu_type=self.gpu_type(text("gpu_type"), line, "gpu_type"),
                gpu_count=count,
                region=text("region"),
                pricing=self.choice(text("pricing") or Pricing.ON_DEMAND, PRICINGS, line, "pricing"),
                start_time=self.instant(text("start_time"), line, "start_time"),
                end_time=end_time,
                status=self.choice(status, STATUSES, line, "status"),
                external_id=text("external_id"),
                metadata=metadata,
            )
        )

    def sacct(self, line: int, text: str) -> list[JobRow] | str:
        """One `sacct --parsable2 --noheader --allocations` line: its GPU jobs, or why it has none.

        The job name is the last field and keeps any '|' in it. GPUs of two types make one
        job per type, the job id suffixed `:TYPE`. A pending job array summary (`123_[1-3]`)
        is no job until its tasks run (each then has a line of its own); a state that Slurm
        does not document is skipped. Skips are returned as a reason and counted.
        """
        fields = split_line(text)
        if fields is None:
            self.fail(f"expected {len(SACCT_FIELDS)} '|'-separated fields, found {text.count('|') + 1}", line, "line")
        raw = dict(zip(SACCT_FIELDS, fields, strict=True))
        # Times are checked on every line, GPU or not: a broken file is refused whole.
        start, end = self.instant(raw["start"], line, "start"), self.instant(raw["end"], line, "end")
        jobid = raw["jobid"].strip()
        if "." in jobid:  # a job step (sacct run without --allocations): its job's own line holds the GPUs
            return "job steps"
        gpus = gres_gpus(raw["alloctres"])
        if not gpus.typed and not gpus.untyped:
            return "without GPUs"
        state = raw["state"].split()[0].upper() if raw["state"].strip() else ""
        if state not in SACCT_STATES:
            return f"in unknown state {state or '(empty)'}"
        status = SACCT_STATES[state]
        try:
            tasks = array_tasks(jobid)
        except ValueError as error:
            self.fail(str(error), line, "jobid", jobid)
        if tasks is not None and (status == JobStatus.PENDING or start is None):
            return "pending job array summaries"
        counts: dict[str, int] = {}  # two spellings of one type (a100, nvidia_a100-pcie-40gb) are one type
        for spelling, count in gpus.typed:
            name = self.gpu_type(spelling, line, "alloctres")
            counts[name] = counts.get(name, 0) + count
        if gpus.untyped:
            if not self.options.gpu_type:
                self.fail("GPUs without a type (gres/gpu=N): pass --gpu-type", line, "alloctres", raw["alloctres"])
            name = self.gpu_type(self.options.gpu_type, line, "--gpu-type")
            counts[name] = counts.get(name, 0) + gpus.untyped
        if status == JobStatus.PENDING or start is None:  # not started (a requeued job waits again)
            start = end = None
        elif status == JobStatus.RUNNING:  # sacct writes a running job's end as Unknown or its start
            end = None
        metadata = {"slurm": {k: raw[k] for k in ("partition", "qos", "user", "exitcode", "nodelist")}}
        if tasks or len(counts) > 1:
            metadata["slurm"]["jobid"] = jobid
        common = {"line": line, "team": raw[self.options.team_from].strip(), "model_name": raw["jobname"].strip()[:200],
                  "provider": self.options.provider or Provider.ON_PREM, "region": raw["cluster"].strip(),
                  "pricing": Pricing.ON_DEMAND, "start_time": start, "end_time": end, "status": status,
                  "metadata": metadata}  # fmt: skip
        return [
            self.check(JobRow(**common, gpu_type=name, gpu_count=count, external_id=external_id))
            for task in tasks or [jobid]
            for name, count in counts.items()
            for external_id in [task if len(counts) == 1 else f"{task}:{name}"]
        ]


def _raw_rows(path: Path, options: JobImportOptions, parser: RowParser, counts: JobImportCounts) -> Iterator[JobRow]:
    if options.fmt == "csv":
        reader = CsvReader(path)  # bounded lines, fields and header; csv errors name the line
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), line=1)
        for raw in reader:
            counts.read += 1
            yield parser.heliox(reader.line_num, raw)
    elif options.fmt == "json":
        yield from _json_rows(path, parser, counts)
    else:
        for line, text in enumerate(open_text(path), start=1):
            if not text.strip():
                continue
            counts.read += 1
            result = parser.sacct(line, text)
            if isinstance(result, str):
                counts.skipped += 1
                counts.skip_reasons[result] = counts.skip_reasons.get(result, 0) + 1
                continue
            yield from result


def _json_rows(path: Path, parser: RowParser, counts: JobImportCounts) -> Iterator[JobRow]:
    """A JSON array of objects (streamed; errors name the item) or JSON Lines (errors name the line).

    The reading layer bounds each item (and line) and checks its strings and depth.
    """
    if first_byte(path) == b"[":
        for index, item in json_array_items(path):
            counts.read += 1
            if not isinstance(item, dict):
                raise InputError("each item must be a JSON object", path=str(path), field=f"item {index}")
            yield parser.heliox(index, item)
        return
    for number, item in json_lines(path):
        counts.read += 1
        if not isinstance(item, dict):
            raise InputError("each line must be a JSON object", path=str(path), line=number)
        yield parser.heliox(number, item)


# --- writing ---------------------------------------------------------------------------


class TeamResolver:
    """Team name -> id, creating teams on first sight unless told not to."""

    def __init__(self, path: Path, create: bool, counts: JobImportCounts) -> None:
        self.path, self.create, self.counts = str(path), create, counts
        self.ids = dict(Team.objects.values_list("name", "id"))

    def __call__(self, row: JobRow):
        if row.team not in self.ids:
            if not self.create:
                raise InputError(
                    "unknown team (--no-create-teams is set)", path=self.path, line=row.line, field="team",
                    value=row.team,
                )  # fmt: skip
            self.ids[row.team] = Team.objects.create(name=row.team).pk
            self.counts.teams_created.append(row.team)
        return self.ids[row.team]


UPDATE_FIELDS = ("team_id", "model_name", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
                 "status", "metadata")  # fmt: skip


def _write_batch_portable(batch: list[JobRow], team_id, counts: JobImportCounts, days: AffectedDays) -> None:
    """Batched upsert through the ORM: compares with what is stored to count created/updated/unchanged.

    Adds to `days` the days each job covers now and, when its interval changes, covered before.
    """
    latest = {(row.provider, row.external_id): row for row in batch}  # last line wins
    existing = {}
    for provider in {key[0] for key in latest}:
        ids = [key[1] for key in latest if key[0] == provider]
        for job in Job.objects.filter(provider=provider, external_id__in=ids).values("provider", "external_id",
                                                                                     *UPDATE_FIELDS):  # fmt: skip
            existing[(job["provider"], job["external_id"])] = job
    changed = []
    for key, row in latest.items():
        job = Job(team_id=team_id(row), **{name: getattr(row, name) for name in (
            "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
            "status", "external_id", "metadata")})  # fmt: skip
        stored = existing.get(key)
        days.add(row.start_time, row.end_time)
        if stored is not None and (stored["start_time"], stored["end_time"]) != (row.start_time, row.end_time):
            days.add(stored["start_time"], stored["end_time"])
        if stored is None:
            counts.created += 1
        elif all(stored[name] == getattr(job, name) for name in UPDATE_FIELDS):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        changed.append(job)
    if changed:
        Job.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["provider", "external_id"],
            update_fields=[*UPDATE_FIELDS, "updated_at"],
        )


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


def _create_teams_postgres(cursor, path: Path, create: bool, counts: JobImportCounts) -> None:
    """Create the staged rows' unknown teams in one statement (or refuse the first line naming one)."""
    table = Team._meta.db_table
    cursor.execute(
        f"SELECT s.team, MIN(s.line) FROM {STAGING} s LEFT JOIN {table} t ON t.name = s.team "
        "WHERE t.id IS NULL GROUP BY s.team ORDER BY MIN(s.line)"
    )
    missing = cursor.fetchall()
    if missing and not create:
        team, line = missing[0]
        raise InputError("unknown team (--no-create-teams is set)", path=str(path), line=line, field="team",
                         value=team)  # fmt: skip
    if missing:
        cursor.execute(
            f"INSERT INTO {table} (id, created_at, updated_at, name, description) "
            f"SELECT gen_random_uuid(), now(), now(), s.team, '' FROM (SELECT DISTINCT team FROM {STAGING}) s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.name = s.team)"
        )
        counts.teams_created = [team for team, _ in missing]


def _write_postgres(
    rows: Iterable[JobRow], path: Path, create_teams: bool, counts: JobImportCounts, days: AffectedDays
) -> None:
    """COPY the parsed rows into a staging table, then upsert them.

    Nothing else may run on the connection while COPY streams, so teams are
    resolved afterwards, in SQL.
    """
    columns = ("line", "team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing",
               "start_time", "end_time", "status", "external_id", "metadata")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")  # left over by an enclosing transaction
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (line integer, team text, model_name text, provider text, "
            "gpu_type text, gpu_count integer, region text, pricing text, start_time timestamptz, "
            "end_time timestamptz, status text, external_id text, metadata jsonb) ON COMMIT DROP"
        )
        raw = cursor.cursor  # psycopg's cursor, for COPY
        with raw.copy(f"COPY {STAGING} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row.line, row.team, row.model_name, row.provider, row.gpu_type, row.gpu_count,
                                row.region, row.pricing, row.start_time, row.end_time, row.status, row.external_id,
                                json.dumps(row.metadata)))  # fmt: skip
    _upsert_staged(path, create_teams, counts, days)


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


def _upsert_staged(path: Path, create_teams: bool, counts: JobImportCounts, days: AffectedDays) -> None:
    """Create the staged rows' teams, then update the jobs that exist and insert the others; the last line wins.

    A plain INSERT of the keys not yet stored costs a quarter less than INSERT ...
    ON CONFLICT. If another writer stores one of those keys meanwhile, the INSERT
    meets a unique violation and the statement is run again with ON CONFLICT.
    """
    with connection.cursor() as cursor:
        _create_teams_postgres(cursor, path, create_teams, counts)
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


def _upsert_sql(latest: str, *, on_conflict: bool) -> str:
    """One statement that updates the changed jobs and inserts the new ones; returns (rows, inserted, updated)."""
    table, names = Job._meta.db_table, ", ".join(UPDATE_FIELDS)
    changed = (
        f"({', '.join(f'{table}.{name}' for name in UPDATE_FIELDS)}) IS DISTINCT FROM "
        f"({', '.join(f'{{new}}.{name}' for name in UPDATE_FIELDS)})"
    )
    insert = f"INSERT INTO {table} (id, created_at, updated_at, provider, external_id, {names}) "
    insert += f"SELECT {UUID7_BY_LINE}, now(), now(), provider, external_id, {names} FROM latest"
    if on_conflict:
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
    assignments = ", ".join(f"{name} = latest.{name}" for name in UPDATE_FIELDS)
    return f"""
        WITH latest AS ({latest}), updated AS (
            UPDATE {table} SET updated_at = now(), {assignments} FROM latest
            WHERE {same_key} AND {changed.format(new="latest")} RETURNING 1
        ), inserted AS (
            {insert} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {same_key}) RETURNING 1
        )
        SELECT (SELECT count(*) FROM latest), (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
    """


def _copy_csv(
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
             "max_lengths": MAX_LENGTHS}  # fmt: skip
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
    _upsert_staged(path, options.create_teams, counts, days)
    return True


def _tracked(rows: Iterable[JobRow], counts: JobImportCounts, progress) -> Iterator[JobRow]:
    for row in rows:
        counts.kept += 1
        if progress:
            progress(1)
        yield row


def jobs_import(
    *, path: Path, options: JobImportOptions, run_by: str = "", progress=None
) -> tuple[ImportOutcome | None, JobImportCounts]:
    """Import a jobs file all or nothing. Returns (None, counts) when the file was imported before."""
    if options.fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=options.fmt)
    if options.team_from not in SACCT_FIELDS:
        raise InputError("not a sacct field", field="--team-from", value=options.team_from)
    counts = JobImportCounts()
    parser = RowParser(path, options, counts)
    days = AffectedDays()
    with import_run(kind=ImportRecord.Kind.JOBS, path=path, fmt=options.fmt, dry_run=options.dry_run,
                    run_by=run_by, options=options.fingerprint()) as record:  # fmt: skip
        if record is None:
            return None, counts
        if not _copy_csv(path, options, parser, counts, days, progress):
            rows = _tracked(_raw_rows(path, options, parser, counts), counts, progress)
            if connection.vendor == "postgresql":
                _write_postgres(rows, path, options.create_teams, counts, days)
            else:
                teams = TeamResolver(path, options.create_teams, counts)
                while batch := list(islice(rows, BATCH)):
                    _write_batch_portable(batch, teams, counts, days)
        record.rows_read, record.rows_kept, record.rows_skipped = counts.read, counts.kept, counts.skipped
        record.totals = {
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "teams_created": counts.teams_created,
            "skipped": counts.skip_reasons,
            "unknown_gpu_types": counts.unknown_gpu_types,
        }
    return ImportOutcome(record=record, affected_days=days), counts


def jobs_upload(*, path: Path, fmt: str, replace: bool, dry_run: bool, gpu_type: str, run_by: str) -> str:
    """The admin upload form's entry point: import and summarise in one line."""
    outcome, counts = jobs_import(
        path=path, options=JobImportOptions(fmt=fmt, gpu_type=gpu_type or None, dry_run=dry_run), run_by=run_by
    )
    if outcome is None:
        return f"{path.name} was imported before (same SHA-256 and options): nothing to do."
    summary = (
        f"{'Would import' if dry_run else 'Imported'} {path.name}: {counts.kept:,} GPU jobs "
        f"({counts.created:,} new, {counts.updated:,} updated, {counts.unchanged:,} unchanged), "
        f"{counts.skipped:,} skipped{skip_details(counts)}."
    )
    if counts.unknown_gpu_types:
        summary += f" {unknown_gpu_types_note(counts)}"
    if not dry_run:
        followed = rollups_follow(outcome.affected_days)
        summary += f" {followed}" if followed else ""
    return summary


def skip_details(counts: JobImportCounts) -> str:
    """' (4,283 without GPUs, 1 pending job array summaries)', or '' when nothing says why."""
    if not counts.skip_reasons:
        return ""
    return " (" + ", ".join(f"{n:,} {reason}" for reason, n in sorted(counts.skip_reasons.items())) + ")"


def unknown_gpu_types_note(counts: JobImportCounts) -> str:
    """The GPU types kept that Heliox's table does not know: unpriced until the catalog or a map names them."""
    kinds = ", ".join(f"{name} ({n:,} row(s))" for name, n in sorted(counts.unknown_gpu_types.items()))
    return (f"GPU types not in Heliox's table, kept as their own type and unpriced unless the catalog has "
            f"them: {kinds}. Map a site's name with --gpu-map NAME=TYPE or the GPU_TYPE_MAP setting.")  # fmt: skip
