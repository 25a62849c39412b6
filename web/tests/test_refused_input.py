"""What a tester found answered wrongly: data asked for with a bad range, a refused filter or an unknown label key
came back as this month's figures (or a header-only file) with a 200; a NUL in a path was a 500; a page number
past the end silently showed another page. Data is refused with a 400 naming the parameter; a page says what it
shows instead."""

import pytest
from django.urls import reverse

from jobs.tests.factories import JobFactory
from web.tests.conftest import RANGE

YEARS = "Must be a day of the years 1900 to 9998."
DATE_FORMAT = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
BACKWARDS = "Must be after start (2026-12-30); end is exclusive."
LABEL_KEY = "'nonexistent' is not a rolled-up label key (HELIOX_COST_LABELS: project, user, cost_center)."


def _urls(org) -> dict[str, str]:
    nlp = org["teams"]["nlp"].pk
    return {"home": "/?", "team": f"/teams/{nlp}/?", "model": f"/teams/{nlp}/model/?model=llama&",
            "label": f"/teams/{nlp}/label/?key=project&value=alpha&"}  # fmt: skip


@pytest.mark.parametrize("page", ["home", "team", "model", "label"])
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=0001-01-01", "start", YEARS),
        ("start=2026-13-45", "start", DATE_FORMAT),
        ("start=2026-12-30&end=2026-11-30", "end", BACKWARDS),
        ("end=10000-01-01", "end", DATE_FORMAT),
    ],
)
def test_a_member_export_with_a_bad_range_is_a_400_naming_it(org, as_role, page, query, field, message):
    client = as_role("member")
    url = _urls(org)[page] + query
    csv = client.get(url + "&format=csv")
    assert (csv.status_code, csv["Content-Type"], csv.content.decode()) == (
        400, "text/csv", f"field,message\n{field},{message}\n")  # fmt: skip
    if page != "model":  # the model page has no JSON
        data = client.get(url + "&format=json")
        assert (data.status_code, data.json()) == (400, {field: [message]})
    shown = client.get(url)  # the page shows what it can, with the error beside it
    assert (shown.status_code, shown.context["range_errors"]) == (200, {field: [message]})


def test_a_bad_team_filter_is_refused_in_the_same_form(org, as_role):
    vision = org["teams"]["vision"].pk
    csv = as_role("member").get(f"/?format=csv&{RANGE}&team={vision}")
    assert (csv.status_code, csv.content.decode()) == (400, f"field,message\nteam,Unknown team {vision}.\n")
    data = as_role("member").get(f"/?format=json&{RANGE}&team={vision}")
    assert (data.status_code, data.json()) == (400, {"team": [f"Unknown team {vision}."]})


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=0001-01-01", "start", YEARS),
        ("start=2026-12-30&end=2026-11-30", "end", BACKWARDS),
        (
            f"{RANGE}&currency=EUR",
            "currency",
            "unknown currency 'EUR': set a rate first (manage.py set_fx_rate EUR RATE)",
        ),
    ],
)
def test_the_admin_dashboard_export_refuses_a_bad_range_naming_it(org, staff_client, query, field, message):
    response = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + "?" + query)
    assert (response.status_code, response["Content-Type"]) == (400, "text/csv")
    assert response.content.decode() == f"field,message\n{field},{message}\n"


def test_the_member_job_csv_refuses_another_teams_filter_naming_it(org, as_role):
    vision = org["teams"]["vision"].pk
    response = as_role("member").get(f"/jobs/?format=csv&team={vision}")
    assert (response.status_code, response.content.decode()) == (
        400,
        "field,message\nteam,Select a valid choice. That choice is not one of the available choices.\n",
    )
    unpriced = as_role("member").get("/jobs/?format=csv&pricing=unpriced")
    assert (unpriced.status_code, unpriced.content.decode()) == (
        400,
        "field,message\npricing,Select a valid choice. unpriced is not one of the available choices.\n",
    )
    maybe = as_role("member").get("/jobs/?format=csv&running=maybe")
    assert (maybe.status_code, maybe.content.decode()) == (
        400,
        "field,message\nrunning,Select a valid choice. maybe is not one of the available choices.\n",
    )
    own = as_role("member").get(f"/jobs/?format=csv&team={org['teams']['nlp'].pk}")
    assert (own.status_code, len(own.content.decode().splitlines())) == (200, 2)


