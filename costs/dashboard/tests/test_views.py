"""The admin dashboard and team page, rendered server-side."""

from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from costs.billing.tests.factories import CostSnapshotFactory
from costs.dashboard.views import dashboard_range

INDEX = reverse("admin:index")
RANGE = "?start=2025-03-10&end=2025-03-11"


def test_anonymous_users_are_sent_to_login(client, db):
    assert client.get(INDEX)["Location"].startswith("/admin/login/")


def test_dashboard_shows_the_exact_totals(org, staff_client):
    response = staff_client.get(INDEX + RANGE)

    assert response.status_code == 200
    kpis = response.context["dashboard"]["kpis"]
    assert (kpis["spend"], kpis["billed"], kpis["idle"], kpis["idle_share"], kpis["gpu_hours"]) == (
        Decimal("50.00"), Decimal("50.00"), Decimal("10.00"), Decimal("20.0"), Decimal("10.0000"),
    )  # fmt: skip
    page = response.content.decode()
    assert "USD 50.00" in page
    assert "20.0 % of the bill" in page
    assert 'data-chart="daily_by_provider"' in page
    assert "/static/heliox/vendor/chart-4.6.1.umd.min.js" in page
    charts = response.context["dashboard"]["charts"]
    assert charts["spend_by_team"] == {"labels": ["nlp", "vision"], "data": [32.0, 8.0]}
    assert charts["billed_vs_estimated"] == {"labels": ["aws"], "billed": [50.0], "estimated": [40.0],
                                             "no_bill": [False]}  # fmt: skip
    assert charts["idle_over_time"] == {"labels": ["2025-03-10"], "data": [10.0]}
    assert reverse("admin:jobs_job_changelist") in page  # the model list stays reachable


def test_dashboard_on_an_empty_database_explains_itself(staff_client):
    page = staff_client.get(INDEX).content.decode()
    assert 'id="hx-empty"' in page
    assert "<canvas" not in page
    assert "manage.py seed_demo" in page


def test_dashboard_query_count_is_bounded(org, staff_client, django_assert_max_num_queries):
    # Each grouping over the range and over the previous period (the changes), the top waste jobs, the days not
    # billed yet: a fixed count, whatever the data.
    CostSnapshotFactory(date=date(2025, 3, 9), provider="aws", gpu_type="A100")  # the previous day has a bill too
    with django_assert_max_num_queries(49) as before:
        staff_client.get(INDEX + RANGE)
    for day in range(1, 28):
        CostSnapshotFactory(date=date(2025, 3, day), provider="gcp", gpu_type="T4")  # more rows in both periods
    with django_assert_max_num_queries(49) as after:
        staff_client.get(INDEX + RANGE)
    assert len(before) == len(after)


def test_month_projection_follows_the_run_rate(org, staff_client):
    # Ten days into March 2025, $50 spent: projected 50 / 10 * 31 = 155.00
    now = datetime(2025, 3, 11, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=now):
        kpis = staff_client.get(INDEX).context["dashboard"]["kpis"]
    assert (kpis["month"]["spent"], kpis["month"]["projected"]) == (Decimal("50.00"), Decimal("155.00"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (date(2025, 3, 1), date(2025, 4, 1), "this-month")),
        ({"range": "last-month"}, (date(2025, 2, 1), date(2025, 3, 1), "last-month")),
        ({"range": "last-30"}, (date(2025, 2, 14), date(2025, 3, 16), "last-30")),
        ({"range": "last-90"}, (date(2024, 12, 16), date(2025, 3, 16), "last-90")),
        ({"start": "2025-01-05", "end": "2025-01-07"}, (date(2025, 1, 5), date(2025, 1, 7), "custom")),
    ],
)
def test_range_presets(rf, query, expected):
    start, end, preset, errors = dashboard_range(rf.get("/", query), date(2025, 3, 15))
    assert ((start, end, preset), errors) == (expected, {})


