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

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from django.db import connection

from heliox.errors import InputError
from jobs.models import ImportRecord
from jobs.services.changes import AffectedDays, rollups_follow
from jobs.services.job_rows import (
    BATCH,
    FORMATS,
    JobImportCounts,
    JobImportOptions,
    JobRow,
    RowParser,
    job_rows,
)
from jobs.services.records import ImportOutcome, import_run, imported_before
from jobs.services.sacct import SACCT_FIELDS
from jobs.services.write_portable import TeamResolver, write_batch_portable
from jobs.services.write_postgres import copy_csv_fast, write_postgres
from teams.models import Team

__all__ = ["FORMATS", "SACCT_FIELDS", "JobImportCounts", "JobImportOptions", "jobs_import", "jobs_upload"]


def _tracked(rows: Iterable[JobRow], counts: JobImportCounts, progress) -> Iterator[JobRow]:
    for row in rows:
        counts.kept += 1
        if progress:
            progress(1)
        yield row


def _write(path: Path, options: JobImportOptions, parser: RowParser, counts: JobImportCounts, days, progress):
    if copy_csv_fast(path, options, parser, counts, days, progress):
        return
    rows = _tracked(job_rows(path, options, parser, counts), counts, progress)
    if connection.vendor == "postgresql":
        write_postgres(rows, path, options, counts, days)
    else:
        teams = TeamResolver(path, options.create_teams, counts, options.allowed_teams)
        while batch := list(islice(rows, BATCH)):
            write_batch_portable(batch, teams, counts, days)
        teams.check()


def jobs_import(
    *, path: Path, options: JobImportOptions, run_by: str = "", progress=None, record: ImportRecord | None = None
) -> tuple[ImportOutcome | None, JobImportCounts]:
    """Import a jobs file all or nothing. Returns (None, counts) when the file was imported before.

    `record`: an upload's queued ImportRecord, filled instead of a new one.
    """
    if options.fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=options.fmt)
    if options.team_from not in SACCT_FIELDS:
        raise InputError("not a sacct field", field="--team-from", value=options.team_from)
    counts = JobImportCounts()
    parser = RowParser(path, options, counts)
    days = AffectedDays()
    with import_run(kind=ImportRecord.Kind.JOBS, path=path, fmt=options.fmt, dry_run=options.dry_run,
                    run_by=run_by, options=options.fingerprint(), record=record) as record:  # fmt: skip
        if record is None:
            return None, counts
        try:
            _write(path, options, parser, counts, days, progress)
        except InputError:
            record.rows_read = counts.read  # where it stopped: the failed record says how far it read
            raise
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


def jobs_upload(*, path: Path, parameters: dict, run_by: str, record: ImportRecord | None = None, progress=None) -> str:
    """An upload's import (admin form, API, `import_jobs --async`): import, roll up the days it changed, summarise.

    `parameters`: "format", and optionally "gpu_type", "provider", "team_from", "timezone", "gpu_map",
    "create_teams" (default off: a typo'd team is refused, named), "team_ids" (a manager's teams: the
    only ones rows may name), "dry_run", "no_rollup".
    """
    dry_run = bool(parameters.get("dry_run"))
    options = JobImportOptions(
        fmt=parameters["format"], provider=parameters.get("provider") or None,
        gpu_type=parameters.get("gpu_type") or None, team_from=parameters.get("team_from") or "account",
        create_teams=bool(parameters.get("create_teams")), timezone=parameters.get("timezone") or "UTC",
        gpu_map=dict(parameters.get("gpu_map") or {}), dry_run=dry_run, allowed_teams=_team_names(parameters),
        gpu_type_option="--gpu-type" if record is None or record.uploaded_by_id is None else "gpu_type",  # --async
    )  # fmt: skip
    outcome, counts = jobs_import(path=path, options=options, run_by=run_by, progress=progress, record=record)
    if outcome is None:
        return imported_before(path.name, with_options=True)
    summary = (
        f"{'Would import' if dry_run else 'Imported'} {path.name}: {counts.kept:,} GPU jobs "
        f"({counts.created:,} new, {counts.updated:,} updated, {counts.unchanged:,} unchanged), "
        f"{counts.skipped:,} skipped{skip_details(counts)}."
    )
    if counts.teams_created:
        summary += f" {'Would create' if dry_run else 'Created'} teams: {', '.join(counts.teams_created)}."
    if counts.unknown_gpu_types:
        summary += f" {unknown_gpu_types_note(counts)}"
    if not dry_run:
        followed = rollups_follow(outcome.affected_days, enabled=not parameters.get("no_rollup"))
        summary += f" {followed}" if followed else ""
    return summary


def _team_names(parameters: dict) -> frozenset[str] | None:
    """The names of the teams in parameters["team_ids"] (None: any team)."""
    if parameters.get("team_ids") is None:
        return None
    return frozenset(Team.objects.filter(pk__in=parameters["team_ids"]).values_list("name", flat=True))


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
