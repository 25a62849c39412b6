"""The filter bar narrows every card, chart, table and CSV of the staff dashboard and the member home.

On the `org` fixture (2025-03-10): nlp llama 8 GPU-h $32.00, vision vit 2 GPU-h $8.00, both aws H100;
the aws H100 bill $50.00, so $10.00 idle. Here llama is labelled project=alpha, and vision made $2.50 of
openai gpt-4o calls.
"""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from costs.llm.models import LlmUsageSnapshot
from costs.usage.selectors.filters import SpendFilter
from costs.usage.selectors.spend import spend_summary
from costs.usage.services.rollup import usage_rollup

INDEX = reverse("admin:index")
RANGE = "start=2025-03-10&end=2025-03-11"
DAY, NEXT = date(2025, 3, 10), date(2025, 3, 11)


@pytest.fixture
def labelled(org):
    org["jobs"]["llama"].labels = {"project": "alpha"}
    org["jobs"]["llama"].save()
    usage_rollup(start=DAY, end=NEXT, now=datetime(2025, 3, 11, tzinfo=UTC))
    LlmUsageSnapshot.objects.create(date=DAY, team=org["teams"]["vision"], provider="openai", model="gpt-4o", calls=3,
                                    input_tokens=10, output_tokens=1, cost_usd=Decimal("2.50"))  # fmt: skip
    return org


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    return list(csv.reader(io.StringIO(response.content.decode())))


def _cards(response) -> tuple:
    k = response.context["dashboard"]["kpis"]
    return k["spend"], k["llm"], k["all"], k["gpu_hours"], k["idle"], k["billed"], k["running_jobs"]


def test_a_provider_filter_keeps_the_providers_bill(labelled, staff_client):
    response = staff_client.get(f"{INDEX}?{RANGE}&provider=aws")
    # aws: $40.00 allocated + $10.00 idle, its bill known; the openai calls are not aws's.
    assert _cards(response) == (Decimal("50.00"), Decimal("0.00"), Decimal("50.00"), Decimal("10.0000"),
                                Decimal("10.00"), Decimal("50.00"), 0)  # fmt: skip
    assert response.context["dashboard"]["bill_hidden"] is False
    assert _csv(staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + f"?{RANGE}&provider=aws")) == [
        ["team", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd",
         "llm_usd", "total_usd", "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct",
         "waste_usd", "allocated_waste_usd", "previous_total_usd", "change_pct"],
        # no job has utilisation: all hours unmeasured; used, efficiency and waste unknown (empty)
        ["nlp", "8.0000", "0.0000", "32.00", "32.00", "0.00", "", "0.00", "32.00", "", "0.0000", "8.0000", "", "", "",
         "0.00", ""],
        ["vision", "2.0000", "0.0000", "8.00", "8.00", "0.00", "", "0.00", "8.00", "", "0.0000", "2.0000", "", "", "",
         "0.00", ""],
        ["(idle)", "0.0000", "0.0000", "0.00", "0.00", "10.00", "", "0.00", "10.00", "", "0.0000", "0.0000", "", "", "",
         "", ""],
        ["TOTAL", "10.0000", "0.0000", "40.00", "40.00", "10.00", "50.00", "0.00", "50.00", "", "0.0000",
         "10.0000", "", "", "", "0.00", ""],
    ]  # fmt: skip


def test_a_model_filter_narrows_every_table_and_hides_the_bill(labelled, staff_client):
    response = staff_client.get(f"{INDEX}?{RANGE}&model=llama")
    data = response.context["dashboard"]
    assert _cards(response) == (Decimal("32.00"), Decimal("0.00"), Decimal("32.00"), Decimal("8.0000"), None, None, 0)
    assert data["bill_hidden"] is True
    assert [(r["team"], r["total_usd"]) for r in data["tables"]["teams"]["rows"]] == [("nlp", Decimal("32.00"))]
    assert [(r["provider"], r["allocated_usd"], r["billed_usd"]) for r in data["tables"]["providers"]["rows"]] == [
        ("aws", Decimal("32.00"), None)]  # fmt: skip
    assert [r["model_name"] for r in data["top_models"]] == ["llama"]
    assert data["team_by_provider"]["total"] == Decimal("32.00")
    assert data["charts"]["spend_by_team"] == {"labels": ["nlp"], "data": [32.0]}
    assert data["charts"]["daily_by_provider"]["datasets"] == [{"label": "aws", "data": [32.0]}]
    page = response.content.decode()
    assert "not per team, model or label" in page
    assert 'value="llama"' in page  # the filter bar shows what is applied
    assert f'href="?{RANGE.replace("&", "&amp;")}"' in page  # the chip that removes it


