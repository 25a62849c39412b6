"""Bookkeeping shared by every import: checksum, duplicate detection, timing, the ImportRecord."""

import getpass
import gzip
import hashlib
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.db import transaction

from heliox.errors import InputError
from jobs.models import ImportRecord

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, transparently gunzipped when it starts with gzip's magic number."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def open_text(path: Path) -> Iterator[str]:
    """Lines of a text file, plain or gzip, decoded as UTF-8 (a BOM is dropped)."""
    raw = open_binary(path)

    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        try:
            yield from text
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text ({error.reason})", path=str(path)) from None


@dataclass
class ImportOutcome:
    """What an import did; `record` is the row saved in the import log."""

    record: ImportRecord
    duplicate_of: ImportRecord | None = None
    affected_days: object = ()  # jobs: an AffectedDays; billing: the days of the bill
    notes: list[str] = field(default_factory=list)


def check_file(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such file", path=str(path))


def options_key(options: dict | None) -> str:
    """SHA-256 of the options that change what a file imports as ('' when there are none)."""
    if not options:
        return ""
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def import_run(*, kind: str, path: Path, fmt: str, dry_run: bool, run_by: str = "", options: dict | None = None):
    """Run an import in one transaction and log it; yields the (unsaved) ImportRecord to fill.

    A file already imported successfully (same kind, SHA-256 and `options`: those that
    change what the file imports as, e.g. --gpu-type) is not imported again: the
    context yields None. A dry run rolls back. A failure rolls back the data and logs
    the error, then re-raises it.
    """
    check_file(path)
    checksum = file_sha256(path)
    record = ImportRecord(
        kind=kind, file_name=path.name, sha256=checksum, format=fmt, run_by=run_by or getpass.getuser(),
        options=options or {}, options_sha256=options_key(options),
    )  # fmt: skip
    started = time.perf_counter()
    previous = ImportRecord.objects.filter(
        kind=kind, sha256=checksum, options_sha256=record.options_sha256, status=ImportRecord.Status.SUCCEEDED
    ).first()
    if previous and not dry_run:
        record.status = ImportRecord.Status.DUPLICATE
        record.totals = {"duplicate_of": str(previous.pk)}
        record.save()
        yield None
        return
    try:
        with transaction.atomic():
            yield record
            if dry_run:
                transaction.set_rollback(True)
    except InputError as error:
        record.status, record.error = ImportRecord.Status.FAILED, str(error)
        record.duration_ms = int((time.perf_counter() - started) * 1000)
        record.save()
        raise
    record.status = ImportRecord.Status.DRY_RUN if dry_run else ImportRecord.Status.SUCCEEDED
    record.duration_ms = int((time.perf_counter() - started) * 1000)
    record.save()


@dataclass(frozen=True)
class UploadHandler:
    """How the admin's upload form runs one kind of import: formats offered and the service to call.

    `run(path, fmt, replace, dry_run, gpu_type, run_by)` returns a one-line summary.
    Each app registers its own (the billing import lives in `costs`, which `jobs`
    must not import).
    """

    formats: tuple[str, ...]
    run: object


UPLOAD_HANDLERS: dict[str, UploadHandler] = {}
