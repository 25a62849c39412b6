"""The drill-down by cost label: team -> label value -> jobs, each level's figures, shares and changes, the
rows of every key adding up to the team, and who may see which label page."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory
from web.tests.conftest import RANGE, ROLES
from web.tests.test_pages import HTML_RANGE, csv_rows

KEYS = ["project", "user", "cost_center"]
D = Decimal


@pytest.fixture
def labelled(org, settings):
    """On 2025-03-10 nlp spends $42.00: llama (project=alpha, user=bob) $32, gpt (project=alpha) 1 GPU x 30 min
    $2, bert (project=beta) $8; vision's vit (project=alpha) $8. The bill ($50) covers the $50 estimated, so
    allocated = estimated. The day before, another alpha job of nlp cost $8."""
    settings.HELIOX_COST_LABELS = KEYS
    nlp, vision = org["teams"]["nlp"], org["teams"]["vision"]
    day = datetime(2025, 3, 10, tzinfo=UTC)
    Job.objects.filter(pk=org["jobs"]["llama"].pk).update(labels={"project": "alpha", "user": "bob"})
    Job.objects.filter(pk=org["jobs"]["vit"].pk).update(labels={"project": "alpha"})
    jobs = {
        "gpt": JobFactory(team=nlp, model_name="gpt", start_time=day.replace(hour=10),
                          end_time=day.replace(hour=10, minute=30), labels={"project": "alpha"}, external_id="nlp-2"),
        "bert": JobFactory(team=nlp, model_name="bert", start_time=day.replace(hour=5), labels={"project": "beta"},
                           external_id="nlp-3"),
        "before": JobFactory(team=nlp, model_name="llama", start_time=day.replace(hour=5) - timedelta(days=1),
                             labels={"project": "alpha"}, external_id="nlp-0"),
    }  # fmt: skip
    usage_rollup(start=date(2025, 3, 9), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    return {"nlp": nlp, "vision": vision, "llama": org["jobs"]["llama"], **jobs}


def label_url(team, key: str, value: str, extra: str = "") -> str:
    return f"/teams/{team.pk}/label/?key={key}&value={value}{extra}&{RANGE}"


def figures(rows: list[dict]) -> list[tuple]:
    return [(r["key"], r["gpu_hours"], r["estimated_usd"], r["allocated_usd"], r["share_pct"], r["change_pct"])
            for r in rows]  # fmt: skip


def test_team_page_has_each_label_keys_values_adding_up_to_the_team(labelled, as_role):
    nlp = labelled["nlp"]
    response = as_role("member").get(f"/teams/{nlp.pk}/?{RANGE}")
    tables = {table["key"]: table["level"] for table in response.context["label_tables"]}
    assert list(tables) == KEYS
    assert figures(tables["project"].rows) == [
        ("alpha", D("8.5000"), D("34.00"), D("34.00"), D("81.0"), D("325.0")),
        ("beta", D("2.0000"), D("8.00"), D("8.00"), D("19.0"), None),
    ]
    assert figures(tables["user"].rows) == [
        ("bob", D("8.0000"), D("32.00"), D("32.00"), D("76.2"), None),
        ("(unlabelled)", D("2.5000"), D("10.00"), D("10.00"), D("23.8"), D("25.0")),
    ]
    assert figures(tables["cost_center"].rows) == [
        ("(unlabelled)", D("10.5000"), D("42.00"), D("42.00"), D("100.0"), D("425.0"))]  # fmt: skip
    team_card = response.context["card"]
    for level in tables.values():  # every key's rows add up to the team, to the cent
        assert level.totals["allocated_usd"] == team_card["allocated_usd"] == D("42.00")
        assert level.totals["estimated_usd"] == team_card["estimated_usd"]
        assert level.totals["gpu_hours"] == team_card["gpu_hours"] == D("10.5000")
    page = response.content.decode()
    assert f'<a href="/teams/{nlp.pk}/label/?key=project&amp;value=alpha&amp;{HTML_RANGE}">alpha</a>' in page
    assert f"/teams/{nlp.pk}/label/?key=user&amp;value=%28unlabelled%29&amp;{HTML_RANGE}" in page


def test_a_label_keys_table_as_csv(labelled, as_role):
    nlp = labelled["nlp"]
    rows = csv_rows(as_role("member").get(f"/teams/{nlp.pk}/?format=csv&label=project&{RANGE}"))
    assert rows == [
        ["project", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours",
         "measured_gpu_hours", "unmeasured_gpu_hours", "waste_usd", "allocated_waste_usd", "efficiency_pct",
         "previous_allocated_usd",
         "share_pct", "change_pct"],
        # no utilisation on these jobs: every GPU-hour unmeasured; used, waste and efficiency unknown (empty), never 0
        ["alpha", "8.5000", "34.00", "34.00", "0.0000", "", "0.0000", "8.5000", "", "", "", "8.00", "81.0", "325.0"],
        ["beta", "2.0000", "8.00", "8.00", "0.0000", "", "0.0000", "2.0000", "", "", "", "0.00", "19.0", ""],
    ]  # fmt: skip
    refused = as_role("member").get(f"/teams/{nlp.pk}/?format=csv&label=slurm.user&{RANGE}")
    assert (refused.status_code, csv_rows(refused)) == (
        400,
        [
            ["field", "message"],
            ["label", "'slurm.user' is not a rolled-up label key (HELIOX_COST_LABELS: project, user, cost_center)."],
        ],
    )


def test_label_value_page_lists_its_jobs_against_the_value_with_breadcrumbs(labelled, as_role):
    nlp, llama, gpt = labelled["nlp"], labelled["llama"], labelled["gpt"]
    response = as_role("member").get(label_url(nlp, "project", "alpha"))
    card = response.context["card"]
    assert (card["allocated_usd"], card["gpu_hours"], card["share_pct"], card["change_pct"]) == (
        D("34.00"), D("8.5000"), D("81.0"), D("325.0"))  # fmt: skip
    jobs = response.context["jobs"]
    assert figures(jobs) == [
        (llama.pk, D("8.0000"), D("32.00"), D("32.00"), D("94.1"), None),
        (gpt.pk, D("0.5000"), D("2.00"), D("2.00"), D("5.9"), None),
    ]
    assert sum(row["allocated_usd"] for row in jobs) == card["allocated_usd"]
    page = response.content.decode()
    assert f'<a href="/teams/{nlp.pk}/?{HTML_RANGE}">nlp</a> &rsaquo; project = alpha' in page  # breadcrumb back
    assert f'href="/jobs/{llama.pk}/"' in page
    assert "vit" not in page  # vision's alpha job is not nlp's


def test_unlabelled_value_page_lists_the_jobs_without_the_key(labelled, as_role):
    nlp = labelled["nlp"]
    response = as_role("manager").get(label_url(nlp, "user", "(unlabelled)"))
    assert [row["key"] for row in response.context["jobs"]] == [labelled["bert"].pk, labelled["gpt"].pk]
    assert response.context["card"]["allocated_usd"] == D("10.00")


def test_label_value_csv_and_chart_data(labelled, as_role):
    nlp, llama, gpt = labelled["nlp"], labelled["llama"], labelled["gpt"]
    client = as_role("member")
    rows = csv_rows(client.get(label_url(nlp, "project", "alpha", "&format=csv")))
    # unmeasured jobs: used GPU-hours, waste and efficiency unknown (empty), all their hours unmeasured
    assert rows[1:] == [[str(llama.pk), "8.0000", "32.00", "32.00", "0.0000", "", "0.0000", "8.0000", "", "", "",
                         "0.00", "94.1", ""],
                        [str(gpt.pk), "0.5000", "2.00", "2.00", "0.0000", "", "0.0000", "0.5000", "", "", "",
                         "0.00", "5.9", ""]]  # fmt: skip
    charts = client.get(label_url(nlp, "project", "alpha", "&format=json")).json()
    assert charts["spend_by_job"]["data"] == [32.0, 2.0]
    assert charts["spend_by_job"]["links"] == [f"/jobs/{llama.pk}/", f"/jobs/{gpt.pk}/"]


def test_a_job_in_both_periods_shows_its_change(labelled, as_role):
    bert = labelled["bert"]
    Job.objects.filter(pk=bert.pk).update(
        start_time=datetime(2025, 3, 9, 23, tzinfo=UTC), end_time=datetime(2025, 3, 10, 1, tzinfo=UTC)
    )  # 1 h on each day
    usage_rollup(start=date(2025, 3, 9), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    [row] = as_role("member").get(label_url(labelled["nlp"], "project", "beta")).context["jobs"]
    assert (row["allocated_usd"], row["previous_allocated_usd"], row["change_pct"]) == (
        D("4.00"), D("4.00"), D("0.0"))  # fmt: skip


# The answer each role gets (member, manager, staff without permissions, superuser).
EXPECTED = {
    "own": (200, 200, 404, 200), "own_csv": (200, 200, 404, 200), "own_chart": (200, 200, 404, 200),
    "other": (404, 404, 404, 200), "other_csv": (404, 404, 404, 200), "other_chart": (404, 404, 404, 200),
    "unknown_key": (400, 400, 404, 400), "no_value": (400, 400, 404, 400),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_label_pages_answer_each_role_as_designed(labelled, as_role, name):
    nlp, vision = labelled["nlp"], labelled["vision"]
    url = {
        "own": label_url(nlp, "project", "alpha"), "own_csv": label_url(nlp, "project", "alpha", "&format=csv"),
        "own_chart": label_url(nlp, "project", "alpha", "&format=json"),
        "other": label_url(vision, "project", "alpha"),
        "other_csv": label_url(vision, "project", "alpha", "&format=csv"),
        "other_chart": label_url(vision, "project", "alpha", "&format=json"),
        "unknown_key": label_url(nlp, "team", "nlp"), "no_value": label_url(nlp, "project", ""),
    }[name]  # fmt: skip
    got = tuple(as_role(role).get(url).status_code for role in ROLES)
    assert got == EXPECTED[name], f"{name}: {dict(zip(ROLES, got, strict=True))}"


def test_the_superuser_sees_another_teams_label_page_with_its_figures(labelled, as_role, org):
    response = as_role("superuser").get(label_url(labelled["vision"], "project", "alpha"))
    assert response.context["card"]["allocated_usd"] == D("8.00")
    assert [row["key"] for row in response.context["jobs"]] == [org["jobs"]["vit"].pk]


def test_admin_team_page_drills_into_the_member_uis_label_pages(labelled, client, org):
    nlp = labelled["nlp"]
    client.force_login(org["users"]["staff"])
    response = client.get(f"/admin/dashboard/team/{nlp.pk}/?{RANGE}")
    tables = {table["key"]: table["level"] for table in response.context["label_tables"]}
    assert figures(tables["project"].rows)[0] == ("alpha", D("8.5000"), D("34.00"), D("34.00"), D("81.0"), D("325.0"))
    page = response.content.decode()
    assert f'<a href="/teams/{nlp.pk}/label/?key=project&amp;value=beta&amp;{HTML_RANGE}">beta</a>' in page
    # the linked page answers this staff user (who may view the organisation's spend)
    assert client.get(label_url(nlp, "project", "beta")).status_code == 200


def test_a_label_value_no_row_can_hold_is_a_404_and_csv_names_are_safe(labelled, as_role):
    nlp, member = labelled["nlp"], as_role("member")
    left_out = member.get(label_url(nlp, "project", "%00"))  # heliox.query_guard: the page again without it
    assert member.get(left_out["Location"]).status_code == 400  # which value? (without one: the key's values)
    assert member.get(label_url(nlp, "project", "x" * 201)).status_code == 404
    # a value with a newline and a quote (label values come from job data): the file name is made safe
    response = member.get(label_url(nlp, "project", 'a%0Ab";filename="evil.exe', "&format=csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="heliox-nlp-project-a_b_filename_evil.exe-jobs-2025-03-10-2025-03-11.csv"')  # fmt: skip


NO_VALUE = "required: which project value to show (value=...); the team page lists nlp's project values in the range."


@pytest.mark.parametrize("query", ["key=project", "key=project&value="])
@pytest.mark.parametrize("who", ["member", "staff", "superuser"])
def test_a_label_page_without_a_value_names_it_and_lists_the_keys_values(labelled, as_role, client, org, who, query):
    nlp = labelled["nlp"]
    if who == "staff":  # staff who may view the organisation's spend, no member of nlp
        client.force_login(org["users"]["staff"])
    user = client if who == "staff" else as_role(who)
    response = user.get(f"/teams/{nlp.pk}/label/?{query}&{RANGE}")
    assert response.status_code == 400
    [table] = response.context["label_tables"]  # project's table only: the team's values in the range
    assert figures(table["level"].rows) == [
        ("alpha", D("8.5000"), D("34.00"), D("34.00"), D("81.0"), D("325.0")),
        ("beta", D("2.0000"), D("8.00"), D("8.00"), D("19.0"), None),
    ]
    page = response.content.decode()
    why = NO_VALUE.replace("'", "&#x27;")
    assert f'<ul class="errorlist"><li>value: {why}</li></ul>' in page
    links = re.findall(r'<a href="(/teams/[^"]*/label/[^"]*)">([^<]*)</a>', page)
    assert links == [(f"/teams/{nlp.pk}/label/?key=project&amp;value=alpha&amp;{HTML_RANGE}", "alpha"),
                     (f"/teams/{nlp.pk}/label/?key=project&amp;value=beta&amp;{HTML_RANGE}", "beta")]  # fmt: skip
    assert 'name="start" value="2025-03-10"' in page  # the range picker, the range kept
    assert "By label user" not in page
    refused = user.get(f"/teams/{nlp.pk}/label/?{query}&format=csv&{RANGE}")
    assert (refused.status_code, csv_rows(refused)) == (400, [["field", "message"], ["value", NO_VALUE]])
    chart = user.get(f"/teams/{nlp.pk}/label/?{query}&format=json&{RANGE}")
    assert (chart.status_code, chart.json()) == (400, {"value": [NO_VALUE]})


def test_a_label_page_without_a_value_lists_that_teams_values_and_hides_another_team(labelled, as_role):
    vision, nlp = labelled["vision"], labelled["nlp"]
    response = as_role("superuser").get(f"/teams/{vision.pk}/label/?key=project&{RANGE}")
    assert response.status_code == 400
    [table] = response.context["label_tables"]
    assert figures(table["level"].rows) == [("alpha", D("2.0000"), D("8.00"), D("8.00"), D("100.0"), None)]
    outsider = as_role("member")  # bob, of nlp only: vision's page, CSV and chart data are not found
    for extra in ("", "&format=csv", "&format=json"):
        assert outsider.get(f"/teams/{vision.pk}/label/?key=project{extra}&{RANGE}").status_code == 404
    manager_of_vision = as_role("manager")  # alice manages nlp only
    assert manager_of_vision.get(f"/teams/{vision.pk}/label/?key=project&value=&{RANGE}").status_code == 404
    assert outsider.get(f"/teams/{nlp.pk}/label/?key=project&value={'x' * 201}&{RANGE}").status_code == 404
