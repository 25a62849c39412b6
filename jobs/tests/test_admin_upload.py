import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from costs.billing.models import CostSnapshot
from costs.catalog.services.gpu_prices import prices_refresh
from costs.usage.models import UsageSnapshot
from jobs.models import ImportRecord, Job
from teams.models import Team

FIXTURES = Path(__file__).parent / "fixtures"
FOCUS = Path(__file__).parents[2] / "costs" / "tests" / "fixtures" / "focus_sample.csv"
UPLOAD = reverse("admin:jobs_importrecord_upload")
HEADER = "team,provider,gpu_type,gpu_count,start_time,end_time,external_id\n"


def upload(client, path: Path, content: bytes | None = None, **fields):
    """POST the form; the queued import runs when the request's work commits (embedded: no broker in tests)."""
    file = SimpleUploadedFile(path.name, content if content is not None else path.read_bytes())
    return client.post(UPLOAD, {"file": file, **fields})


def record_page(client, record: ImportRecord) -> str:
    return client.get(reverse("admin:jobs_importrecord_change", args=[record.pk])).content.decode()


def status_of(client, record: ImportRecord) -> dict:
    return json.loads(client.get(reverse("admin:jobs_importrecord_status", args=[record.pk])).content)


def test_upload_page_is_linked_from_the_import_log_and_offers_to_create_missing_teams(staff_client):
    assert UPLOAD in staff_client.get(reverse("admin:jobs_importrecord_changelist")).content.decode()
    page = staff_client.get(UPLOAD).content.decode()
    assert 'name="create_teams"' in page
    assert 'name="create_teams" checked' not in page  # off by default


def test_the_upload_answers_with_the_import_queued_and_the_file_stored(staff_client, media_root):
    response = upload(staff_client, FIXTURES / "phillips_sacct.log", kind="jobs", format="sacct", gpu_type="V100")

    record = ImportRecord.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:jobs_importrecord_change", args=[record.pk])
    assert (record.status, record.run_by, record.file_name) == ("queued", "boss", "phillips_sacct.log")
    stored = Path(media_root) / record.stored_file
    assert stored.read_bytes() == (FIXTURES / "phillips_sacct.log").read_bytes()
    assert Job.objects.count() == 0
    assert status_of(staff_client, record) | {"created_at": None, "updated_at": None, "id": None} == {
        "id": None, "kind": "jobs", "format": "sacct", "file_name": "phillips_sacct.log", "status": "queued",
        "status_display": "Queued", "finished": False, "rows_read": 0, "rows_total": None, "percent": None,
        "rows_kept": 0, "rows_skipped": 0, "totals": {}, "summary": "", "error": "", "created_at": None,
        "updated_at": None,
    }  # fmt: skip
    page = record_page(staff_client, record)
    assert f'data-status-url="{reverse("admin:jobs_importrecord_status", args=[record.pk])}"' in page
    assert '<script src="/static/heliox/import_status.js"></script>' in page
    assert "Queued the import of phillips_sacct.log: this page follows it." in page


def test_uploading_sacct_imports_the_jobs_rolls_up_the_days_and_logs_the_run(
    staff_client, django_capture_on_commit_callbacks, media_root
):
    Team.objects.create(name="chaff")
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, FIXTURES / "phillips_sacct.log", kind="jobs", format="sacct", gpu_type="V100")

    record = ImportRecord.objects.get()
    assert record.summary == (
        "Imported phillips_sacct.log: 2 GPU jobs (2 new, 0 updated, 0 unchanged), 4,283 skipped (4,283 without GPUs)."
        " Rolled up 11 day(s): [2016-12-22, 2017-01-02)."
    )
    assert (record.status, record.rows_read, record.progress_total, record.stored_file) == ("succeeded", 4285, 4285, "")
    assert not any(Path(media_root).rglob("*.log"))  # the stored upload is gone once imported
    assert Job.objects.count() == 2
    # The dashboard's rollups have the jobs' days, as after `import_jobs` (issue 16, item 1).
    rollup = UsageSnapshot.objects.filter(team__name="chaff").order_by("date")
    assert (rollup.first().date, rollup.last().date) == (date(2016, 12, 22), date(2017, 1, 1))
    assert sum(row.gpu_hours for row in rollup) == Decimal("506.9128")  # rounded per day: the jobs' 506.9127 h
    status = status_of(staff_client, record)
    assert (status["status"], status["finished"], status["percent"], status["rows_read"]) == (
        "succeeded", True, 100.0, 4285,
    )  # fmt: skip
    assert record.summary in record_page(staff_client, record)


