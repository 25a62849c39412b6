"""/api/v1/jobs/: scoping, roles, validation, finish, filters, pagination."""

from datetime import UTC, datetime

import pytest

from heliox.testing import PERMISSION_QUERIES, THROTTLE_QUERIES, fresh
from jobs.api.serializers import EXTERNAL_ID_TAKEN
from jobs.models import Job
from jobs.tests.factories import JobFactory

NEW_JOB = {
    "model_name": "mistral-7b",
    "provider": "lambda",
    "gpu_type": "H100",
    "gpu_count": 8,
    "start_time": "2025-03-11T08:00:00Z",
    "status": "running",
    "external_id": "sched-42",
}


def test_list_shows_only_the_users_teams(org, api):
    response = api.as_user(org["users"]["bob"]).get("/api/v1/jobs/")
    assert response.status_code == 200
    assert [job["external_id"] for job in response.json()["results"]] == ["nlp-1"]


def test_another_teams_job_is_a_404(org, api):
    vit = org["jobs"]["vit"]
    assert api.as_user(org["users"]["bob"]).get(f"/api/v1/jobs/{vit.pk}/").status_code == 404


def test_staff_see_every_job(org, api):
    response = api.as_user(org["users"]["staff"]).get("/api/v1/jobs/")
    assert sorted(job["external_id"] for job in response.json()["results"]) == ["nlp-1", "vision-1"]


def test_job_detail_body(org, api):
    llama = org["jobs"]["llama"]
    body = api.as_user(org["users"]["alice"]).get(f"/api/v1/jobs/{llama.pk}/").json()
    assert {k: body[k] for k in ("team_name", "gpu_count", "gpu_hours", "start_time", "end_time", "status")} == {
        "team_name": "nlp",
        "gpu_count": 4,
        "gpu_hours": "8.0000",
        "start_time": "2025-03-10T01:00:00Z",
        "end_time": "2025-03-10T03:00:00Z",
        "status": "succeeded",
    }


def test_member_registers_a_job_for_their_team(org, api):
    team = org["teams"]["nlp"]
    response = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", {**NEW_JOB, "team": str(team.pk)}, format="json")
    assert response.status_code == 201, response.json()
    assert Job.objects.get(external_id="sched-42").team == team


def test_member_cannot_register_a_job_for_another_team(org, api):
    vision = org["teams"]["vision"]
    response = api.as_user(org["users"]["bob"]).post(
        "/api/v1/jobs/", {**NEW_JOB, "team": str(vision.pk)}, format="json"
    )
    assert response.status_code == 400
    assert "team" in response.json()
    assert not Job.objects.filter(external_id="sched-42").exists()


def test_user_without_a_team_cannot_create_jobs(org, api):
    nlp = org["teams"]["nlp"]
    response = api.as_user(org["users"]["dave"]).post("/api/v1/jobs/", {**NEW_JOB, "team": str(nlp.pk)}, format="json")
    assert response.status_code == 403


def test_member_may_not_edit_or_delete_but_manager_may(org, api):
    llama = org["jobs"]["llama"]
    url = f"/api/v1/jobs/{llama.pk}/"
    assert api.as_user(org["users"]["bob"]).patch(url, {"model_name": "x"}, format="json").status_code == 403
    assert api.as_user(org["users"]["bob"]).delete(url).status_code == 403
    assert api.as_user(org["users"]["alice"]).patch(url, {"model_name": "llama-2"}, format="json").status_code == 200
    assert Job.objects.get(pk=llama.pk).model_name == "llama-2"
    assert api.as_user(org["users"]["alice"]).delete(url).status_code == 204
    assert not Job.objects.filter(pk=llama.pk).exists()


def test_manager_of_another_team_gets_404_not_403(org, api):
    llama = org["jobs"]["llama"]
    assert api.as_user(org["users"]["carol"]).delete(f"/api/v1/jobs/{llama.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "ibm"}, "provider"),
        ({"gpu_type": "H100!"}, "gpu_type"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"end_time": "2025-03-11T07:00:00Z"}, "end_time"),
        ({"status": "exploded"}, "status"),
        ({"start_time": "yesterday"}, "start_time"),
    ],
)
def test_invalid_jobs_are_400_naming_the_field(org, api, change, field):
    body = {**NEW_JOB, "team": str(org["teams"]["nlp"].pk), **change}
    response = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_duplicate_external_id_is_400(org, api):
    body = {**NEW_JOB, "team": str(org["teams"]["nlp"].pk), "provider": "aws", "external_id": "nlp-1"}
    response = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400


def test_member_finishes_a_running_job(org, api):
    job = JobFactory(team=org["teams"]["nlp"], status="running", end_time=None,
                     start_time=datetime(2025, 3, 11, 8, tzinfo=UTC))  # fmt: skip
    response = api.as_user(org["users"]["bob"]).post(
        f"/api/v1/jobs/{job.pk}/finish/", {"end_time": "2025-03-11T09:30:00Z", "status": "failed"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["end_time"], response.json()["gpu_hours"]) == (
        "failed",
        "2025-03-11T09:30:00Z",
        "1.5000",
    )


def test_finish_refuses_a_finished_job_and_an_end_before_start(org, api):
    bob = api.as_user(org["users"]["bob"])
    llama = org["jobs"]["llama"]
    assert bob.post(f"/api/v1/jobs/{llama.pk}/finish/", {}, format="json").status_code == 400
    job = JobFactory(team=org["teams"]["nlp"], status="running", end_time=None,
                     start_time=datetime(2025, 3, 11, 8, tzinfo=UTC))  # fmt: skip
    response = bob.post(f"/api/v1/jobs/{job.pk}/finish/", {"end_time": "2025-03-11T07:00:00Z"}, format="json")
    assert response.status_code == 400
    assert "end_time" in response.json()
    response = bob.post(f"/api/v1/jobs/{job.pk}/finish/", {"status": "running"}, format="json")
    assert "status" in response.json()


def test_finish_refuses_a_job_that_never_started(org, api):
    pending = JobFactory(team=org["teams"]["nlp"], status="pending", start_time=None, end_time=None)
    response = api.as_user(org["users"]["bob"]).post(f"/api/v1/jobs/{pending.pk}/finish/", {}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"start_time": ["The job never started; it cannot finish."]},
    )
    pending.refresh_from_db()
    assert (pending.status, pending.end_time) == ("pending", None)


