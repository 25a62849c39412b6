"""jobs.times: a job starts no earlier than 2000-01-01 UTC and neither starts nor ends over a day from now.

Every writer applies it (API, member form, admin, imports) with a 400, a field error or the line named;
the rollup and the backlog clamp to the same bounds, so that a row stored before the rule fails nothing.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from costs.usage.models import RollupBacklog
from costs.usage.services.backlog import usage_rollup_backlog
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory

FLOOR = "must not be before 2000-01-01 UTC (HELIOX_JOB_TIME_FLOOR)"
FLOOR_RE = re.escape(FLOOR)
AHEAD = "must not be more than a day ahead of now: a job's times are when it ran"
JOB = {"model_name": "m", "provider": "aws", "gpu_type": "H100", "gpu_count": 1, "status": "succeeded",
       "external_id": "t-1"}  # fmt: skip
CSV_HEADER = "team,provider,gpu_type,gpu_count,start_time,end_time,external_id\n"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(org, api, start: str, end: str | None):
    body = {**JOB, "team": str(org["teams"]["nlp"].pk), "start_time": start, "end_time": end}
    return api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", body, format="json")


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("0001-01-01T12:00:00Z", "0001-01-01T13:00:00Z", "start_time", FLOOR),
        ("1900-01-01T00:00:00Z", "2025-03-10T00:00:00Z", "start_time", FLOOR),
        ("1999-12-31T23:59:59Z", "2000-01-01T01:00:00Z", "start_time", FLOOR),
        ("2025-03-10T00:00:00Z", "2126-11-25T00:00:00Z", "end_time", AHEAD),
        ("9999-12-31T00:00:00Z", None, "start_time", AHEAD),
    ],
)
def test_api_refuses_a_job_out_of_bounds_and_writes_nothing(org, api, start, end, field, message):
    before = Job.objects.count()
    response = post(org, api, start, end)
    assert (response.status_code, response.json()) == (400, {field: [message]})
    assert Job.objects.count() == before
    assert RollupBacklog.objects.count() == 0


def test_api_takes_the_floor_itself_and_a_day_ahead(org, api):
    assert post(org, api, "2000-01-01T00:00:00Z", "2000-01-01T01:00:00Z").status_code == 201
    soon = timezone.now() + timedelta(hours=23)
    response = api.as_user(org["users"]["bob"]).post(
        "/api/v1/jobs/", {**JOB, "team": str(org["teams"]["nlp"].pk), "start_time": iso(soon), "status": "running",
                          "external_id": "t-2"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    late = timezone.now() + timedelta(days=1, minutes=5)
    response = post(org, api, "2025-03-10T00:00:00Z", iso(late))
    assert (response.status_code, response.json()) == (400, {"end_time": [AHEAD]})


def test_patch_and_finish_refuse_times_out_of_bounds(org, api):
    bob = api.as_user(org["users"]["bob"])
    llama = org["jobs"]["llama"]
    alice = api.as_user(org["users"]["alice"])  # a manager may edit
    response = alice.patch(f"/api/v1/jobs/{llama.pk}/", {"start_time": "1900-01-01T00:00:00Z"}, format="json")
    assert (response.status_code, response.json()) == (400, {"start_time": [FLOOR]})
    running = JobFactory(team=org["teams"]["nlp"], status="running", end_time=None, external_id="r-1")
    response = bob.post(f"/api/v1/jobs/{running.pk}/finish/", {"end_time": "2126-11-25T00:00:00Z"}, format="json")
    assert (response.status_code, response.json()) == (400, {"end_time": [AHEAD]})
    running.refresh_from_db()
    assert running.end_time is None


def test_a_job_stored_at_year_one_is_deleted_and_rolls_up(org, api, django_capture_on_commit_callbacks):
    """Stored before the rule (Job.save does not validate): its delete was a 500, its days overflowed the rollup."""
    old = JobFactory(team=org["teams"]["nlp"], external_id="y-1", start_time=datetime(1, 1, 1, 12, tzinfo=UTC),
                     end_time=datetime(2000, 1, 1, 6, tzinfo=UTC))  # fmt: skip
    summary = usage_rollup(start=date(1, 1, 1), end=date(2000, 1, 2))  # clamped to the floor: one day
    assert summary.days == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(org["users"]["alice"]).delete(f"/api/v1/jobs/{old.pk}/")
    assert response.status_code == 204
    assert not Job.objects.filter(pk=old.pk).exists()


def test_backlog_skips_and_clears_days_no_job_may_cover(db, caplog):
    today = timezone.now().date()
    RollupBacklog.objects.bulk_create([
        RollupBacklog(start=date(1, 1, 1), end=date(1, 1, 10)),  # wholly before the floor
        RollupBacklog(start=date(1999, 12, 30), end=date(2000, 1, 2)),  # its last day is rolled up
        RollupBacklog(start=today + timedelta(days=400), end=today + timedelta(days=500)),  # far ahead
    ])  # fmt: skip
    summaries = usage_rollup_backlog()
    assert [(part.start, part.end) for part in summaries] == [(date(2000, 1, 1), date(2000, 1, 2))]
    assert RollupBacklog.objects.count() == 0
    assert "3 owed rollup range(s) reach outside 2000-01-01.." in caplog.text


def test_rollup_command_clears_a_backlog_from_year_one(db, capsys):
    RollupBacklog.objects.create(start=date(1, 1, 1), end=date(1, 1, 3))
    call_command("rollup", "--no-progress")
    assert RollupBacklog.objects.count() == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("nlp,aws,H100,1,0001-01-05T00:00:00Z,0001-01-05T01:00:00Z,x", f"line 2, column start_time: {FLOOR}"),
        ("nlp,aws,H100,1,1999-12-31T23:00:00Z,,x", f"line 2, column start_time: {FLOOR}"),
        ("nlp,aws,H100,1,2025-03-10T00:00:00Z,2126-11-25T00:00:00Z,x", f"line 2, column end_time: {AHEAD}"),
    ],
)
def test_import_names_the_line_of_a_time_out_of_bounds_and_writes_nothing(db, tmp_path, row, message):
    path = tmp_path / "jobs.csv"
    path.write_text(CSV_HEADER + "nlp,aws,H100,1,2025-03-10T00:00:00Z,2025-03-10T01:00:00Z,ok\n" + row + "\n")
    with pytest.raises(CommandError) as raised:
        call_command("import_jobs", str(path), "--format", "csv", "--no-progress", "--no-rollup")
    assert message.replace("line 2", "line 3") in str(raised.value)
    assert Job.objects.count() == 0


@pytest.mark.postgres
def test_postgres_fast_path_refuses_a_time_out_of_bounds(db, tmp_path):
    """The COPY path checks the bounds in SQL and hands the file to the row parser, which names the line."""
    path = tmp_path / "jobs.csv"
    path.write_text(CSV_HEADER + "nlp,aws,H100,1,2025-03-10T00:00:00Z,2126-11-25T00:00:00Z,x\n")
    with pytest.raises(CommandError, match=f"line 2, column end_time: {AHEAD}"):
        call_command("import_jobs", str(path), "--format", "csv", "--no-progress", "--no-rollup")
    assert Job.objects.count() == 0


def test_sacct_and_json_rows_out_of_bounds_are_named(db, tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"team": "nlp", "provider": "aws", "gpu_type": "H100", "gpu_count": 1, '
                    '"start_time": "1970-01-01T00:00:00Z", "external_id": "x"}\n')  # fmt: skip
    with pytest.raises(CommandError, match=f"line 1, column start_time: {FLOOR_RE}"):
        call_command("import_jobs", str(path), "--format", "json", "--no-progress", "--no-rollup")
    fields = ["1", "1", "c", "p", "q", "acct", "g", "1", "u", "1", "1999-01-01T00:00:00", "1999-01-01T00:00:00",
              "1999-01-01T00:00:00", "1999-01-01T01:00:00", "01:00:00", "0:0", "COMPLETED", "1", "1", "1", "1G",
              "", "gres/gpu:h100=1", "", "n1", "job"]  # fmt: skip
    sacct = tmp_path / "sacct.log"
    sacct.write_text("|".join(fields) + "\n")
    with pytest.raises(CommandError, match=f"line 1, column start: {FLOOR_RE}"):
        call_command("import_jobs", str(sacct), "--format", "sacct", "--no-progress", "--no-rollup")
    assert Job.objects.count() == 0


def test_prometheus_sync_rows_out_of_bounds_are_named_by_pod():
    from heliox.errors import InputError
    from jobs.services.job_rows import JobRow
    from jobs.services.prometheus_sync import rows_check_times

    until = datetime(2025, 3, 12, tzinfo=UTC)
    row = JobRow(line=0, team="nlp", model_name="", provider="aws", gpu_type="H100", gpu_count=1, region="",
                 pricing="on_demand", start_time=datetime(1970, 1, 1, tzinfo=UTC), end_time=None, status="running",
                 external_id="k8s:uid-1", metadata={})  # fmt: skip
    with pytest.raises(InputError) as raised:
        rows_check_times([row], "prometheus k8s", until)
    assert str(raised.value) == (
        f"prometheus k8s, pod k8s:uid-1, column start_time: {FLOOR} (got '1970-01-01T00:00:00+00:00')"
    )
    row.start_time = until + timedelta(hours=23)
    rows_check_times([row], "prometheus k8s", until)  # within the day of clock skew