def test_a_typo_in_a_team_name_is_refused_naming_every_unknown_team(staff_client, django_capture_on_commit_callbacks):
    Team.objects.create(name="nlp")
    content = (
        HEADER + "nlp,aws,H100,1,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,a\n"
        "nlpp,aws,H100,1,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,b\n"
        "visoin,aws,H100,1,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,c\n"
        "nlpp,aws,H100,1,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,d\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, Path("jobs.csv"), content, kind="jobs", format="csv")

    record = ImportRecord.objects.get()
    assert record.status == "failed"
    assert record.error == (
        "jobs.csv, line 3, column team: unknown team(s), not created (creating teams is off): 'nlpp' (line 3), "
        "'visoin' (line 4). Fix the names, or allow creating missing teams (the upload's 'create missing teams'; "
        "import_jobs creates them unless --no-create-teams)"
    )
    assert (Job.objects.count(), sorted(Team.objects.values_list("name", flat=True))) == (0, ["nlp"])

    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, Path("jobs.csv"), content, kind="jobs", format="csv", create_teams="on")

    created = ImportRecord.objects.get(status="succeeded")
    assert "Created teams: nlpp, visoin." in created.summary
    assert Job.objects.count() == 4


def test_a_dry_run_names_the_teams_it_would_create(staff_client, django_capture_on_commit_callbacks):
    content = (HEADER + "vision,aws,H100,1,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,a\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, Path("jobs.csv"), content, kind="jobs", format="csv", create_teams="on", dry_run="on")

    record = ImportRecord.objects.get()
    assert record.status == "dry_run"
    assert "Would create teams: vision." in record.summary
    assert (Job.objects.count(), Team.objects.count()) == (0, 0)


def test_uploading_a_bill_imports_it(staff_client, django_capture_on_commit_callbacks):
    prices_refresh()
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, FOCUS, kind="billing", format="focus")
    record = ImportRecord.objects.get()
    assert record.summary == "Imported focus_sample.csv: 10 GPU lines of 1,000, $12.10 in 10 day cells."
    assert (record.rows_read, record.progress_total) == (1000, 1000)
    assert CostSnapshot.objects.count() == 10
    assert sum(CostSnapshot.objects.values_list("cost_usd", flat=True)) == Decimal("12.10")


def test_a_broken_upload_shows_the_error_and_writes_nothing(
    staff_client, django_capture_on_commit_callbacks, media_root
):
    broken = b"team,provider,gpu_type,gpu_count,start_time,external_id\nnlp,aws,H100,0,2025-03-10T08:00:00Z,x\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, Path("jobs.csv"), broken, kind="jobs", format="csv")

    record = ImportRecord.objects.get()
    assert (record.status, record.stored_file) == ("failed", "")
    assert record.error == "jobs.csv, line 2, column gpu_count: must be at least 1 (got '0')"
    assert status_of(staff_client, record)["error"] == record.error
    assert escape(record.error) in record_page(staff_client, record)
    assert Job.objects.count() == 0
    assert not any(Path(media_root).rglob("jobs.csv"))


def test_format_must_fit_the_kind(staff_client):
    response = staff_client.post(UPLOAD, {"file": SimpleUploadedFile("f.csv", FOCUS.read_bytes()), "kind": "jobs",
                                          "format": "focus"})  # fmt: skip
    assert "A jobs import takes csv, json, sacct." in response.content.decode()
    assert ImportRecord.objects.count() == 0