def test_a_bad_custom_range_falls_back_and_says_why(staff_client, db):
    page = staff_client.get(INDEX + "?start=2025-03-10&end=2025-03-01").content.decode()
    assert "Must be after start" in page


def test_team_page_shows_the_teams_figures(org, staff_client):
    nlp = org["teams"]["nlp"]
    response = staff_client.get(reverse("admin:team_dashboard", args=[nlp.pk]) + RANGE)
    assert response.status_code == 200
    data = response.context["data"]
    assert (data["totals"]["allocated_usd"], data["share_of_bill"]) == (Decimal("32.00"), Decimal("64.0"))
    assert [row["model_name"] for row in data["top_models"]] == ["llama"]
    assert [job.external_id for job in data["largest_jobs"]] == ["nlp-1"]
    assert "USD 32.00" in response.content.decode()
    assert [(row["provider"], row["allocated_usd"]) for row in data["providers"]] == [("aws", Decimal("32.00"))]
    assert (
        f"/api/v1/teams/{nlp.pk}/spend?format=csv&amp;start=2025-03-10&amp;end=2025-03-11" in response.content.decode()
    )
    assert (
        reverse("admin:team_dashboard", args=[nlp.pk])
        in staff_client.get(reverse("admin:teams_team_changelist")).content.decode()
    )


def test_dashboard_table_exports_are_csv_with_escaping(org, staff_client):
    org["teams"]["nlp"].name = "@SUM(A1)"
    org["teams"]["nlp"].save()
    response = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + RANGE)
    assert response["Content-Type"] == "text/csv"
    assert response.content.decode().splitlines() == [
        "team,gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,idle_usd,billed_usd,llm_usd,total_usd,"
        "used_gpu_hours,measured_gpu_hours,unmeasured_gpu_hours,efficiency_pct,waste_usd,allocated_waste_usd,"
        "previous_total_usd,change_pct",
        # No job here is measured: efficiency is empty (unknown), never 0. Nothing the day before: previous $0.00,
        # no change in % (none from 0); the idle row has no previous figure.
        "'@SUM(A1),8.0000,0.0000,32.00,32.00,0.00,,0.00,32.00,,0.0000,8.0000,,,,0.00,",
        "vision,2.0000,0.0000,8.00,8.00,0.00,,0.00,8.00,,0.0000,2.0000,,,,0.00,",
        "(idle),0.0000,0.0000,0.00,0.00,10.00,,0.00,10.00,,0.0000,0.0000,,,,,",
        "TOTAL,10.0000,0.0000,40.00,40.00,10.00,50.00,0.00,50.00,,0.0000,10.0000,,,,0.00,",
    ]


def test_every_dashboard_csv_adds_up_to_the_pages_totals(org, staff_client):
    """Teams (GPU + LLM, the idle row), providers and GPU types: the TOTAL row is the page's, and the rows sum to it."""
    import csv as csv_module

    from costs.llm.models import LlmUsageSnapshot

    LlmUsageSnapshot.objects.create(date=date(2025, 3, 10), team=org["teams"]["vision"], provider="openai",
                                    model="gpt-4o", calls=3, input_tokens=10, output_tokens=1,
                                    cost_usd=Decimal("2.50"))  # fmt: skip
    page = staff_client.get(INDEX + RANGE)
    tables = page.context["dashboard"]["tables"]
    for table, money in (("teams", "total_usd"), ("providers", "billed_usd"), ("gpu-types", "allocated_usd")):
        response = staff_client.get(reverse("admin:dashboard_export", args=[table]) + RANGE)
        rows = list(csv_module.DictReader(response.content.decode().splitlines()))
        total = rows.pop()
        assert total[money] == str(tables[table]["totals"][money])
        assert sum(Decimal(row[money] or "0") for row in rows) == Decimal(total[money])
    teams = tables["teams"]["totals"]
    assert (teams["allocated_usd"], teams["idle_usd"], teams["llm_usd"], teams["total_usd"]) == (
        Decimal("40.00"), Decimal("10.00"), Decimal("2.50"), Decimal("52.50"))  # fmt: skip
    html = page.content.decode()
    assert '<tfoot><tr><th scope="row">Total</th>' in html
    assert "(idle: billed, no job)" in html


