"""What outside testers sent: NUL characters in query strings, bad admin export filters, data asked for without a
session, another team's name in a dropdown, saved views too long to keep, a job edit whose status contradicts its
times. Each is refused with its reason (or left out with a message), never a 500 nor silently changed."""

import pytest
from django.test import Client

from costs.dashboard.models import SavedView
from jobs.models import Job
from web.tests.conftest import RANGE
from web.tests.test_edits import job_form

NUL_MESSAGE = "Bad query parameter: {name}: contains a NUL character.\n"


def test_a_nul_in_a_member_csv_parameter_is_a_400_naming_it(org, as_role):
    nlp = org["teams"]["nlp"]
    response = as_role("member").get(f"/teams/{nlp.pk}/model/?model=%00&format=csv&{RANGE}")
    assert (response.status_code, response["Content-Type"]) == (400, "text/plain")
    assert response.content.decode() == NUL_MESSAGE.format(name="model")


def test_a_nul_in_a_page_parameter_is_left_out_with_a_message(org, as_role):
    nlp = org["teams"]["nlp"]
    client = as_role("member")
    response = client.get(f"/teams/{nlp.pk}/model/?model=%00&{RANGE}")
    assert (response.status_code, response["Location"]) == (302, f"/teams/{nlp.pk}/model/?{RANGE}")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Left out the query parameter model: contains a NUL character." in page.content.decode()


@pytest.mark.parametrize("url", ["/jobs/?model_name=%00", "/?provider=%00", "/?label=project%3D%00", "/?sort=%00"])
def test_a_nul_in_any_member_parameter_never_reaches_a_query(org, as_role, url):
    client = as_role("member")
    response = client.get(url)
    assert response.status_code == 302
    assert "%00" not in response["Location"]
    assert client.get(response["Location"]).status_code == 200
    assert client.get(url + "&format=csv").status_code == 400


def test_a_nul_in_the_admin_dashboards_currency_is_refused(org, staff_client):
    page = staff_client.get("/admin/?currency=%00")
    assert (page.status_code, page["Location"]) == (302, "/admin/")
    assert "Left out the query parameter currency" in staff_client.get("/admin/").content.decode()
    export = staff_client.get("/admin/dashboard/export/teams.csv?currency=%00")
    assert export.status_code == 400
    assert export.content.decode() == NUL_MESSAGE.format(name="currency")


def test_a_nul_in_an_api_parameter_is_a_400_naming_it(org, api):
    response = api.as_user(org["users"]["bob"]).get("/api/v1/jobs/?model_name=%00")
    assert response.status_code == 400
    assert response.json() == {"model_name": ["Parameter contains a NUL character."]}


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("foo=bar", "foo='bar'"),
        ("team__id__exact=abc", "team__id__exact='abc'"),
        ("start=2025-03-10", "start='2025-03-10'"),
        ("status__exact=succeeded&bogus__in=1", "bogus__in='1'"),
    ],
)
def test_the_admin_job_export_refuses_what_the_changelist_refuses_naming_it(org, staff_client, query, refused):
    assert staff_client.get(f"/admin/jobs/job/?{query}")["Location"] == "/admin/jobs/job/?e=1"
    response = staff_client.get(f"/admin/jobs/job/export.csv?{query}")
    assert (response.status_code, response["Content-Type"]) == (400, "text/plain")
    assert response.content.decode() == f"Not a filter of the job list: {refused}.\n"


@pytest.mark.parametrize("paging", ["p=0", "p=-1", "p=abc", "p=99", "e=1"])
def test_the_admin_job_export_ignores_paging(org, staff_client, paging):
    response = staff_client.get(f"/admin/jobs/job/export.csv?{paging}&status__exact=succeeded")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["nlp", "vision"]


def test_the_admin_job_export_follows_the_changelists_filters(org, staff_client):
    nlp = org["teams"]["nlp"]
    response = staff_client.get(f"/admin/jobs/job/export.csv?team__id__exact={nlp.pk}")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["nlp"]


@pytest.mark.parametrize("url", ["/?format=csv", "/?format=json", "/jobs/?format=csv", "/budgets/?format=csv",
                                 "/teams/{team}/?format=csv", "/teams/{team}/?format=json",
                                 "/teams/{team}/model/?model=llama&format=csv"])  # fmt: skip
