"""Bookkeeping shared by every import: checksum, duplicate detection, timing, the ImportRecord."""

import getpass
import hashlib
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, connection, transaction

from heliox.errors import InputError
from heliox.reading import CHUNK, open_binary, open_text  # noqa: F401 - the importers' bounded readers
from jobs.models import ImportRecord
from jobs.services.changes import AffectedDays


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ImportOutcome:
    """What an import did: `record` is the row saved in the import log; `affected_days` the UTC days it changed
    (the jobs' days before and after for a jobs import, the bill's days for a billing import)."""

    record: ImportRecord
    affected_days: AffectedDays = field(default_factory=AffectedDays)


def imported_before(name: str, *, with_options: bool = False) -> str:
    """The one sentence every import says when its file was imported successfully before."""
    options = " with the same options" if with_options else ""
    return f"{name} was imported before{options} (same SHA-256): nothing to do."


def check_file(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such file", path=str(path))


def options_key(options: dict | None) -> str:
    """SHA-256 of the options that change what a file imports as ('' when there are none)."""
    if not options:
        return ""
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()


def _wait_for_other_runs(kind: str, checksum: str) -> None:
    """Serialise runs of one file: a second run waits here until the first commits or rolls back.

    PostgreSQL: a transaction-level advisory lock on (kind, checksum), whatever the options
    (they write the same rows). SQLite: nothing to do, its transactions start IMMEDIATE,
    so a second writer waits for the first already.
    """
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"heliox-import:{kind}:{checksum}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _the_record(
    record: ImportRecord | None, *, kind: str, path: Path, fmt: str, run_by: str, options: dict | None
) -> ImportRecord:
    """A new ImportRecord, or the queued upload's own record (kept: its id is what the uploader follows)."""
    fields = {"kind": kind, "sha256": file_sha256(path), "format": fmt, "options": options or {},
              "options_sha256": options_key(options)}  # fmt: skip
    if record is None:
        return ImportRecord(file_name=path.name, run_by=run_by or getpass.getuser(), **fields)
    for name, value in fields.items():
        setattr(record, name, value)
    return record


@contextmanager
def import_run(*, kind: str, path: Path, fmt: str, dry_run: bool, run_by: str = "", options: dict | None = None,
               record: ImportRecord | None = None):  # fmt: skip
    """Run an import in one transaction and log it; yields the (unsaved) ImportRecord to fill.

    A file already imported successfully (same kind, SHA-256 and `options`: those that
    change what the file imports as, e.g. --gpu-type) is not imported again: the
    context yields None. Two runs of one file at once are serialised: the second waits
    for the first and then finds it imported. The success is logged in the import's own
    transaction, so that the data and its record commit together. A dry run rolls back.
    A failure rolls back the data and logs the error, then re-raises it. `record`: an upload's
    saved (queued) record to fill instead of a new one.
    """
    check_file(path)
    record = _the_record(record, kind=kind, path=path, fmt=fmt, run_by=run_by, options=options)
    checksum = record.sha256
    started = time.perf_counter()
    try:
        with transaction.atomic():
            _wait_for_other_runs(kind, checksum)
            previous = (
                ImportRecord.objects.filter(
                    kind=kind,
                    sha256=checksum,
                    options_sha256=record.options_sha256,
                    status=ImportRecord.Status.SUCCEEDED,
                )
                .exclude(pk=record.pk)  # an upload's own record, when a redelivered task runs it again
                .first()
            )
            if previous and not dry_run:
                record.status, record.totals = ImportRecord.Status.DUPLICATE, {"duplicate_of": str(previous.pk)}
                record.save()
                yield None
                return
            yield record
            record.duration_ms = int((time.perf_counter() - started) * 1000)
            if dry_run:
                transaction.set_rollback(True)
            else:
                record.status = ImportRecord.Status.SUCCEEDED
                record.save()
    except InputError as error:
        _log_failure(record, str(error), started)
        raise
    except IntegrityError:
        # Another import (of another file) wrote the same new team or job at the same moment.
        clash = InputError(
            "another import wrote the same rows at the same time and this one was rolled back; run it again",
            path=str(path),
        )
        _log_failure(record, str(clash), started)
        raise clash from None
    if dry_run:
        record.status = ImportRecord.Status.DRY_RUN
        record.save()


def _log_failure(record: ImportRecord, error: str, started: float) -> None:
    record.status, record.error = ImportRecord.Status.FAILED, error
    record.duration_ms = int((time.perf_counter() - started) * 1000)
    if record.stored_file:
        record.save()  # an upload's record, saved (queued) before the import's transaction
        return
    record._state.adding = True  # a success saved in the rolled-back transaction is not there
    record.save(force_insert=True)


@dataclass(frozen=True)
class UploadHandler:
    """How an upload (the admin's form, the API, a command's --async) runs one kind of import.

    `run(path=, parameters=, run_by=, record=, progress=)` imports the file and returns a
    one-line summary; `parameters` holds "format" and the options the upload asked for
    ("dry_run", "replace", "gpu_type", "create_teams", "team_ids": teams a manager may write
    to, None for any), `record` is the upload's queued ImportRecord, `progress(rows)` is
    called as rows are read. `permissions` are the model permissions staff need to upload
    this kind (what the import writes with), `replace_permissions` those a replacing import
    needs on top. `managers` says whether a team manager may upload this kind (a bill is the
    organisation's, not a team's). Each app registers its own (the billing import lives in
    `costs`, which `jobs` must not import).
    """

    formats: tuple[str, ...]
    run: Callable[..., str]
    permissions: tuple[str, ...] = ()
    replace_permissions: tuple[str, ...] = ()
    managers: bool = False

    def needed(self, *, replace: bool) -> tuple[str, ...]:
        return self.permissions + (self.replace_permissions if replace else ())


UPLOAD_HANDLERS: dict[str, UploadHandler] = {}