@pytest.mark.parametrize("url", [UPLOAD, "status"])
def test_staff_without_the_permission_cannot_upload_or_follow(client, django_user_model, url):
    client.force_login(django_user_model.objects.create_user("viewer", password="x", is_staff=True))
    record = ImportRecord.objects.create(kind="jobs", file_name="f.csv", sha256="", format="csv", status="queued")
    if url == "status":
        url = reverse("admin:jobs_importrecord_status", args=[record.pk])
    assert client.get(url).status_code == 403


def staff_with(client, django_user_model, *codenames: str):
    from django.contrib.auth.models import Permission

    user, _ = django_user_model.objects.get_or_create(username="importer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def test_uploading_a_bill_needs_the_bills_permissions_not_the_jobs(client, django_user_model):
    """Staff who may add jobs imported a bill (and with 'replace', deleted one) through this form."""
    client = staff_with(client, django_user_model, "add_job", "change_job", "view_importrecord")
    assert client.get(UPLOAD).status_code == 200
    response = upload(client, FOCUS, kind="billing", format="focus", replace="on")
    assert response.status_code == 200
    assert ("You may not import billing files: that needs the permissions costs.add_costsnapshot, "
            "costs.change_costsnapshot, costs.delete_costsnapshot.") in response.content.decode()  # fmt: skip
    assert (CostSnapshot.objects.count(), ImportRecord.objects.count()) == (0, 0)


def test_uploading_llm_calls_needs_the_llm_call_permission(client, django_user_model):
    client = staff_with(client, django_user_model, "add_job", "change_job")
    calls = b'{"team": "nlp", "provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}\n'
    response = upload(client, Path("calls.jsonl"), calls, kind="llm_calls", format="jsonl")
    assert "You may not import LLM calls files: that needs the permission costs.add_llmcall." in (
        response.content.decode()
    )
    assert ImportRecord.objects.count() == 0


def test_uploading_jobs_needs_add_and_change_job(client, django_user_model):
    """A re-import updates jobs in place: adding alone is not enough, and no other kind is allowed either."""
    client = staff_with(client, django_user_model, "add_job")
    assert client.get(UPLOAD).status_code == 403
    response = upload(client, FIXTURES / "phillips_sacct.log", kind="jobs", format="sacct", gpu_type="V100")
    assert response.status_code == 403
    client = staff_with(client, django_user_model, "add_job", "add_llmcall")
    response = upload(client, FIXTURES / "phillips_sacct.log", kind="jobs", format="sacct", gpu_type="V100")
    assert "You may not import jobs files: that needs the permissions jobs.add_job, jobs.change_job." in (
        response.content.decode()
    )
    assert Job.objects.count() == 0


def test_staff_with_the_bills_permissions_upload_a_bill(
    client, django_user_model, db, django_capture_on_commit_callbacks
):
    prices_refresh()
    perms = ("add_costsnapshot", "change_costsnapshot", "view_importrecord")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_with(client, django_user_model, *perms), FOCUS, kind="billing", format="focus")
    record = ImportRecord.objects.get()
    assert (response.status_code, record.status) == (302, "succeeded")
    assert "Imported focus_sample.csv: 10 GPU lines of 1,000, $12.10 in 10 day cells." in record.summary


def test_an_admin_upload_past_the_size_limit_is_refused_on_the_form(staff_client, settings, tmp_path):
    settings.HELIOX_UPLOAD_MAX_MB = 1
    settings.MEDIA_ROOT = tmp_path
    content = (HEADER + "nlp,aws,H100,1,2025-03-10T08:00:00Z,,x\n" * 30_000).encode()
    response = upload(staff_client, Path("jobs.csv"), content, kind="jobs", format="csv")
    assert response.status_code == 200  # the form again, with the error
    assert f"larger than HELIOX_UPLOAD_MAX_MB (1 MiB): {len(content):,} bytes" in response.content.decode()
    assert ImportRecord.objects.count() == 0
    assert not any(tmp_path.rglob("*.csv"))