def test_an_unknown_label_key_is_refused_naming_it(org, as_role):
    client = as_role("member")
    nlp = org["teams"]["nlp"].pk
    csv = client.get(f"/teams/{nlp}/?label=nonexistent&format=csv&{RANGE}")
    assert (csv.status_code, csv.content.decode()) == (400, f'field,message\nlabel,"{LABEL_KEY}"\n')
    known = client.get(f"/teams/{nlp}/?label=project&format=csv&{RANGE}")
    assert (known.status_code, known.content.decode().splitlines()[0].split(",")[0]) == (200, "project")
    data = client.get(f"/teams/{nlp}/label/?key=nonexistent&value=1&format=csv&{RANGE}")
    assert (data.status_code, data.content.decode()) == (400, f'field,message\nkey,"{LABEL_KEY}"\n')
    page = client.get(f"/teams/{nlp}/label/?key=nonexistent&value=1&{RANGE}")
    assert page.status_code == 400
    assert f"key: {LABEL_KEY}".replace("'", "&#x27;") in page.content.decode()


@pytest.mark.parametrize("url", ["/tokens/%00/revoke/", "/tokens/a%00b/revoke/"])
def test_a_nul_in_a_token_key_is_a_404_not_a_500(org, as_role, url):
    response = as_role("member").post(url)
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/admin/knox/authtoken/%00/change/", "/admin/knox/authtoken/%00/delete/",
                                 "/admin/knox/authtoken/%00/history/", "/api/v1/jobs/%00/"])  # fmt: skip
def test_a_nul_in_any_path_is_a_404(org, staff_client, url):
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("page", "shown", "message"),
    [
        ("-1", 1, "Page -1 is before the first page: showing page 1."),
        ("0", 1, "Page 0 is before the first page: showing page 1."),
        ("99999999999999999999", 3, "Page 99999999999999999999 is past the last page, 3: showing it."),
        ("4", 3, "Page 4 is past the last page, 3: showing it."),
        ("abc", 1, "Page &#x27;abc&#x27; is not a page number: showing page 1."),
    ],
)
def test_a_job_page_out_of_range_says_which_page_it_shows(org, as_role, page, shown, message):
    JobFactory.create_batch(100, team=org["teams"]["nlp"])  # 101 jobs: 3 pages of 50
    response = as_role("member").get(f"/jobs/?page={page}")
    assert (response.status_code, response.context["page"].number) == (200, shown)
    assert message in response.content.decode()


@pytest.mark.parametrize("page", ["", "1", "2"])
def test_a_job_page_in_range_says_nothing_more(org, as_role, page):
    JobFactory.create_batch(60, team=org["teams"]["nlp"])
    response = as_role("member").get(f"/jobs/?page={page}")
    assert response.context["page"].number == int(page or 1)
    assert "page" not in [str(m) for m in response.context["messages"]]
    assert list(response.context["messages"]) == []


def test_an_unknown_sort_of_the_job_list_is_named(org, as_role):
    """A page says the sort is unknown and which it used; the CSV is a 400 naming it (another order would not
    say that it is another)."""
    client = as_role("member")
    page = client.get("/jobs/?sort=zzz").content.decode()
    assert ("Sort: &#x27;zzz&#x27; is not a sort of this list: start, -start, team, model, gpus, -gpus, status, "
            "-cost, cost, -allocated, -waste; sorted by start, latest first.") in page  # fmt: skip
    assert 'href="?sort=team"' in page  # the header's links start with the sort when nothing else is kept
    response = client.get("/jobs/?format=csv&sort=allocated")
    assert (response.status_code, response.content.decode()) == (
        400,
        "field,message\nsort,\"'allocated' is not a sort of this list: start, -start, team, model, gpus, -gpus, "
        'status, -cost, cost, -allocated, -waste"\n',
    )
