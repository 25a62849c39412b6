"""POST /api/v1/imports/ (202, queued) and GET /api/v1/imports/<id>/: who may upload what, and the record."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from costs.billing.models import CostSnapshot
from costs.llm.models import LlmCall
from costs.usage.models import UsageSnapshot
from jobs.models import ImportRecord, Job
from jobs.tests.test_changes import PHILLIPS, REAL_LINE
from teams.models import Team
from teams.tests.factories import UserFactory

URL = "/api/v1/imports/"
FOCUS = Path(__file__).parents[2] / "costs" / "tests" / "fixtures" / "focus_sample.csv"
HEADER = "team,model_name,provider,gpu_type,gpu_count,start_time,end_time,external_id\n"
NLP_JOB = "nlp,llama,aws,H100,2,2025-03-12T00:00:00Z,2025-03-12T03:00:00Z,nlp-2\n"
VISION_JOB = "vision,vit,aws,H100,1,2025-03-12T00:00:00Z,2025-03-12T01:00:00Z,vision-2\n"


def post(client, content: str | bytes, name: str = "jobs.csv", **fields):
    data = content.encode() if isinstance(content, str) else content
    body = {"kind": "jobs", "format": "csv", **fields, "file": SimpleUploadedFile(name, data)}
    return client.post(URL, body, format="multipart")


def test_staff_upload_answers_202_with_the_queued_record_then_the_import_runs(
    org, api, django_capture_on_commit_callbacks
):
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, HEADER + NLP_JOB)
        assert response.status_code == 202
        body = response.json()
        assert (body["status"], body["kind"], body["format"], body["file_name"]) == (
            "queued",
            "jobs",
            "csv",
            "jobs.csv",
        )
        assert body["url"] == f"http://testserver/api/v1/imports/{body['id']}/"
        assert Job.objects.filter(external_id="nlp-2").count() == 0  # not imported inside the request

    follow = client.get(body["url"]).json()
    assert (follow["status"], follow["rows_read"], follow["rows_total"], follow["percent"]) == (
        "succeeded",
        1,
        1,
        100.0,
    )
    assert follow["summary"] == (
        "Imported jobs.csv: 1 GPU jobs (1 new, 0 updated, 0 unchanged), 0 skipped. Rolled up 1 day(s): "
        "[2025-03-12, 2025-03-13)."
    )
    nlp_day = UsageSnapshot.objects.get(team__name="nlp", date="2025-03-12")
    assert (nlp_day.gpu_hours, nlp_day.estimated_cost_usd) == (Decimal("6.0000"), Decimal("24.00"))


def test_a_bad_file_is_a_failed_record_naming_the_line(org, api, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, HEADER + NLP_JOB.replace(",2,", ",0,")).json()
    follow = client.get(body["url"]).json()
    assert (follow["status"], follow["error"]) == (
        "failed",
        "jobs.csv, line 2, column gpu_count: must be at least 1 (got '0')",
    )


def test_bad_parameters_are_a_400_naming_the_field(org, api):
    client = api.as_user(org["users"]["staff"])
    assert post(client, HEADER, format="focus").json() == {"format": ["A jobs import takes csv, json, sacct."]}
    response = client.post(URL, {"kind": "jobs", "format": "csv"}, format="multipart")
    assert (response.status_code, response.json()) == (400, {"file": ["No file was submitted."]})
    assert post(client, HEADER, kind="bills").status_code == 400
    assert ImportRecord.objects.count() == 0


def test_a_member_may_not_upload(org, api):
    response = post(api.as_user(org["users"]["bob"]), HEADER + NLP_JOB)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Uploading imports takes staff with the permission to add jobs, or a team manager."
    )
    assert ImportRecord.objects.count() == 0


def test_staff_without_the_permission_may_not_upload(org, api):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_job"))
    assert post(api.as_user(clerk), HEADER + NLP_JOB).status_code == 403
    assert api.as_user(org["users"]["dave"]).post(URL, {}, format="multipart").status_code == 403


def test_a_kind_no_upload_makes_is_a_400_naming_the_field(org, api):
    response = post(api.as_user(org["users"]["staff"]), HEADER + NLP_JOB, kind="prometheus")
    assert (response.status_code, response.json()) == (400, {"kind": ["Uploads take billing, jobs, llm_calls."]})
    assert ImportRecord.objects.count() == 0


def test_staff_need_the_permissions_of_the_kind_they_upload(org, api):
    """Staff who may add and change jobs may not import (or replace) a bill through the API either."""
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["add_job", "change_job"]))
    bill = post(
        api.as_user(clerk), FOCUS.read_bytes(), name="focus.csv", kind="billing", format="focus", replace="true"
    )
    assert (bill.status_code, bill.json()["detail"]) == (
        403, "A billing import needs the permissions costs.add_costsnapshot, costs.change_costsnapshot, "
        "costs.delete_costsnapshot.",
    )  # fmt: skip
    assert ImportRecord.objects.count() == 0


def test_a_manager_imports_jobs_of_their_own_teams(org, api, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["alice"])  # manages nlp
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, HEADER + NLP_JOB).json()
    assert client.get(body["url"]).json()["status"] == "succeeded"
    assert Job.objects.get(external_id="nlp-2").team.name == "nlp"


def test_a_managers_file_may_not_write_jobs_into_another_team(org, api, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["alice"])
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, HEADER + NLP_JOB + VISION_JOB).json()
    follow = client.get(body["url"]).json()
    assert (follow["status"], follow["error"]) == (
        "failed",
        "jobs.csv, line 3, column team: not a team you manage: a manager imports jobs of their own teams only "
        "(got 'vision')",
    )
    assert not Job.objects.filter(external_id__in=["nlp-2", "vision-2"]).exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])  # on PostgreSQL: the COPY fast path and the row parser's path
def test_a_managers_file_may_not_take_over_another_teams_job_by_its_external_id(
    fmt, org, api, django_capture_on_commit_callbacks
):
    """A row of the manager's own team that reuses another team's (provider, external_id) would update that job,
    moving it into the manager's team: refused, naming the line and saying nothing of the other job."""
    vit = org["jobs"]["vit"]  # vision's job, aws vision-1
    before = Job.objects.filter(pk=vit.pk).values().get()
    row = {"team": "nlp", "model_name": "llama", "provider": "aws", "gpu_type": "A100", "gpu_count": 8,
           "start_time": "2025-03-12T00:00:00Z", "end_time": "2025-03-12T03:00:00Z",
           "external_id": "vision-1"}  # fmt: skip
    content = HEADER + NLP_JOB + ",".join(str(row[name]) for name in HEADER.strip().split(",")) + "\n"
    if fmt == "json":
        nlp_job = dict(zip(HEADER.strip().split(","), NLP_JOB.strip().split(","), strict=True))
        content = json.dumps([nlp_job, row])
    client = api.as_user(org["users"]["alice"])  # manages nlp, not vision
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, content, name=f"jobs.{fmt}", format=fmt).json()
    follow = client.get(body["url"]).json()
    line = "line 3" if fmt == "csv" else "line 2"
    assert (follow["status"], follow["error"]) == (
        "failed",
        f"jobs.{fmt}, {line}, column external_id: this provider already has a job with this external_id "
        "(external ids are unique per provider): use another (got 'vision-1')",
    )
    assert Job.objects.filter(pk=vit.pk).values().get() == before
    assert not Job.objects.filter(external_id="nlp-2").exists()


