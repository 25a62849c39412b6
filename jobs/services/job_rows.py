"""Reading job files into validated rows: Heliox CSV and JSON, and Slurm `sacct --parsable2` output.

Every format is parsed and validated row by row (so that an error names the same line,
column and value on every database), streaming, in constant memory.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from heliox.errors import InputError
from heliox.reading import CsvReader, first_byte, json_array_items, json_lines, loads, open_text
from heliox.validation import json_problem, name_problem, text_problem
from jobs.gpus import MAX_LENGTH, gpu_type_name, unknown_gpu_type_name
from jobs.labels import MAX_VALUE_LENGTH, label_problem, labels_from_columns, slurm_label_key
from jobs.models import JobStatus, Pricing, Provider, UtilSource, gpu_type_validator
from jobs.services.job_columns import MAX_LENGTHS, REQUIRED_COLUMNS, TEXT_COLUMNS, unknown_column
from jobs.services.sacct import FIELD_OF, SACCT_FIELDS, SACCT_STATES, SacctSteps, array_tasks, gres_gpus, split_line
from jobs.times import job_times_problem, time_ceiling, time_floor
from jobs.utilisation import mem_gib, tres_usage, util_percent

FORMATS = ("csv", "json", "sacct")
BATCH = 5000
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
    labels: dict | None = None  # None: the file holds no labels for this row, stored labels stay
    gpu_util_avg: Decimal | None = None
    gpu_mem_peak_gib: Decimal | None = None
    gpu_util_source: str = ""


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
    allowed_teams: frozenset[str] | None = None  # the only team names rows may name (a manager's); None: any
    gpu_type_option: str = "--gpu-type"  # as errors name it: an upload's (the API's, the admin form's) is gpu_type

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


class RowParser:
    """Turns raw fields into a JobRow, raising InputError that names the path, line and column."""

    def __init__(self, path: Path, options: JobImportOptions, counts: JobImportCounts | None = None) -> None:
        self.path, self.options = str(path), options
        self.counts = counts or JobImportCounts()
        self.site_map = options.site_gpu_map()
        self.gpu_types: dict[str, str] = {}  # raw spelling -> validated canonical name
        self.unknown: set[str] = set()  # raw spellings that no map or table knows
        self.steps = SacctSteps()  # the last sacct job's rows, until its steps' usage is read
        # Errors name the file's own fields: sacct's `end`, `jobid`, and the field the team comes from.
        self.names = {**FIELD_OF, "team": options.team_from} if options.fmt == "sacct" else {}
        self.has_label_columns: bool | None = None  # CSV: known from the first row's keys
        self.now = timezone.now()  # one bound on future times for the whole file
        self.floor, self.ceiling = time_floor(), time_ceiling(self.now)
        self.slurm_labels = {field: slurm_label_key(field) for field in settings.HELIOX_SLURM_LABELS}
        try:
            self.zone = ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError("unknown time zone", field="--timezone", value=options.timezone) from None

    def fail(self, message: str, line: int, column: str, value: object = None) -> NoReturn:
        raise InputError(message, path=self.path, line=line, field=column, value=value)

    def scalar(self, value: object, line: int, column: str) -> str:
        """A JSON value of a text column that is no string: a number is its text, an object or a list refused."""
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            self.fail("must be text or a number", line, column, json.dumps(value)[:200])
        return str(value)

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
            if len(name) > MAX_LENGTH:  # never cut: two long spellings would become one type
                raise ValidationError("too long", code="too_long")
            self.gpu_types[value] = name
        return self.gpu_types[value]

    def gpu_type(self, value: str, line: int, column: str) -> str:
        name = self.gpu_types.get(value)  # hot path: one lookup per row
        if name is None:
            try:
                name = self.resolve_gpu_type(value)
            except ValidationError as error:
                if error.code == "too_long":
                    self.fail(f"a GPU type name of at most {MAX_LENGTH} characters; map this one with --gpu-map "
                              "NAME=TYPE or GPU_TYPE_MAP", line, column, value)  # fmt: skip
                self.fail("not a GPU type name (e.g. H100, A100-80GB)", line, column, value)
        if self.unknown and value in self.unknown:
            self.counts.unknown_gpu_types[name] = self.counts.unknown_gpu_types.get(name, 0) + 1
        return name

    def check(self, row: JobRow) -> JobRow:
        name = self.names.get
        start, end, floor, ceiling = row.start_time, row.end_time, self.floor, self.ceiling  # hot: compare first
        if (start and not floor <= start <= ceiling) or (end and not floor <= end <= ceiling):
            bounds = job_times_problem(start, end, now=self.now)
            assert bounds is not None
            self.fail(bounds[1], row.line, name(bounds[0], bounds[0]), getattr(row, bounds[0]).isoformat())
        if row.start_time and row.end_time and row.end_time < row.start_time:
            self.fail(f"{name('end_time', 'end_time')} is before {name('start_time', 'start_time')}", row.line,
                      name("end_time", "end_time"), row.end_time.isoformat())  # fmt: skip
        if not row.team:
            self.fail("is required", row.line, name("team", "team"))
        for column, limit in MAX_LENGTHS:
            value = getattr(row, column)
            if len(value) > limit:
                self.fail(f"longer than {limit} characters", row.line, name(column, column), value[:limit] + "...")
            problem = (name_problem if column == "team" else text_problem)(value)  # a team: no control character
            if problem:
                self.fail(problem, row.line, name(column, column), value)
        found = json_problem(row.metadata) if row.metadata else None
        if found:
            self.fail(found[1], row.line, ".".join(filter(None, ("metadata", found[0]))))
        found = label_problem(row.labels) if row.labels else None
        if found:
            self.fail(found[1], row.line, found[0])
        if row.gpu_count > MAX_GPU_COUNT:
            self.fail(f"more than {MAX_GPU_COUNT:,} GPUs", row.line, name("gpu_count", "gpu_count"), row.gpu_count)
        return row

    def heliox(self, line: int, raw: dict) -> JobRow:
        """A row with Heliox's own columns (CSV or JSON). Hot path: a million calls per big file."""

        values: dict[str, str] = {}
        for column in TEXT_COLUMNS:  # each column read once: a million rows make this the hot loop
            value = raw.get(column)
            values[column] = value.strip() if value.__class__ is str else self.scalar(value, line, column)  # type: ignore[union-attr]
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
        util, mem = self.util_figure(values, line, "gpu_util_avg"), self.util_figure(values, line, "gpu_mem_peak_gib")
        end_time = self.instant(text("end_time"), line, "end_time")
        status = status or (JobStatus.SUCCEEDED if end_time else JobStatus.RUNNING)
        labels = self.labels(line, raw)
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
                labels=labels,
                gpu_util_avg=util,
                gpu_mem_peak_gib=mem,
                gpu_util_source=UtilSource.IMPORT if util is not None or mem is not None else "",
            )
        )

    def labels(self, line: int, raw: dict) -> dict | None:
        """A `labels` object (JSON, or JSON text in CSV) and `label.<key>` columns; None when the row has neither."""
        if self.has_label_columns is None:
            self.has_label_columns = any(isinstance(key, str) and key.startswith("label.") for key in raw)
        given = raw.get("labels")
        if given is None and not self.has_label_columns:
            return None
        if isinstance(given, str):
            given = loads(given, path=self.path, line=line, field="labels") if given.strip() else {}
        if not isinstance(given, dict | None):
            self.fail("must be an object of string keys and string values", line, "labels", given)
        labels = {**(given or {}), **labels_from_columns(raw)}
        found = label_problem(labels)
        if found:
            self.fail(found[1], line, found[0], labels.get(found[0][7:]))
        return labels

    def util_figure(self, values: dict[str, str], line: int, column: str) -> Decimal | None:
        """gpu_util_avg (0-100 %) or gpu_mem_peak_gib (GiB) of a row; None when empty (unmeasured)."""
        text = values[column]
        if not text:
            return None
        try:
            return util_percent(text) if column == "gpu_util_avg" else mem_gib(text)
        except ValueError as error:
            self.fail(str(error), line, column, text)

    def sacct_step(self, line: int, jobid: str, raw: dict[str, str]) -> str:
        """A job step's line: its GPU usage (long layout) goes to the job held; the step itself is no job."""
        if "tresusageinave" in raw:
            try:
                self.steps.add(jobid, tres_usage(raw["tresusageinave"], raw["tresusageinmax"]))
            except ValueError as error:
                self.fail(str(error), line, "tresusageinave", raw["tresusageinave"])
        return "job steps"

    def sacct(self, line: int, text: str) -> list[JobRow] | str:
        """One `sacct --parsable2 --noheader` line: its GPU jobs, or why it has none.

        The job name is the last field and keeps any '|' in it. GPUs of two types make one
        job per type, the job id suffixed `:TYPE`. A pending job array summary (`123_[1-3]`)
        is no job until its tasks run (each then has a line of its own); a state that Slurm
        does not document is skipped. Skips are returned as a reason and counted.
        """
        raw = split_line(text)
        if raw is None:
            self.fail(f"expected {len(SACCT_FIELDS)} '|'-separated fields, found {text.count('|') + 1}", line, "line")
        # Times are checked on every line, GPU or not: a broken file is refused whole.
        start, end = self.instant(raw["start"], line, "start"), self.instant(raw["end"], line, "end")
        jobid = raw["jobid"].strip()
        if "." in jobid:  # a job step: its job's own line holds the GPUs; the long layout adds its usage
            return self.sacct_step(line, jobid, raw)
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
            option = self.options.gpu_type_option
            if not self.options.gpu_type:
                self.fail(f"GPUs without a type (gres/gpu=N): pass {option}", line, "alloctres", raw["alloctres"])
            name = self.gpu_type(self.options.gpu_type, line, option)
            counts[name] = counts.get(name, 0) + gpus.untyped
        if status == JobStatus.PENDING or start is None:  # not started (a requeued job waits again)
            start = end = None
        elif status == JobStatus.RUNNING:  # sacct writes a running job's end as Unknown or its start
            end = None
        metadata = {"slurm": {k: raw[k] for k in ("partition", "qos", "user", "exitcode", "nodelist")}}
        labels = {key: raw[field].strip()[:MAX_VALUE_LENGTH] for field, key in self.slurm_labels.items()
                  if raw[field].strip()}  # fmt: skip
        if tasks or len(counts) > 1:
            metadata["slurm"]["jobid"] = jobid
        common: dict[str, Any] = {
            "line": line, "team": raw[self.options.team_from].strip(), "model_name": raw["jobname"].strip()[:200],
            "provider": self.options.provider or Provider.ON_PREM, "region": raw["cluster"].strip(),
            "pricing": Pricing.ON_DEMAND, "start_time": start, "end_time": end, "status": status, "metadata": metadata,
            "labels": labels,
        }  # fmt: skip
        return [
            self.check(JobRow(**common, gpu_type=name, gpu_count=count, external_id=external_id))
            for task in tasks or [jobid]
            for name, count in counts.items()
            for external_id in [task if len(counts) == 1 else f"{task}:{name}"]
        ]


def job_rows(path: Path, options: JobImportOptions, parser: RowParser, counts: JobImportCounts) -> Iterator[JobRow]:
    if options.fmt == "csv":
        reader = CsvReader(path)  # bounded lines, fields and header; csv errors name the line
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), line=1)
        if unknown := unknown_column(reader.fieldnames or []):
            raise InputError(unknown, path=str(path), line=1)
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
            yield from parser.steps.hold(result[0].metadata["slurm"].get("jobid") or result[0].external_id, result)
        yield from parser.steps.release()


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
