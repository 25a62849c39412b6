from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from costs.billing.models import CostSnapshot
from costs.catalog.services.gpu_prices import prices_refresh
from jobs.models import ImportRecord, Job

FIXTURES = Path(__file__).parent / "fixtures"
FOCUS = Path(__file__).parents[2] / "costs" / "tests" / "fixtures" / "focus_sample.csv"
UPLOAD = reverse("admin:jobs_importrecord_upload")


def upload(client, path: Path, content: bytes | None = None, **fields):
    file = SimpleUploadedFile(path.name, content if content is not None else path.read_bytes())
    return client.post(UPLOAD, {"file": file, **fields}, follow=True)


def test_upload_page_is_linked_from_the_import_log(staff_client):
    assert UPLOAD in staff_client.get(reverse("admin:jobs_importrecord_changelist")).content.decode()
    assert staff_client.get(UPLOAD).status_code == 200


def test_uploading_sacct_imports_the_jobs_and_logs_the_run(staff_client):
    response = upload(staff_client, FIXTURES / "phillips_sacct.log", kind="jobs", format="sacct", gpu_type="V100")

    assert (
        "Imported phillips_sacct.log: 2 GPU jobs (2 new, 0 updated, 0 unchanged), 4,283 skipped (4,283 without GPUs)."
        " Rolled up 11 day(s): [2016-12-22, 2017-01-02)."
    ) in response.content.decode()
    assert Job.objects.count() == 2
    record = ImportRecord.objects.get()
    assert (record.status, record.run_by, record.rows_read) == ("succeeded", "boss", 4285)


def test_uploading_a_bill_imports_it(staff_client, db):
    prices_refresh()
    response = upload(staff_client, FOCUS, kind="billing", format="focus")
    assert "Imported focus_sample.csv: 10 GPU lines of 1,000, $12.10 in 10 day cells." in response.content.decode()
    assert CostSnapshot.objects.count() == 10


def test_a_broken_upload_shows_the_error_and_writes_nothing(staff_client):
    broken = b"team,provider,gpu_type,gpu_count,start_time,external_id\nnlp,aws,H100,0,2025-03-10T08:00:00Z,x\n"
    response = upload(staff_client, Path("jobs.csv"), broken, kind="jobs", format="csv")

    page = response.content.decode()
    assert "Import failed, nothing written: jobs.csv, line 2, column gpu_count: must be at least 1" in page
    assert Job.objects.count() == 0


def test_format_must_fit_the_kind(staff_client):
    response = upload(staff_client, FOCUS, kind="jobs", format="focus")
    assert "A jobs import takes csv, json, sacct." in response.content.decode()
    assert ImportRecord.objects.count() == 0


def test_non_staff_cannot_upload(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", password="x", is_staff=True))
    assert client.get(UPLOAD).status_code == 403


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


def test_staff_with_the_bills_permissions_upload_a_bill(client, django_user_model, db):
    prices_refresh()
    perms = ("add_costsnapshot", "change_costsnapshot", "view_importrecord")
    response = upload(staff_with(client, django_user_model, *perms), FOCUS, kind="billing", format="focus")
    assert "Imported focus_sample.csv: 10 GPU lines of 1,000, $12.10 in 10 day cells." in response.content.decode()