def test_a_manager_may_not_create_teams_or_import_a_bill(org, api, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["alice"])
    refused = post(client, HEADER + NLP_JOB, create_teams="true")
    assert (refused.status_code, refused.json()["detail"]) == (
        403, "Managers import into the teams they manage; creating teams is for staff.",
    )  # fmt: skip
    bill = post(client, FOCUS.read_bytes(), name="focus.csv", kind="billing", format="focus")
    assert (bill.status_code, bill.json()["detail"]) == (403, "A billing import is the organisation's: staff only.")
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, HEADER + NLP_JOB.replace("nlp,", "nlp-new,")).json()
    assert client.get(body["url"]).json()["error"].startswith("jobs.csv, line 2, column team: not a team you manage")
    assert not Team.objects.filter(name="nlp-new").exists()
    assert CostSnapshot.objects.count() == 1  # the org's own bill only


def test_a_manager_imports_llm_calls_of_their_own_teams_only(org, api, django_capture_on_commit_callbacks):
    client = api.as_user(org["users"]["alice"])
    line = (
        '{{"team": "{team}", "provider": "openai", "model": "gpt-4o", "input_tokens": 10, '
        '"output_tokens": 5, "created_at": "2025-03-12T01:00:00Z"}}\n'
    )
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, line.format(team="vision"), name="calls.jsonl", kind="llm_calls", format="jsonl").json()
    assert client.get(body["url"]).json()["status"] == "failed"
    assert LlmCall.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, line.format(team="nlp"), name="calls.jsonl", kind="llm_calls", format="jsonl").json()
    assert client.get(body["url"]).json()["status"] == "succeeded"
    assert LlmCall.objects.get().team.name == "nlp"