def test_an_llm_model_filter_shows_its_calls_only(labelled, staff_client):
    response = staff_client.get(f"{INDEX}?{RANGE}&model=gpt-4o")
    assert _cards(response) == (Decimal("0.00"), Decimal("2.50"), Decimal("2.50"), Decimal("0.0000"), None, None, 0)
    teams = response.context["dashboard"]["tables"]["teams"]["rows"]
    assert [(r["team"], r["llm_usd"], r["total_usd"]) for r in teams] == [("vision", Decimal("2.50"), Decimal("2.50"))]


def test_team_and_label_filters_combine(labelled, staff_client):
    nlp, vision = labelled["teams"]["nlp"], labelled["teams"]["vision"]
    alpha = staff_client.get(f"{INDEX}?{RANGE}&label=project%3Dalpha")
    assert _cards(alpha)[:4] == (Decimal("32.00"), Decimal("0.00"), Decimal("32.00"), Decimal("8.0000"))
    vision_alpha = staff_client.get(f"{INDEX}?{RANGE}&label=project%3Dalpha&team={vision.pk}")
    assert _cards(vision_alpha)[:4] == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.0000"))
    unlabelled = staff_client.get(f"{INDEX}?{RANGE}&label=project%3D(unlabelled)&team={vision.pk}")
    assert _cards(unlabelled)[:4] == (Decimal("8.00"), Decimal("0.00"), Decimal("8.00"), Decimal("2.0000"))
    team = staff_client.get(f"{INDEX}?{RANGE}&team={nlp.pk}")
    assert _cards(team) == (Decimal("32.00"), Decimal("0.00"), Decimal("32.00"), Decimal("8.0000"), None, None, 0)


def test_bad_filters_are_named_and_left_out_and_the_csv_refuses_them(labelled, staff_client):
    response = staff_client.get(f"{INDEX}?{RANGE}&label=nokey&team=not-a-uuid")
    errors = response.context["range_errors"]
    assert sorted(errors) == ["label", "team"]
    assert "key=value" in errors["label"][0]
    assert response.context["dashboard"]["kpis"]["spend"] == Decimal("50.00")  # nothing narrowed
    unknown = staff_client.get(f"{INDEX}?{RANGE}&label=colour%3Dred")
    assert "unknown label key 'colour'" in unknown.context["range_errors"]["label"][0]
    export = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + f"?{RANGE}&label=nokey")
    assert export.status_code == 400
    assert export.content.decode().startswith("field,message\nlabel,")
    assert "write a label filter as key=value" in export.content.decode()