def test_dashboard_csv_follows_the_pages_currency_and_refuses_a_bad_one(org, staff_client):
    from costs.usage.models import FxRate

    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 1))
    page = staff_client.get(INDEX + RANGE + "&currency=ZAR").content.decode()
    assert "/export/providers.csv?start=2025-03-10&amp;end=2025-03-11&amp;currency=ZAR" in page
    response = staff_client.get(reverse("admin:dashboard_export", args=["providers"]) + RANGE + "&currency=ZAR")
    assert response.content.decode().splitlines() == [
        "provider,gpu_hours,unpriced_gpu_hours,estimated_zar,allocated_zar,idle_zar,billed_zar,used_gpu_hours,"
        "measured_gpu_hours,unmeasured_gpu_hours,efficiency_pct,waste_zar,allocated_waste_zar,previous_spend_zar,"
        "change_pct",
        "aws,10.0000,0.0000,720.00,720.00,180.00,900.00,,0.0000,10.0000,,,,0.00,",
        "TOTAL,10.0000,0.0000,720.00,720.00,180.00,900.00,,0.0000,10.0000,,,,0.00,",
    ]
    bad = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + RANGE + "&currency=EUR")
    assert (bad.status_code, bad.content.decode()) == (
        400,
        "field,message\ncurrency,unknown currency 'EUR': set a rate first (manage.py set_fx_rate EUR RATE)\n",
    )


def test_job_changelist_export_respects_the_filters(org, staff_client):
    url = reverse("admin:jobs_job_export") + f"?team__id__exact={org['teams']['vision'].pk}"
    lines = b"".join(staff_client.get(url).streaming_content).decode().splitlines()
    assert lines[0] == (
        "id,team,model_name,provider,region,gpu_type,gpu_count,pricing,start_time,end_time,status,external_id,"
        "gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,labels,gpu_util_avg,gpu_mem_peak_gib,gpu_util_source"
    )
    assert len(lines) == 2
    assert ",vision,vit,aws,,H100,2,on_demand," in lines[1]
    assert lines[1].endswith(",vision-1,2.0000,0.0000,8.00,8.00,{},,,")  # totals; utilisation empty
    assert reverse("admin:jobs_job_export") in staff_client.get(reverse("admin:jobs_job_changelist")).content.decode()


def test_dashboard_and_team_page_show_llm_spend_beside_gpu_spend(org, staff_client):
    from costs.llm.models import LlmUsageSnapshot

    nlp = org["teams"]["nlp"]
    LlmUsageSnapshot.objects.create(date=date(2025, 3, 10), team=nlp, provider="openai", model="gpt-4o", calls=12,
                                    input_tokens=1000, output_tokens=100, cost_usd=Decimal("7.50"))  # fmt: skip
    response = staff_client.get(INDEX + RANGE)
    kpis = response.context["dashboard"]["kpis"]
    assert (kpis["llm"], kpis["llm_calls"], kpis["all"]) == (Decimal("7.50"), 12, Decimal("57.50"))
    assert 'id="hx-llm"' in response.content.decode()
    team = staff_client.get(reverse("admin:team_dashboard", args=[nlp.pk]) + RANGE)
    assert (team.context["data"]["llm_usd"], team.context["data"]["all_usd"]) == (Decimal("7.50"), Decimal("39.50"))


def test_dashboard_converts_to_another_currency_at_each_days_rate(org, staff_client):
    from costs.usage.models import FxRate

    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 1))
    response = staff_client.get(INDEX + RANGE + "&currency=ZAR")
    data = response.context["dashboard"]
    assert (data["currency"], data["kpis"]["spend"], data["kpis"]["idle"]) == ("ZAR", Decimal("900.00"),
                                                                               Decimal("180.00"))  # fmt: skip
    assert data["charts"]["spend_by_team"]["data"] == [576.0, 144.0]
    assert data["charts"]["idle_over_time"]["data"] == [180.0]
    page = response.content.decode()
    assert "ZAR 900.00" in page
    assert "1 USD = 18.0000 ZAR from 2025-03-01" in page


