"""Who reaches which page, CSV and chart data: the API's team scoping, 404 for what is not one's own."""

import pytest
from django.test import Client

from web.tests.conftest import RANGE, ROLES

OWN, OTHER = "nlp", "vision"


def urls(org, budgets) -> dict[str, str]:
    nlp, vision = org["teams"]["nlp"], org["teams"]["vision"]
    llama, vit = org["jobs"]["llama"], org["jobs"]["vit"]
    return {
        "home": f"/?{RANGE}",
        "home_csv": f"/?format=csv&{RANGE}",
        "home_chart": f"/?format=json&{RANGE}",
        "own_team": f"/teams/{nlp.pk}/?{RANGE}",
        "own_team_csv": f"/teams/{nlp.pk}/?format=csv&{RANGE}",
        "own_team_chart": f"/teams/{nlp.pk}/?format=json&{RANGE}",
        "other_team": f"/teams/{vision.pk}/?{RANGE}",
        "other_team_csv": f"/teams/{vision.pk}/?format=csv&{RANGE}",
        "other_team_chart": f"/teams/{vision.pk}/?format=json&{RANGE}",
        "own_model": f"/teams/{nlp.pk}/model/?model=llama&{RANGE}",
        "own_model_csv": f"/teams/{nlp.pk}/model/?model=llama&format=csv&{RANGE}",
        "other_model": f"/teams/{vision.pk}/model/?model=vit&{RANGE}",
        "other_model_csv": f"/teams/{vision.pk}/model/?model=vit&format=csv&{RANGE}",
        "jobs": "/jobs/",
        "jobs_csv": "/jobs/?format=csv",
        "own_job": f"/jobs/{llama.pk}/",
        "other_job": f"/jobs/{vit.pk}/",
        "own_job_edit": f"/jobs/{llama.pk}/edit/",
        "other_job_edit": f"/jobs/{vit.pk}/edit/",
        "budgets": "/budgets/",
        "budgets_csv": "/budgets/?format=csv",
        "own_budget_edit": f"/budgets/{budgets['nlp'].pk}/edit/",
        "other_budget_edit": f"/budgets/{budgets['vision'].pk}/edit/",
        "tokens": "/tokens/",
    }


# The answer each role gets (member, manager, staff without permissions, superuser).
EXPECTED = {
    "home": (200, 200, 200, 200), "home_csv": (200, 200, 200, 200), "home_chart": (200, 200, 200, 200),
    "own_team": (200, 200, 404, 200), "own_team_csv": (200, 200, 404, 200), "own_team_chart": (200, 200, 404, 200),
    "other_team": (404, 404, 404, 200), "other_team_csv": (404, 404, 404, 200),
    "other_team_chart": (404, 404, 404, 200),
    "own_model": (200, 200, 404, 200), "own_model_csv": (200, 200, 404, 200),
    "other_model": (404, 404, 404, 200), "other_model_csv": (404, 404, 404, 200),
    "jobs": (200, 200, 200, 200), "jobs_csv": (200, 200, 200, 200),
    "own_job": (200, 200, 404, 200), "other_job": (404, 404, 404, 200),
    "own_job_edit": (404, 200, 404, 200), "other_job_edit": (404, 404, 404, 200),
    "budgets": (200, 200, 200, 200), "budgets_csv": (200, 200, 200, 200),
    "own_budget_edit": (404, 200, 404, 200), "other_budget_edit": (404, 404, 404, 200),
    "tokens": (200, 200, 200, 200),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_page_answers_each_role_as_designed(org, budgets, as_role, name):
    url = urls(org, budgets)[name]
    got = tuple(as_role(role).get(url).status_code for role in ROLES)
    assert got == EXPECTED[name], f"{name}: {dict(zip(ROLES, got, strict=True))}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_anonymous_users_are_sent_to_the_login(org, budgets, name):
    url = urls(org, budgets)[name]
    response = Client().get(url)
    if name.endswith(("_csv", "_chart")):  # data: a 401 a script sees, not the login page saved as CSV
        assert (response.status_code, response["Content-Type"]) == (401, "text/plain")
        return
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_root_leads_to_login_then_home(org, users):
    client = Client()
    assert client.get("/")["Location"] == "/login/?next=/"
    response = client.post("/login/?next=/", {"username": "bob", "password": "correct-horse-battery", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_the_member_login_locks_out_after_five_wrong_passwords(org, users):
    client = Client()
    for _ in range(4):
        assert client.post("/login/", {"username": "bob", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "bob", "password": "wrong"}).status_code == 429
    locked = client.post("/login/", {"username": "bob", "password": "correct-horse-battery"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_admin_view_site_leads_to_the_member_ui(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in page
