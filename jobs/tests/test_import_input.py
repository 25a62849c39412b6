"""Heliox jobs CSV: a header with a column no import reads is refused naming it; uploads of a truncated gzip file
fail as the command does, naming the line; an upload leaves no folder behind."""

import gzip
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.models import ImportRecord, Job

TYPO_HEADER = "team,provider,gpu_type,gpu_count,start_time,end_tme,external_id\n"
ROW = "nlp,aws,H100,2,2025-03-12T00:00:00Z,2025-03-12T03:00:00Z,nlp-2\n"
TYPO = "line 1: unknown column 'end_tme' (did you mean 'end_time'?)"


def api_upload(client, name: str, data: bytes):
    body = {"kind": "jobs", "format": "csv", "file": SimpleUploadedFile(name, data)}
    return client.post("/api/v1/imports/", body, format="multipart")


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_misspelt_column_is_refused_naming_it_and_the_closest(db, tmp_path, dry_run):
    path = tmp_path / "jobs.csv"
    path.write_text(TYPO_HEADER + ROW)
    with pytest.raises(CommandError) as raised:
        call_command("import_jobs", str(path), "--format", "csv", "--no-progress", "--no-rollup", *dry_run)
    assert str(raised.value).endswith(f"jobs.csv, {TYPO}")
    assert Job.objects.count() == 0
    assert not ImportRecord.objects.filter(status="succeeded").exists()


def test_a_column_like_none_is_refused_with_the_label_hint(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("team,provider,gpu_type,gpu_count,start_time,external_id,project\n" + ROW.replace("03:00:00Z,", ""))
    with pytest.raises(CommandError, match=r"line 1: unknown column 'project' \(label columns are label.<key>\)"):
        call_command("import_jobs", str(path), "--format", "csv", "--no-progress", "--no-rollup")


def test_the_admin_export_labels_and_label_columns_import(db, tmp_path):
    """Every documented column, the `label.<key>` ones and the export's computed columns (read as nothing)."""
    path = tmp_path / "jobs.csv"
    path.write_text(
        "id,team,model_name,provider,region,gpu_type,gpu_count,pricing,start_time,end_time,status,external_id,"
        "gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,labels,gpu_util_avg,gpu_mem_peak_gib,"
        "gpu_util_source,metadata,label.project\n"
        'x,nlp,llama,aws,,H100,2,on_demand,2025-03-12T00:00:00Z,2025-03-12T03:00:00Z,succeeded,nlp-2,6.0000,0,'
        '24.00,24.00,{},55,10,import,{},heliox\n'
    )  # fmt: skip
    call_command("import_jobs", str(path), "--format", "csv", "--no-progress", "--no-rollup")
    job = Job.objects.get()
    assert (job.external_id, job.gpu_count, job.labels, str(job.gpu_util_avg)) == ("nlp-2", 2, {"project": "heliox"},
                                                                                   "55.00")  # fmt: skip
    assert job.gpu_hours is None  # computed by the rollup, never read from a file


def test_api_and_admin_uploads_refuse_the_misspelt_column(org, api, staff_client, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        body = api_upload(client, "jobs.csv", (TYPO_HEADER + ROW).encode()).json()
    follow = client.get(body["url"]).json()
    assert (follow["status"], follow["error"]) == ("failed", f"jobs.csv, {TYPO}")
    with django_capture_on_commit_callbacks(execute=True):
        file = SimpleUploadedFile("admin.csv", (TYPO_HEADER + ROW).encode())
        staff_client.post(reverse("admin:jobs_importrecord_upload"), {"file": file, "kind": "jobs", "format": "csv"})
    assert ImportRecord.objects.get(file_name="admin.csv").error == f"admin.csv, {TYPO}"
    assert Job.objects.filter(external_id="nlp-2").count() == 0


def truncated_gzip() -> bytes:
    lines = "team,provider,gpu_type,gpu_count,start_time,end_time,external_id\n" + "".join(
        f"nlp,aws,H100,1,2025-03-12T00:00:00Z,2025-03-12T01:00:00Z,j-{n}\n" for n in range(5000)
    )
    packed = gzip.compress(lines.encode())
    return packed[: len(packed) // 2]


def test_a_truncated_gzip_upload_fails_naming_the_line_never_a_500(
    org, api, staff_client, media_root, django_capture_on_commit_callbacks
):
    """rows_estimate read the whole file first and raised EOFError: a 500 and 'Internal error' on the record."""
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_upload(client, "trunc.csv.gz", truncated_gzip())
    assert response.status_code == 202
    follow = client.get(response.json()["url"]).json()
    assert follow["status"] == "failed"
    assert follow["error"].startswith("trunc.csv.gz, line ")
    assert follow["error"].endswith(": not a valid gzip file (truncated or corrupt)")
    with django_capture_on_commit_callbacks(execute=True):
        file = SimpleUploadedFile("admin.csv.gz", truncated_gzip())
        page = staff_client.post(reverse("admin:jobs_importrecord_upload"), {"file": file, "kind": "jobs",
                                                                             "format": "csv"})  # fmt: skip
    assert page.status_code in (200, 302)
    assert ImportRecord.objects.get(file_name="admin.csv.gz").error.endswith(
        ": not a valid gzip file (truncated or corrupt)"
    )
    assert Job.objects.filter(external_id__startswith="j-").count() == 0
    assert list(Path(media_root).rglob("*")) in ([], [Path(media_root) / "imports"])  # no folder per upload left


def test_a_successful_upload_leaves_no_empty_folder(org, api, media_root, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        body = api_upload(client, "jobs.csv", (TYPO_HEADER.replace("end_tme", "end_time") + ROW).encode()).json()
    assert client.get(body["url"]).json()["status"] == "succeeded"
    assert [path for path in Path(media_root).rglob("*") if path.is_dir() and path.name != "imports"] == []