def test_dashboard_without_a_rate_says_so_and_shows_usd(org, staff_client):
    response = staff_client.get(INDEX + RANGE + "&currency=EUR")
    assert response.context["dashboard"]["currency"] == "USD"
    assert "unknown currency &#x27;EUR&#x27;" in response.content.decode()


def test_month_to_date_without_a_rate_for_the_whole_month_is_labelled_usd(org, staff_client):
    """The range has a ZAR rate, the month so far does not: the card shows USD and says so, never USD as ZAR."""
    from costs.usage.models import FxRate

    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 10))
    now = datetime(2025, 3, 11, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=now):
        response = staff_client.get(INDEX + RANGE + "&currency=ZAR")
    data = response.context["dashboard"]
    assert (data["currency"], data["kpis"]["spend"]) == ("ZAR", Decimal("900.00"))
    assert (data["kpis"]["month"]["currency"], data["kpis"]["month"]["spent"]) == ("USD", Decimal("50.00"))
    card = response.content.decode().split('data-kpi="month"')[1].split('data-kpi="gpu-hours"')[0]
    assert "USD 50.00" in card
    assert "ZAR 50.00" not in card
    assert "(no ZAR rate for the whole month)" in card


def test_team_page_shows_its_budget(org, staff_client):
    from costs.budgets.models import Budget

    nlp = org["teams"]["nlp"]
    Budget.objects.create(team=nlp, amount_usd=Decimal("25000.00"))
    Budget.objects.create(team=org["teams"]["vision"], amount_usd=Decimal("1.00"))
    response = staff_client.get(reverse("admin:team_dashboard", args=[nlp.pk]) + RANGE)
    assert [(b.budget.team.name, b.budget.amount_usd) for b in response.context["data"]["budgets"]] == [
        ("nlp", Decimal("25000.00"))
    ]
    assert 'id="hx-team-budget"' in response.content.decode()
    assert "25,000.00" in response.content.decode()


def test_the_view_lives_in_the_url_idle_shared_and_weekly_steps(org, staff_client):
    """Idle shared: the $50.00 bill split by GPU-hours (8 of 10 -> nlp $40.00); steps of a week; CSV the same."""
    query = "?start=2025-03-03&end=2025-03-17&idle=share&interval=week"
    response = staff_client.get(INDEX + query)
    data = response.context["dashboard"]
    assert (data["idle"], data["interval"]) == ("share", "week")
    assert [(row["team"], row["allocated_usd"]) for row in data["teams"]] == [
        ("nlp", Decimal("40.00")), ("vision", Decimal("10.00"))]  # fmt: skip
    assert data["tables"]["teams"]["idle"] is None  # nothing left apart
    assert data["charts"]["daily_by_provider"]["labels"] == ["2025-03-03", "2025-03-10"]
    assert data["charts"]["daily_by_provider"]["datasets"] == [{"label": "aws", "data": [0.0, 50.0]}]
    assert data["charts"]["idle_over_time"]["data"] == [None, 0.0]  # no bill the first week: a gap
    page = response.content.decode()
    assert "start=2025-03-03&amp;end=2025-03-17&amp;idle=share&amp;interval=week" in page  # the CSV links keep the view
    csv_lines = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + query).content.decode()
    assert [line.rsplit(",", 8)[0] for line in csv_lines.splitlines()[1:]] == [
        "nlp,8.0000,0.0000,32.00,40.00,0.00,,0.00,40.00",
        "vision,2.0000,0.0000,8.00,10.00,0.00,,0.00,10.00",
        "TOTAL,10.0000,0.0000,40.00,50.00,0.00,50.00,0.00,50.00",
    ]  # fmt: skip (efficiency columns: test_efficiency; previous period: test_dashboard_csvs_compare_...)
    bad = staff_client.get(INDEX + "?interval=fortnight").content.decode()
    assert "interval: &#x27;fortnight&#x27; is not one of day, week, month" in bad


