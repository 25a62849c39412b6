"""Queued imports (jobs.services.uploads): stored, sent, run once, run again after a lost worker, `--async`."""

import gzip
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from costs.billing.models import CostSnapshot
from costs.catalog.services.gpu_prices import prices_refresh
from jobs.models import ImportRecord, Job
from jobs.services.uploads import ProgressWriter, import_enqueue, import_upload_run, rows_estimate
from teams.models import Team

PHILLIPS = Path(__file__).parent / "fixtures" / "phillips_sacct.log"
FOCUS = Path(__file__).parents[2] / "costs" / "tests" / "fixtures" / "focus_sample.csv"
SACCT = {"format": "sacct", "gpu_type": "V100", "create_teams": True}


def test_import_jobs_async_queues_the_file_then_a_worker_imports_it(db, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_jobs", str(PHILLIPS), "--format", "sacct", "--gpu-type", "V100", "--async", stdout=out)
        record = ImportRecord.objects.get()
        assert out.getvalue() == (
            f"Queued the import of phillips_sacct.log (import record {record.pk}); a worker runs it. Follow it in the "
            f"admin's import log or at /api/v1/imports/{record.pk}/.\n"
        )
        assert Job.objects.count() == 0
    record.refresh_from_db()
    assert (record.status, record.rows_read, record.parameters["create_teams"]) == ("succeeded", 4285, True)
    assert Job.objects.count() == 2


def test_import_billing_async_queues_the_file_then_a_worker_imports_it(
    db, media_root, django_capture_on_commit_callbacks
):
    prices_refresh()
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_billing", str(FOCUS), "--async", stdout=out)
        assert CostSnapshot.objects.count() == 0  # queued: a worker imports it
    record = ImportRecord.objects.get()
    assert out.getvalue().startswith(f"Queued the import of focus_sample.csv (import record {record.pk});")
    assert (record.status, record.rows_read) == ("succeeded", 1000)
    assert record.summary == "Imported focus_sample.csv: 10 GPU lines of 1,000, $12.10 in 10 day cells."
    assert sum(CostSnapshot.objects.values_list("cost_usd", flat=True)) == Decimal("12.10")


def test_import_async_of_a_missing_file_exits_naming_it(db):
    with pytest.raises(CommandError, match=r"^/nowhere/jobs.csv: no such file$"):
        call_command("import_jobs", "/nowhere/jobs.csv", "--format", "csv", "--async")
    with pytest.raises(CommandError, match="--validate runs here"):
        call_command("import_billing", str(PHILLIPS), "--async", "--validate")
    assert ImportRecord.objects.count() == 0


def test_with_a_broker_the_upload_only_stores_the_file_and_sends_one_message(
    db, celery_broker, redis_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = import_enqueue(file=ContentFile(PHILLIPS.read_bytes(), name="phillips_sacct.log"), kind="jobs",
                                parameters=SACCT, run_by="boss")  # fmt: skip
    record.refresh_from_db()
    assert (record.status, Job.objects.count()) == ("queued", 0)
    queue = redis.Redis(port=redis_server.port)
    [message] = queue.lrange("celery", 0, -1)
    assert json.loads(message)["headers"]["task"] == "jobs.import_upload"
    assert json.loads(message)["headers"]["argsrepr"] == repr((str(record.pk),))


def _queued(kind="jobs", parameters=SACCT, path=PHILLIPS) -> ImportRecord:
    """An upload saved and queued, its task not run (as a worker would find it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("jobs.tasks.import_upload.delay", lambda record_id: None)
        return import_enqueue(file=ContentFile(path.read_bytes(), name=path.name), kind=kind, parameters=parameters,
                              run_by="boss")  # fmt: skip


def test_a_redelivered_task_after_its_import_finished_changes_nothing(db):
    record = _queued()
    assert import_upload_run(record_id=str(record.pk)) == {"status": "succeeded", "rows_read": 4285}
    first = ImportRecord.objects.get()

    assert import_upload_run(record_id=str(record.pk)) == {"status": "succeeded", "rows_read": 4285}

    again = ImportRecord.objects.get()
    assert (again.status, again.summary, again.updated_at) == (first.status, first.summary, first.updated_at)
    assert Job.objects.count() == 2


def test_a_redelivered_task_of_an_import_cut_short_runs_it_again(db):
    """A worker lost mid-import rolled back everything but the record, left running: the next attempt imports."""
    record = _queued()
    ImportRecord.objects.filter(pk=record.pk).update(status="running", rows_read=1200)

    assert import_upload_run(record_id=str(record.pk)) == {"status": "succeeded", "rows_read": 4285}
    assert (Job.objects.count(), Team.objects.get().name) == (2, "chaff")
    assert ImportRecord.objects.count() == 1  # the same record, not a duplicate of itself


def test_the_task_of_a_deleted_record_does_nothing(db):
    assert import_upload_run(record_id="00000000-0000-0000-0000-000000000000") == {"status": "missing"}


def test_rows_estimate_counts_lines_less_a_header(tmp_path):
    csv = tmp_path / "jobs.csv"
    csv.write_bytes(b"team,provider\nnlp,aws\nnlp,gcp")  # no newline at the end
    packed = tmp_path / "jobs.csv.gz"
    packed.write_bytes(gzip.compress(b"a\nb\nc\n"))
    assert (rows_estimate(csv, "csv"), rows_estimate(packed, "jsonl"), rows_estimate(PHILLIPS, "sacct")) == (2, 3, 4285)
    assert rows_estimate(csv, "json") is None


def test_the_rows_read_are_seen_outside_the_import_while_it_runs_and_once_all_are_read(postgres_only, transactional_db):
    """The count is written at the interval, and at once when the file's estimated rows are all read:
    what follows (checking and writing the jobs) can take longer than the reading."""
    record = ImportRecord.objects.create(kind="jobs", file_name="jobs.csv", sha256="0" * 64, format="csv",
                                         status="running")  # fmt: skip
    seen = []
    writer, untimed = ProgressWriter(record.pk, interval=3600, total=10), ProgressWriter(record.pk, interval=3600)
    try:
        with transaction.atomic():  # the import's own transaction, which nobody sees until it commits
            for rows in (4, 6, 3):  # the estimate was 2 short: no write on every row past it
                writer(rows)
                seen.append(ImportRecord.objects.values_list("rows_read", flat=True).get())
            untimed(20)
            seen.append(ImportRecord.objects.values_list("rows_read", flat=True).get())
    finally:
        writer.close()
        untimed.close()
    assert seen == [0, 10, 10, 10]


class BucketStorage(InMemoryStorage):
    """An S3-compatible bucket as the import sees one: files it can open, no path on this disk."""

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _relative_path(self, name):  # what InMemoryStorage finds its files with, path() no longer
        return os.path.relpath(super().path(name), self.location)


def test_an_upload_in_a_storage_without_local_paths_is_copied_here_imported_and_deleted(db, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.BucketStorage"}}
    record = _queued()
    assert default_storage.open(record.stored_file).read() == PHILLIPS.read_bytes()

    assert import_upload_run(record_id=str(record.pk)) == {"status": "succeeded", "rows_read": 4285}
    assert Job.objects.count() == 2
    assert not default_storage.exists(record.stored_file)  # dropped from the bucket once imported