def test_filters(org, api):
    staff = api.as_user(org["users"]["staff"])
    JobFactory(team=org["teams"]["nlp"], status="running", end_time=None, external_id="live",
               start_time=datetime(2025, 3, 12, tzinfo=UTC))  # fmt: skip

    def ids(query):
        return sorted(job["external_id"] for job in staff.get(f"/api/v1/jobs/?{query}").json()["results"])

    assert ids(f"team={org['teams']['vision'].pk}") == ["vision-1"]
    assert ids("running=true") == ["live"]
    assert ids("model_name=llama") == ["nlp-1"]
    assert ids("started_after=2025-03-11T00:00:00Z") == ["live"]
    assert ids("started_before=2025-03-11T00:00:00Z&status=succeeded") == ["nlp-1", "vision-1"]
    assert staff.get("/api/v1/jobs/?status=exploded").status_code == 400
    assert ids("running=false") == ["nlp-1", "vision-1"]
    assert ids("running=") == ["live", "nlp-1", "vision-1"]  # empty: no filter
    for typo in ("maybe", "2", "yes"):  # never read as "no filter" (every job) nor as true
        response = staff.get(f"/api/v1/jobs/?running={typo}")
        assert (response.status_code, list(response.json())) == (400, ["running"])


def test_cursor_pagination_walks_every_job_once(org, api):
    JobFactory.create_batch(5, team=org["teams"]["nlp"])
    staff = api.as_user(org["users"]["staff"])
    seen, url = [], "/api/v1/jobs/?page_size=3"
    while url:
        page = staff.get(url).json()
        assert "count" not in page
        seen += [job["id"] for job in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7


def test_job_list_queries_do_not_grow_with_rows(org, api, django_assert_max_num_queries):
    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(1 + THROTTLE_QUERIES + PERMISSION_QUERIES) as few:
        staff.get("/api/v1/jobs/")
    JobFactory.create_batch(30, team=org["teams"]["vision"])
    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(1 + THROTTLE_QUERIES + PERMISSION_QUERIES) as many:
        staff.get("/api/v1/jobs/")
    assert len(few) == len(many)


def test_an_external_id_clash_says_the_same_whoever_owns_the_other_job(org, api):
    bob = api.as_user(org["users"]["bob"])
    body = {**NEW_JOB, "team": str(org["teams"]["nlp"].pk), "provider": "aws"}
    own_team = bob.post("/api/v1/jobs/", {**body, "external_id": "nlp-1"}, format="json")
    other_team = bob.post("/api/v1/jobs/", {**body, "external_id": "vision-1"}, format="json")
    assert own_team.status_code == other_team.status_code == 400
    assert own_team.json() == other_team.json() == {"external_id": [EXTERNAL_ID_TAKEN]}
    assert "vision" not in other_team.content.decode()
    assert str(org["jobs"]["vit"].pk) not in other_team.content.decode()
    # The same id at another provider, or no id at all, is no clash.
    assert (
        bob.post("/api/v1/jobs/", {**body, "provider": "gcp", "external_id": "vision-1"}, format="json").status_code
        == 201
    )
    assert bob.post("/api/v1/jobs/", {**body, "external_id": ""}, format="json").status_code == 201


def test_an_edit_that_takes_another_teams_external_id_is_the_same_400(org, api):
    llama = org["jobs"]["llama"]
    alice = api.as_user(org["users"]["alice"])
    response = alice.patch(f"/api/v1/jobs/{llama.pk}/", {"external_id": "vision-1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"external_id": [EXTERNAL_ID_TAKEN]}
    # Keeping its own id is no clash.
    assert alice.patch(f"/api/v1/jobs/{llama.pk}/", {"external_id": "nlp-1"}, format="json").status_code == 200


def test_an_external_id_taken_between_the_check_and_the_insert_is_the_same_400(org, api, monkeypatch):
    # Two schedulers registering the same id at once: the database's unique constraint decides.
    from jobs.api import serializers

    real, calls = serializers.external_id_taken, []

    def taken_only_after_the_check(**kwargs) -> bool:
        calls.append(kwargs)
        return len(calls) > 1 and real(**kwargs)

    monkeypatch.setattr(serializers, "external_id_taken", taken_only_after_the_check)
    body = {**NEW_JOB, "team": str(org["teams"]["nlp"].pk), "provider": "aws", "external_id": "vision-1"}
    response = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"external_id": [EXTERNAL_ID_TAKEN]}
    assert Job.objects.filter(external_id="vision-1").count() == 1
    assert len(calls) == 2  # the check passed; the insert failed and was checked again