def test_dashboard_csvs_compare_each_row_and_the_total_with_the_previous_period(org, staff_client):
    """The teams CSV carries the page's change column: nlp ran 1 x H100 for 2 h the day before ($8.00, billed $10.00:
    $2.00 idle), so its total went 8.00 -> 32.00 (+300 %); vision had nothing ($0.00, no change in %); the TOTAL row
    compares GPU + LLM spend, 10.00 -> 50.00 (+400 %)."""
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory

    day = datetime(2025, 3, 9, tzinfo=UTC)
    JobFactory(team=org["teams"]["nlp"], model_name="llama", gpu_count=1, start_time=day.replace(hour=1),
               end_time=day.replace(hour=3), external_id="nlp-0")  # fmt: skip
    CostSnapshotFactory(date=date(2025, 3, 9), cost_usd=Decimal("10.00"))
    usage_rollup(start=date(2025, 3, 9), end=date(2025, 3, 10), now=datetime(2025, 3, 11, tzinfo=UTC))

    lines = staff_client.get(reverse("admin:dashboard_export", args=["teams"]) + RANGE).content.decode().splitlines()
    assert lines[0].endswith(",total_usd,used_gpu_hours,measured_gpu_hours,unmeasured_gpu_hours,efficiency_pct,"
                             "waste_usd,allocated_waste_usd,previous_total_usd,change_pct")  # fmt: skip
    assert [(line.split(",")[0], *line.split(",")[-2:]) for line in lines[1:]] == [
        ("nlp", "8.00", "300.0"), ("vision", "0.00", ""), ("(idle)", "", ""), ("TOTAL", "10.00", "400.0")]  # fmt: skip
    providers = staff_client.get(reverse("admin:dashboard_export", args=["providers"]) + RANGE).content.decode()
    assert [line.split(",")[-2:] for line in providers.splitlines()[1:]] == [["10.00", "400.0"], ["10.00", "400.0"]]


def test_a_range_where_the_bill_has_not_arrived_for_every_day_says_so(org, staff_client):
    """aws is billed on the 10th, not yet on the 11th (nlp ran there too): the bill card and the aws row say that the
    bill covers 1 of 2 days; the on-prem cluster, never billed, is just "no bill yet"; a GPU type filter narrows it."""
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory

    day = datetime(2025, 3, 11, tzinfo=UTC)
    JobFactory(team=org["teams"]["nlp"], model_name="llama", gpu_count=1, start_time=day.replace(hour=1),
               end_time=day.replace(hour=2), external_id="nlp-2")  # fmt: skip
    JobFactory(team=org["teams"]["nlp"], provider="onprem", gpu_type="V100", start_time=day.replace(hour=1),
               end_time=day.replace(hour=2), external_id="nlp-3")  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))

    response = staff_client.get(INDEX + "?start=2025-03-10&end=2025-03-12")
    data = response.context["dashboard"]
    assert data["unbilled"] == {"aws": {"days": 1, "of": 2, "first": date(2025, 3, 11)}}
    assert [(row["provider"], row["unbilled"]) for row in data["tables"]["providers"]["rows"]] == [
        ("aws", {"days": 1, "of": 2, "first": date(2025, 3, 11)}), ("onprem", None)]  # fmt: skip
    page = response.content.decode()
    assert "no bill yet for aws on 1 of 2 days (from 2025-03-11): billed and idle are the billed days' only" in page
    assert "1 of 2 days not billed yet" in page
    assert staff_client.get(INDEX + RANGE).context["dashboard"]["unbilled"] == {}  # the 10th alone: billed
    narrowed = staff_client.get(INDEX + "?start=2025-03-10&end=2025-03-12&gpu_type=V100").context["dashboard"]
    assert narrowed["unbilled"] == {}  # no V100 bill at all: "no bill yet", not a partial one