def test_filtered_dashboard_query_count_is_bounded(labelled, staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(45):
        staff_client.get(f"{INDEX}?{RANGE}&label=project%3Dalpha&model=llama&provider=aws&gpu_type=H100")


def test_a_member_filters_within_their_teams_and_never_onto_another(labelled, client):
    client.force_login(labelled["users"]["bob"])  # nlp member
    vision = labelled["teams"]["vision"]
    foreign = client.get(f"/?{RANGE}&team={vision.pk}")
    assert foreign.context["range_errors"] == {"team": [f"Unknown team {vision.pk}."]}
    assert [(r["key"], r["allocated_usd"]) for r in foreign.context["level"].rows] == [("nlp", Decimal("32.00"))]
    assert "vision" not in foreign.content.decode()
    assert client.get(f"/?format=csv&{RANGE}&team={vision.pk}").status_code == 400
    assert foreign.context["filter_teams"] == [(str(labelled["teams"]["nlp"].pk), "nlp")]
    other_model = client.get(f"/?{RANGE}&model=vit")
    assert other_model.context["level"].rows == []
    assert other_model.context["card"]["allocated_usd"] == Decimal("0.00")


def test_the_member_home_csv_and_chart_follow_the_filters(labelled):
    client = Client()
    client.force_login(labelled["users"]["carol"])  # vision manager
    rows = _csv(client.get(f"/?format=csv&{RANGE}&label=project%3D(unlabelled)&gpu_type=H100"))
    assert [row[:5] for row in rows] == [
        ["team", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours"],
        ["vision", "2.0000", "8.00", "8.00", "0.0000"],
    ]
    page = client.get(f"/?{RANGE}&gpu_type=A100")
    assert page.context["card"]["allocated_usd"] == Decimal("0.00")
    assert page.context["charts"]["team_daily"] == {"labels": ["2025-03-10"], "data": [0.0]}
    assert 'href="?format=csv&amp;start=2025-03-10&amp;end=2025-03-11&amp;gpu_type=A100"' in page.content.decode()


def test_spend_summary_filters_on_each_rollup(labelled):
    def totals(**filters):
        report = spend_summary(start=DAY, end=NEXT, group_by=["team"], kind="all", filters=SpendFilter(**filters))
        return {row["team"]: row["total_usd"] for row in report.rows}, report.totals["billed_usd"]

    assert totals(gpu_type="H100") == ({"nlp": Decimal("32.00"), "vision": Decimal("8.00"),
                                        "(idle)": Decimal("10.00")}, Decimal("50.00"))  # fmt: skip
    assert totals(gpu_type="A100") == ({}, None)
    assert totals(provider="openai") == ({"vision": Decimal("2.50")}, None)
    # A label with a model: the job slices answer.
    assert totals(model="llama", label=("project", "alpha")) == ({"nlp": Decimal("32.00")}, None)
    assert totals(model="vit", label=("project", "alpha")) == ({}, None)
    by_label = spend_summary(start=DAY, end=NEXT, group_by=["label:project"], filters=SpendFilter(model="vit"))
    assert [(r["label:project"], r["allocated_usd"]) for r in by_label.rows] == [("(unlabelled)", Decimal("8.00"))]


def test_the_api_summary_and_timeseries_take_the_same_filters(labelled, api):
    client = api.as_user(labelled["users"]["staff"])
    summary = client.get(f"/api/v1/costs/summary?{RANGE}&kind=all&model=llama&label=project%3Dalpha")
    assert summary.status_code == 200, summary.content
    body = summary.json()
    assert [(row["team"], row["total_usd"]) for row in body["rows"]] == [("nlp", "32.00")]
    assert (body["totals"]["billed_usd"], body["totals"]["idle_usd"]) == (None, None)
    series = client.get(f"/api/v1/costs/timeseries?{RANGE}&group_by=provider&provider=aws")
    assert [(s["group"], s["points"][0]["allocated_usd"]) for s in series.json()["series"]] == [
        ({"provider": "aws"}, "40.00")]  # fmt: skip
    bad = client.get(f"/api/v1/costs/summary?{RANGE}&label=project")
    assert (bad.status_code, list(bad.json())) == (400, ["label"])


def test_a_member_cannot_filter_the_api_onto_another_team(labelled, api):
    client = api.as_user(labelled["users"]["bob"])
    vision = labelled["teams"]["vision"]
    response = client.get(f"/api/v1/costs/summary?{RANGE}&team={vision.pk}")
    assert response.status_code == 400
    assert response.json() == {"team": [f"Unknown team {vision.pk}."]}
    own = client.get(f"/api/v1/costs/summary?{RANGE}&team={labelled['teams']['nlp'].pk}")
    assert [(row["team"], row["allocated_usd"]) for row in own.json()["rows"]] == [("nlp", "32.00")]
