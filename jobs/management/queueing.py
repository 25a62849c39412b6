"""The import commands' `--async`: the file goes through the upload path (stored, queued for a worker)."""

from pathlib import Path

from django.core.management.base import CommandError

from heliox.commands import HelioxCommand, user_errors
from jobs.models import ImportRecord
from jobs.services.uploads import import_enqueue_path, import_queued_message


def queue_import(command: HelioxCommand, *, path: Path, kind: str, parameters: dict) -> ImportRecord:
    """Store and queue the import; say where it is. Embedded (no broker) it has run already: a failure exits 1."""
    with user_errors():
        record = import_enqueue_path(path=path, kind=kind, parameters=parameters)
    if record.status == ImportRecord.Status.FAILED:
        raise CommandError(import_queued_message(record))
    command.say(import_queued_message(record))
    return record