def test_data_asked_for_without_a_session_is_a_401_in_plain_text(org, url):
    response = Client().get(url.format(team=org["teams"]["nlp"].pk))
    assert (response.status_code, response["Content-Type"]) == (401, "text/plain")
    assert response.content.decode() == "Log in first: this data needs a session (the API takes a token).\n"


def test_the_job_filter_offers_only_the_teams_one_sees(org, as_role):
    member = as_role("member")
    choices = list(member.get("/jobs/").context["filters"].form.fields["team"].queryset.values_list("name", flat=True))
    assert choices == ["nlp"]
    page = member.get("/jobs/").content.decode()
    assert ">nlp</option>" in page
    assert "vision" not in page
    vision = org["teams"]["vision"]
    refused = member.get(f"/jobs/?team={vision.pk}")
    assert list(refused.context["page"]) == []
    assert "vision" not in refused.content.decode()
    superuser = as_role("superuser").get("/jobs/").context["filters"].form.fields["team"].queryset
    assert list(superuser.values_list("name", flat=True)) == ["nlp", "vision"]


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("n" * 5000, RANGE, "the name is too long to save (5,000 characters; at most 100)"),
        ("big", "model=" + "m" * 100_000,
         "the view&#x27;s address is too long to save (100,006 characters; at most 2,000)"),
    ],
)  # fmt: skip
def test_a_saved_view_too_long_is_refused_whole_never_cut(org, as_role, name, query, message):
    member = as_role("member")
    response = member.post("/views/save/", {"name": name, "page": "home", "query": query})
    assert response["Location"] == "/views/"
    assert SavedView.objects.count() == 0
    assert f"The view was not saved: {message}." in member.get("/views/").content.decode()


@pytest.mark.parametrize("gpu_count", ["-1", "0"])
def test_a_job_edit_says_one_rule_for_the_gpu_count(org, as_role, gpu_count):
    llama = org["jobs"]["llama"]
    response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, gpu_count=gpu_count))
    assert response.status_code == 200
    assert response.context["form"].errors == {"gpu_count": ["Ensure this value is greater than or equal to 1."]}
    assert Job.objects.get(pk=llama.pk).gpu_count == 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "pending"}, "A pending job has not ended: leave end_time empty, or choose succeeded, failed or "
                                "cancelled."),
        ({"status": "running"}, "A running job has not ended: leave end_time empty, or choose succeeded, failed or "
                                "cancelled."),
        ({"status": "succeeded", "end_time": ""}, "Required when status is succeeded (a job that started and "
                                                  "finished has an end)."),
    ],
)  # fmt: skip
def test_a_job_edit_refuses_a_status_its_times_contradict(org, as_role, api, changes, message):
    llama = org["jobs"]["llama"]
    response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, **changes))
    assert response.status_code == 200
    assert response.context["form"].errors == {"end_time": [message]}
    assert Job.objects.get(pk=llama.pk).status == "succeeded"
    body = {**changes, "end_time": changes.get("end_time") or None} if "end_time" in changes else changes
    patched = api.as_user(org["users"]["alice"]).patch(f"/api/v1/jobs/{llama.pk}/", body, format="json")
    assert (patched.status_code, patched.json()) == (400, {"end_time": [message]})


def test_a_job_edit_keeps_consistent_statuses(org, as_role):
    llama = org["jobs"]["llama"]
    for changes in ({"status": "running", "end_time": ""}, {"status": "cancelled"}):
        assert as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, **changes)).status_code == 302
    assert Job.objects.get(pk=llama.pk).status == "cancelled"


def test_the_browsable_apis_job_filter_names_only_ones_teams(org, api, client):
    client.force_login(org["users"]["bob"])
    page = client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html").content.decode()
    assert "vision" not in page
    vision = org["teams"]["vision"]
    response = api.as_user(org["users"]["bob"]).get(f"/api/v1/jobs/?team={vision.pk}")
    assert response.status_code == 400
    assert list(response.json()) == ["team"]
    staff = api.as_user(org["users"]["staff"]).get(f"/api/v1/jobs/?team={vision.pk}").json()["results"]
    assert [job["team_name"] for job in staff] == ["vision"]
