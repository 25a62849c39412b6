"""Uploads: the file is stored and its import queued at once; a worker (or, embedded, this process) runs it.

The admin's upload form, `POST /api/v1/imports/` and the import commands' `--async` all go
through `import_enqueue`: the file goes into Django's default storage (MEDIA_ROOT, or an
S3-compatible bucket), an ImportRecord is saved as queued, and the `jobs.import_upload` task
is sent. The task (`import_upload_run`) marks the record running, counts the file's lines
for a progress total, runs the same import service as the command, and leaves the record
succeeded, failed, dry run or already imported, with a one-line summary. The import is
idempotent: a redelivered task (a worker lost mid-import) runs the import again from the
start, the first attempt having rolled back; one that finds its record finished only
removes the stored file.
"""

import contextlib
import getpass
import logging
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from heliox.errors import InputError
from heliox.reading import CHUNK, open_binary
from jobs.models import ImportRecord
from jobs.services.records import UPLOAD_HANDLERS

logger = logging.getLogger(__name__)

UPLOAD_FOLDER = "imports"
# Formats whose first line is a header, not a row (for the progress total; sacct comes --noheader).
HEADED_FORMATS = ("csv", "focus")
PROGRESS_INTERVAL = 1.0  # seconds between two writes of the rows read


def upload_check(*, kind: str, fmt: str) -> None:
    """Refuse a kind or format that no upload handler takes, naming the field."""
    handler = UPLOAD_HANDLERS.get(kind)
    if handler is None:
        raise InputError(f"unknown kind; use one of {', '.join(sorted(UPLOAD_HANDLERS))}", field="kind", value=kind)
    if fmt not in handler.formats:
        raise InputError(f"a {kind} import takes {', '.join(handler.formats)}", field="format", value=fmt)


def import_enqueue(
    *, file: File, kind: str, parameters: dict, run_by: str, user=None, limited: bool = True
) -> ImportRecord:
    """Store the file, save its import as queued and send the import task (after the caller's commit).

    `parameters` holds "format" and the handler's options (see UploadHandler). Embedded (no
    broker), the import runs here, before this returns, unless a transaction is open: then
    at its commit. Returns the record (queued, or finished when the import already ran). An upload
    (`limited`) is at most HELIOX_UPLOAD_MAX_MB; a command's file is any size.
    """
    fmt = parameters.get("format") or ""
    upload_check(kind=kind, fmt=fmt)
    limit = settings.HELIOX_UPLOAD_MAX_MB * 2**20
    if limited and file.size is not None and file.size > limit:
        raise InputError(f"larger than HELIOX_UPLOAD_MAX_MB ({settings.HELIOX_UPLOAD_MAX_MB:,} MiB): "
                         f"{file.size:,} bytes; import it with the command instead", field="file")  # fmt: skip
    name = Path(file.name or "upload").name or "upload"
    stored = default_storage.save(f"{UPLOAD_FOLDER}/{uuid4().hex}/{name}", file)
    with transaction.atomic():
        record = ImportRecord.objects.create(
            kind=kind, file_name=name, sha256="", format=fmt, status=ImportRecord.Status.QUEUED, run_by=run_by,
            uploaded_by=user, stored_file=stored, parameters=parameters,
        )  # fmt: skip
    from jobs.tasks import import_upload  # the task calls this module's import_upload_run

    transaction.on_commit(lambda: import_upload.delay(str(record.pk)))
    record.refresh_from_db()
    return record


def import_enqueue_path(*, path: Path, kind: str, parameters: dict, run_by: str = "") -> ImportRecord:
    """A command's `--async`: store a local file and queue its import, as an upload does."""
    if not path.is_file():
        raise InputError("no such file", path=str(path))
    with path.open("rb") as handle:
        return import_enqueue(file=File(handle, name=path.name), kind=kind, parameters=parameters,
                              run_by=run_by or getpass.getuser(), limited=False)  # fmt: skip


def import_queued_message(record: ImportRecord) -> str:
    """What a command says after `--async`: where the import is and how to follow it."""
    if record.status == ImportRecord.Status.FAILED:
        return f"Import failed, nothing written: {record.error}"
    if record.finished:  # embedded (no broker): it ran already
        return record.summary or f"{record.file_name}: {record.get_status_display()}"
    return (
        f"Queued the import of {record.file_name} (import record {record.pk}); a worker runs it. Follow it in the "
        f"admin's import log or at /api/v1/imports/{record.pk}/."
    )