def test_a_record_is_seen_by_its_uploader_and_staff_only(org, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        body = post(api.as_user(org["users"]["alice"]), HEADER + NLP_JOB).json()
    for name, code in (("alice", 200), ("staff", 200), ("carol", 404), ("bob", 404)):
        assert api.as_user(org["users"][name]).get(body["url"]).status_code == code, name
    assert [row["id"] for row in api.as_user(org["users"]["carol"]).get(URL).json()["results"]] == []


def test_a_sacct_upload_without_a_gpu_type_names_the_api_field_and_the_lines_read(
    org, api, django_capture_on_commit_callbacks
):
    """It said "pass --gpu-type" (the command's option) and rows_read 0 although it stopped at line 4."""
    lines = PHILLIPS.read_text().splitlines()
    content = "\n".join([*lines[1:4], REAL_LINE]) + "\n"  # three lines without GPUs, then gres/gpu=2 untyped
    client = api.as_user(org["users"]["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        body = post(client, content, name="sacct.log", format="sacct").json()
    follow = client.get(body["url"]).json()
    assert (follow["status"], follow["rows_read"], follow["error"]) == (
        "failed", 4, "sacct.log, line 4, column alloctres: GPUs without a type (gres/gpu=N): pass gpu_type "
                     "(got 'billing=12,cpu=12,gres/gpu=2,mem=31000M,node=1')",
    )  # fmt: skip


def test_an_upload_past_the_size_limit_is_a_400_naming_file_and_stores_nothing(org, api, settings, tmp_path):
    settings.HELIOX_UPLOAD_MAX_MB = 1
    settings.MEDIA_ROOT = tmp_path
    content = HEADER + NLP_JOB * (2**20 // len(NLP_JOB) + 1)  # just past 1 MiB
    response = post(api.as_user(org["users"]["staff"]), content)
    assert response.status_code == 400
    assert response.json() == {"file": [
        f"larger than HELIOX_UPLOAD_MAX_MB (1 MiB): {len(content):,} bytes; import it with the command instead"
    ]}  # fmt: skip
    assert ImportRecord.objects.count() == 0
    assert not any(tmp_path.rglob("*.csv"))
    assert post(api.as_user(org["users"]["staff"]), HEADER + NLP_JOB).status_code == 202  # under it: taken


def test_an_unknown_time_zone_is_a_400_naming_timezone_before_anything_is_queued(org, api):
    response = post(api.as_user(org["users"]["staff"]), HEADER + NLP_JOB, timezone="Mars/Olympus")
    assert response.status_code == 400
    assert response.json() == {"timezone": ["Unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Paris."]}
    assert ImportRecord.objects.count() == 0
    assert post(api.as_user(org["users"]["staff"]), HEADER + NLP_JOB, timezone="Europe/Paris").status_code == 202
