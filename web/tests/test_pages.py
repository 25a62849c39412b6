"""What the member pages show: one's own teams' figures and nothing of another team's, the drill-down's
shares and changes, the CSV and chart data of each page."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from jobs.tests.factories import JobFactory
from web.tests.conftest import RANGE

HTML_RANGE = RANGE.replace("&", "&amp;")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_a_members_home_shows_their_team_and_not_another(org, as_role):
    response = as_role("member").get(f"/?{RANGE}")
    rows = response.context["level"].rows
    assert [
        (r["key"], r["gpu_hours"], r["estimated_usd"], r["allocated_usd"], r["share_pct"], r["change_pct"])
        for r in rows
    ] == [("nlp", Decimal("8.0000"), Decimal("32.00"), Decimal("32.00"), Decimal("100.0"), None)]
    page = response.content.decode()
    assert f'href="/teams/{org["teams"]["nlp"].pk}/?{HTML_RANGE}"' in page
    assert "USD 32.00" in page
    assert "vision" not in page
    assert f"/teams/{org['teams']['vision'].pk}/" not in page


def test_the_superuser_home_is_the_organisation_with_each_teams_share(org, as_role):
    response = as_role("superuser").get(f"/?{RANGE}")
    rows = response.context["level"].rows
    assert [(r["key"], r["allocated_usd"], r["share_pct"]) for r in rows] == [
        ("nlp", Decimal("32.00"), Decimal("80.0")), ("vision", Decimal("8.00"), Decimal("20.0"))]  # fmt: skip
    assert response.context["card"]["allocated_usd"] == Decimal("40.00")
    assert "Organisation" in response.content.decode()


def test_change_against_the_previous_period_of_the_same_length(org, as_role):
    # A day earlier (2025-03-09) nlp ran 1 x H100 for 2 h: $8.00, then $32.00: +300.0 %.
    from datetime import date

    from costs.usage.services.rollup import usage_rollup

    JobFactory(team=org["teams"]["nlp"], model_name="llama", start_time=datetime(2025, 3, 9, 1, tzinfo=UTC))
    usage_rollup(start=date(2025, 3, 9), end=date(2025, 3, 10), now=datetime(2025, 3, 11, tzinfo=UTC))
    response = as_role("member").get(f"/?{RANGE}")
    row = response.context["level"].rows[0]
    assert (row["previous_allocated_usd"], row["change_pct"]) == (Decimal("8.00"), Decimal("300.0"))
    assert response.context["card"]["change_pct"] == Decimal("300.0")
    assert "+300.0 % vs previous 1 days" in response.content.decode()


def test_home_csv_and_chart_data_hold_only_ones_teams(org, as_role):
    client = as_role("member")
    rows = csv_rows(client.get(f"/?format=csv&{RANGE}"))
    assert rows == [
        ["team", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours",
         "measured_gpu_hours", "unmeasured_gpu_hours", "waste_usd", "allocated_waste_usd", "efficiency_pct",
         "previous_allocated_usd",
         "share_pct", "change_pct", "llm_usd", "llm_calls", "llm_unpriced_calls", "total_usd"],
        ["nlp", "8.0000", "32.00", "32.00", "0.0000", "", "0.0000", "8.0000", "", "", "", "0.00", "100.0", "",
         "0.00", "0", "0", "32.00"],
    ]  # fmt: skip
    charts = client.get(f"/?format=json&{RANGE}").json()
    assert charts["spend_by_team"] == {"labels": ["nlp"], "data": [32.0],
                                       "links": [f"/teams/{org['teams']['nlp'].pk}/?{RANGE}"]}  # fmt: skip
    assert charts["team_daily"] == {"labels": ["2025-03-10"], "data": [32.0]}


def test_the_daily_chart_leaves_days_still_to_come_as_gaps(org, as_role, monkeypatch):
    """The 10th cost $32, the 11th nothing (0), the 12th is tomorrow: a gap, not a day that cost $0."""
    from types import SimpleNamespace

    from costs.dashboard import member

    monkeypatch.setattr(member, "timezone", SimpleNamespace(now=lambda: datetime(2025, 3, 11, 15, tzinfo=UTC)))
    chart = as_role("member").get("/?format=json&start=2025-03-10&end=2025-03-13").json()["team_daily"]
    assert chart == {"labels": ["2025-03-10", "2025-03-11", "2025-03-12"], "data": [32.0, 0.0, None]}


def test_team_page_drills_to_its_models_with_the_range_kept(org, as_role):
    nlp = org["teams"]["nlp"]
    JobFactory(team=nlp, model_name="bert", start_time=datetime(2025, 3, 10, 5, tzinfo=UTC))  # 2 GPU-h, unrolled
    response = as_role("member").get(f"/teams/{nlp.pk}/?{RANGE}")
    assert response.context["card"]["share_pct"] == Decimal("100.0")
    rows = response.context["level"].rows
    assert [(r["key"], r["allocated_usd"], r["share_pct"], r["href"]) for r in rows] == [
        ("llama", Decimal("32.00"), Decimal("100.0"), f"/teams/{nlp.pk}/model/?model=llama&{RANGE}")]  # fmt: skip
    charts = as_role("member").get(f"/teams/{nlp.pk}/?format=json&{RANGE}").json()
    assert charts["spend_by_model"]["links"] == [f"/teams/{nlp.pk}/model/?model=llama&{RANGE}"]
    assert csv_rows(as_role("member").get(f"/teams/{nlp.pk}/?format=csv&{RANGE}"))[1][:4] == [
        "llama", "8.0000", "32.00", "32.00"]  # fmt: skip


def test_model_page_lists_the_jobs_that_ran_it_and_links_each(org, as_role):
    nlp, llama = org["teams"]["nlp"], org["jobs"]["llama"]
    JobFactory(team=nlp, model_name="llama", start_time=datetime(2025, 3, 12, tzinfo=UTC))  # after the range
    response = as_role("member").get(f"/teams/{nlp.pk}/model/?model=llama&{RANGE}")
    assert response.context["jobs"] == [llama]
    assert response.context["card"]["allocated_usd"] == Decimal("32.00")
    page = response.content.decode()
    assert f'href="/jobs/{llama.pk}/"' in page
    assert f'<a href="/teams/{nlp.pk}/?{HTML_RANGE}">nlp</a>' in page  # the breadcrumb back, range kept
    rows = csv_rows(as_role("member").get(f"/teams/{nlp.pk}/model/?model=llama&format=csv&{RANGE}"))
    assert [row[0] for row in rows[1:]] == [str(llama.pk)]
    assert rows[1][-1] == "8.0000"


def test_job_list_filters_sorts_pages_and_exports_only_ones_jobs(org, as_role):
    nlp = org["teams"]["nlp"]
    for hour in range(3):
        JobFactory(team=nlp, model_name="bert", gpu_count=hour + 1, start_time=datetime(2025, 3, 11, hour, tzinfo=UTC))
    client = as_role("member")
    page = client.get("/jobs/?sort=-gpus")
    assert [job.gpu_count for job in page.context["page"]] == [4, 3, 2, 1]
    assert "vit" not in page.content.decode()
    assert [job.model_name for job in client.get("/jobs/?model_name=bert&sort=gpus").context["page"]] == [
        "bert", "bert", "bert"]  # fmt: skip
    rows = csv_rows(client.get("/jobs/?model_name=llama&format=csv"))
    assert [row[1:3] for row in rows[1:]] == [["nlp", "llama"]]
    assert [row[1] for row in csv_rows(as_role("superuser").get("/jobs/?format=csv"))[1:]].count("vision") == 1


def test_job_list_pages(org, as_role, monkeypatch):
    monkeypatch.setattr("web.views.jobs.PAGE_SIZE", 2)
    for hour in range(3):
        JobFactory(team=org["teams"]["nlp"], start_time=datetime(2025, 3, 11, hour, tzinfo=UTC))
    client = as_role("member")
    first, last = client.get("/jobs/"), client.get("/jobs/?page=2")
    assert (first.context["page"].paginator.count, first.context["page"].paginator.num_pages) == (4, 2)
    assert len({*first.context["page"], *last.context["page"]}) == 4
    assert 'href="?page=2" rel="next"' in first.content.decode()


def test_budgets_page_shows_ones_teams_and_offers_edit_to_managers(org, budgets, as_role):
    member = as_role("member").get("/budgets/").content.decode()
    assert "500.00" in member
    assert "300.00" not in member
    assert f"/budgets/{budgets['nlp'].pk}/edit/" not in member
    manager = as_role("manager").get("/budgets/").content.decode()
    assert f"/budgets/{budgets['nlp'].pk}/edit/" in manager
    rows = csv_rows(as_role("member").get("/budgets/?format=csv"))
    assert [row[:3] for row in rows[1:]] == [["nlp", "monthly", "500.00"]]


def test_an_imported_job_has_no_history_and_its_page_says_so(org, as_role):
    from jobs.models import Job

    [job] = Job.objects.bulk_create([JobFactory.build(team=org["teams"]["nlp"], external_id="bulk-1")])
    response = as_role("member").get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    assert response.context["changes"] == []
    assert "No manual change" in response.content.decode()