def import_upload_run(*, record_id: str) -> dict[str, object]:
    """The task's work: run the queued import of an uploaded file; returns {"status", "rows_read"}.

    A bad file is not an error of the task: the record says failed, with the file, line and
    field. Anything else marks the record failed and is raised (the task-run log keeps the
    traceback).
    """
    record = ImportRecord.objects.filter(pk=record_id).first()
    if record is None:
        return {"status": "missing"}
    if record.finished:  # a redelivery of a task that finished: nothing left but the file
        _discard(record)
        return {"status": record.status, "rows_read": record.rows_read}
    _mark_running(record)
    progress = ProgressWriter(record.pk)
    try:
        with local_copy(record.stored_file, record.file_name) as path:
            record.progress_total = progress.total = rows_estimate(path, record.format)
            ImportRecord.objects.filter(pk=record.pk).update(progress_total=record.progress_total)
            handler = UPLOAD_HANDLERS[record.kind]
            record.summary = handler.run(
                path=path, parameters=record.parameters, run_by=record.run_by, record=record, progress=progress
            )
    except InputError as error:
        error.path = record.file_name  # not the folder it was stored in
        _finish(record, status=ImportRecord.Status.FAILED, error=str(error))
    except Exception as error:
        _finish(record, status=ImportRecord.Status.FAILED, error=f"Internal error, nothing written: {error!r}")
        raise
    else:
        _finish(record, status=record.status)
    finally:
        progress.close()
    return {"status": record.status, "rows_read": record.rows_read}


def _mark_running(record: ImportRecord) -> None:
    record.status = ImportRecord.Status.RUNNING
    ImportRecord.objects.filter(pk=record.pk).update(status=record.status, updated_at=timezone.now())


def _finish(record: ImportRecord, *, status: str, error: str = "") -> None:
    """Save how the import ended (the import saved its figures already) and drop the stored file."""
    record.status, record.error = status, error or record.error
    with transaction.atomic():
        ImportRecord.objects.filter(pk=record.pk).update(
            status=record.status, error=record.error, summary=record.summary, updated_at=timezone.now()
        )
    _discard(record)


def _discard(record: ImportRecord) -> None:
    if record.stored_file:
        try:
            default_storage.delete(record.stored_file)
        except OSError:
            logger.warning("could not delete the uploaded file %s", record.stored_file, exc_info=True)
        _remove_folder(record.stored_file)
        record.stored_file = ""
        ImportRecord.objects.filter(pk=record.pk).update(stored_file="")


def _remove_folder(stored: str) -> None:
    """The upload's own folder (imports/<uuid>/), once its file is gone: on a local disk nothing else removes it."""
    if Path(stored).parent.parent != Path(UPLOAD_FOLDER):
        return
    with contextlib.suppress(NotImplementedError, OSError):  # a bucket has no folders; a folder not empty stays
        Path(default_storage.path(stored)).parent.rmdir()


@contextmanager
def local_copy(stored: str, name: str) -> Iterator[Path]:
    """The stored file as a local path named `name` (the storage's own file when it is on this disk)."""
    try:
        yield Path(default_storage.path(stored))
        return
    except NotImplementedError:  # a remote storage (S3): copy it here first
        pass
    with tempfile.TemporaryDirectory(prefix="heliox-import-") as folder:
        target = Path(folder) / name
        with default_storage.open(stored, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        yield target


def rows_estimate(path: Path, fmt: str) -> int | None:
    """Rows the file holds, from its line count (a header less); None for a JSON array (no lines to count).

    None too for a gzip file that is truncated or corrupt: the import's reader then names the line it breaks at.
    """
    if fmt == "json":
        return None
    lines, last = 0, b"\n"
    with open_binary(path) as handle:
        try:
            while chunk := handle.read(CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        except (OSError, EOFError, zlib.error):
            return None
    lines += last != b"\n"
    return max(0, lines - (1 if fmt in HEADED_FORMATS else 0))


class ProgressWriter:
    """Counts the rows an import reads and writes the count on its record every PROGRESS_INTERVAL seconds,
    and once more when the count reaches the file's estimated rows (`total`): the writing that
    follows the reading can take longer than the reading, and the page then says all was read.

    The import runs in one transaction, which nobody else sees until it commits: the count is
    written through a database connection of its own, so that the uploader's page shows it
    while the import runs. On SQLite (one writer at a time, embedded mode) the count appears
    when the import ends.
    """

    def __init__(self, record_id, interval: float = PROGRESS_INTERVAL, total: int | None = None) -> None:
        self.record_id, self.interval, self.rows, self.total = record_id, interval, 0, total
        self.written = time.monotonic()
        self.connection: BaseDatabaseWrapper | None = None

    def __call__(self, rows: int = 1) -> None:
        self.rows += rows
        now = time.monotonic()
        read_all = self.total is not None and self.rows >= self.total > self.rows - rows
        if read_all or now - self.written >= self.interval:
            self.written = now
            self.write()

    def write(self) -> None:
        if connection.vendor != "postgresql":
            return
        if self.connection is None:
            self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        table = ImportRecord._meta.db_table
        sql = f"UPDATE {table} SET rows_read = %s, updated_at = now() WHERE id = %s AND status = %s"  # noqa: S608
        with self.connection.cursor() as cursor:
            cursor.execute(sql, [self.rows, self.record_id, ImportRecord.Status.RUNNING.value])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
