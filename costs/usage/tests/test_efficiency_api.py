"""Efficiency and waste in costs/summary, costs/timeseries, top jobs and `manage.py report`, with their CSVs."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.selectors.efficiency import efficiency_pct
from costs.usage.selectors.spend import spend_summary
from costs.usage.services.rollup import usage_rollup
from costs.usage.tests.test_efficiency import measured_jobs
from costs.usage.tests.test_job_costs import D10, D11, D12, NOW, at
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

RANGE = "start=2025-03-10&end=2025-03-12"


@pytest.fixture
def two_teams(db):
    return two_teams_rolled_up()


def two_teams_rolled_up():
    """vision: 40 GPU-h at 20 % ($100.00, $80.00 wasted) + 4 unmeasured GPU-h ($10.00), on the 10th.
    speech: a 2 x A100 job at 65.5 % across midnight, 3 GPU-h on each day at $1.00."""
    GpuPriceFactory(gpu_type="A100", usd_per_gpu_hour=Decimal("1.0000"))
    JobFactory(team=TeamFactory(name="speech"), model_name="whisper", gpu_type="A100", gpu_count=2,
               start_time=at(D10, 22, 30), end_time=at(D11, 1, 30), gpu_util_avg=Decimal("65.50"),
               labels={"project": "borealis"})  # fmt: skip
    jobs = measured_jobs()
    usage_rollup(start=D10, end=D12, now=NOW)
    return jobs


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "x")


def test_efficiency_counts_measured_hours_only_and_is_unknown_without_any():
    assert efficiency_pct(used_gpu_hours=Decimal(8), measured_gpu_hours=Decimal(40)) == Decimal("20.0")
    assert efficiency_pct(used_gpu_hours=Decimal(0), measured_gpu_hours=Decimal(40)) == Decimal("0.0")  # measured idle
    assert efficiency_pct(used_gpu_hours=Decimal(0), measured_gpu_hours=Decimal(0)) is None  # unknown, not 0 %
    assert efficiency_pct(used_gpu_hours=None, measured_gpu_hours=Decimal(0)) is None


def test_summary_by_team_has_efficiency_waste_and_unmeasured_hours(two_teams, api, staff):
    body = api.as_user(staff).get(f"/api/v1/costs/summary?{RANGE}&group_by=team").json()

    rows = {row["team"]: row for row in body["rows"]}
    figures = ("gpu_hours", "used_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct", "estimated_usd", "waste_usd")
    assert [rows["vision"][name] for name in figures] == ["44.0000", "8.0000", "4.0000", "20.0", "110.00", "80.00"]
    # 6 GPU-h x 65.5 % = 3.93 used; $3.00 x 34.5 % = $1.035 wasted each day, stored as $1.04: $2.08.
    assert [rows["speech"][name] for name in figures] == ["6.0000", "3.9300", "0.0000", "65.5", "6.00", "2.08"]
    # 11.93 used of 46 measured GPU-hours: 25.93... %.
    assert [body["totals"][name] for name in figures] == ["50.0000", "11.9300", "4.0000", "25.9", "116.00", "82.08"]


@pytest.mark.parametrize(
    ("group_by", "key", "expected"),
    [
        ("model_name", "llama-3-8b", ["44.0000", "8.0000", "4.0000", "20.0", "80.00"]),
        ("provider,gpu_type", "A100", ["6.0000", "3.9300", "0.0000", "65.5", "2.08"]),
        ("label:project", "atlas", ["40.0000", "8.0000", "0.0000", "20.0", "80.00"]),
        ("label:project", "(unlabelled)", ["4.0000", None, "4.0000", None, None]),  # unmeasured: unknown, not 0
        ("label:project,model_name", "borealis", ["6.0000", "3.9300", "0.0000", "65.5", "2.08"]),
    ],
)
def test_every_group_by_carries_efficiency_and_waste(two_teams, api, staff, group_by, key, expected):
    body = api.as_user(staff).get(f"/api/v1/costs/summary?{RANGE}&group_by={group_by}").json()

    row = next(row for row in body["rows"] if key in row.values())
    assert [row[n] for n in ("gpu_hours", "used_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct",
                             "waste_usd")] == expected  # fmt: skip


def test_timeseries_points_add_up_to_the_summary(two_teams, api, staff):
    body = api.as_user(staff).get(f"/api/v1/costs/timeseries?{RANGE}&group_by=team&interval=day").json()

    speech = next(series for series in body["series"] if series["group"] == {"team": "speech"})
    assert [(p["used_gpu_hours"], p["waste_usd"], p["efficiency_pct"]) for p in speech["points"]] == [
        ("1.9650", "1.04", "65.5"), ("1.9650", "1.04", "65.5")]  # fmt: skip
    vision = next(series for series in body["series"] if series["group"] == {"team": "vision"})
    assert vision["points"][1]["efficiency_pct"] is None  # nothing ran on the 11th: unknown, not 0 %
    # Each day's row is rounded when stored ($1.035 -> $1.04); the range is the sum of the rows.
    assert body["totals"]["waste_usd"] == "82.08"


def test_summary_and_timeseries_csvs_have_the_columns(two_teams, api, staff):
    summary = api.as_user(staff).get(f"/api/v1/costs/summary?{RANGE}&group_by=team&format=csv")
    rows = list(csv.DictReader(io.StringIO(summary.content.decode())))
    assert [(r["team"], r["efficiency_pct"], r["waste_usd"], r["unmeasured_gpu_hours"]) for r in rows] == [
        ("vision", "20.0", "80.00", "4.0000"), ("speech", "65.5", "2.08", "0.0000"),
        ("TOTAL", "25.9", "82.08", "4.0000"),
    ]  # fmt: skip
    series = api.as_user(staff).get(f"/api/v1/costs/timeseries?{RANGE}&group_by=team&format=csv")
    points = list(csv.DictReader(io.StringIO(series.content.decode())))
    assert [(p["team"], p["period"], p["efficiency_pct"], p["waste_usd"]) for p in points] == [
        ("speech", "2025-03-10", "65.5", "1.04"), ("speech", "2025-03-11", "65.5", "1.04"),
        ("vision", "2025-03-10", "20.0", "80.00"), ("vision", "2025-03-11", "", ""),  # nothing ran: unknown
    ]  # fmt: skip


def test_report_prints_efficiency_and_waste(two_teams, capsys):
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-12", "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["team"], r["used_gpu_hours"], r["efficiency_pct"], r["waste_usd"]) for r in rows] == [
        ("vision", "8.0000", "20.0", "80.00"), ("speech", "3.9300", "65.5", "2.08"),
        ("TOTAL", "11.9300", "25.9", "82.08"),
    ]  # fmt: skip


def test_a_team_sees_its_own_efficiency(two_teams, api, django_user_model):
    from teams.models import Team

    member = django_user_model.objects.create_user("ana")
    Team.objects.get(name="speech").memberships.create(user=member)

    body = api.as_user(member).get(f"/api/v1/costs/summary?{RANGE}&group_by=team").json()

    assert [(r["team"], r["efficiency_pct"], r["waste_usd"]) for r in body["rows"]] == [("speech", "65.5", "2.08")]


def test_spend_summary_in_a_day_with_no_job_has_no_efficiency(db):
    GpuPriceFactory()
    JobFactory(start_time=at(D10, 1), end_time=at(D10, 1) + timedelta(hours=1), gpu_util_avg=Decimal("50"))
    usage_rollup(start=D10, end=D12, now=NOW)

    daily = spend_summary(start=D10, end=D12, group_by=(), interval="day")

    assert [(row["period"], row["efficiency_pct"]) for row in daily.rows] == [(D10, Decimal("50.0"))]
    assert spend_summary(start=D11, end=D12, group_by=()).totals["efficiency_pct"] is None


def test_top_jobs_by_waste_ranks_measured_jobs_only(two_teams, api, staff):
    body = api.as_user(staff).get(f"/api/v1/costs/top-jobs?{RANGE}&order=waste").json()

    assert body["order"] == "waste"
    assert [(j["team"], j["gpu_hours"], j["efficiency_pct"], j["waste_usd"]) for j in body["jobs"]] == [
        ("vision", "40.0000", "20.0", "80.00"), ("speech", "6.0000", "65.5", "2.08")]  # fmt: skip
    by_cost = api.as_user(staff).get(f"/api/v1/costs/top-jobs?{RANGE}").json()["jobs"]
    unmeasured = next(job for job in by_cost if job["gpu_count"] == 2 and job["team"] == "vision")
    assert (unmeasured["efficiency_pct"], unmeasured["waste_usd"], unmeasured["used_gpu_hours"]) == (None, None, None)
    assert unmeasured["unmeasured_gpu_hours"] == "4.0000"


def test_top_jobs_refuses_an_unknown_order_naming_it(db, api, staff):
    response = api.as_user(staff).get(f"/api/v1/costs/top-jobs?{RANGE}&order=colour")

    assert response.status_code == 400
    assert "order" in response.json()


def test_job_api_has_used_hours_and_waste_and_sorts_by_waste(two_teams, api, staff):
    busy, blind = two_teams

    body = api.as_user(staff).get("/api/v1/jobs/?ordering=-waste_usd").json()

    jobs = body["results"]
    assert [(j["id"], j["used_gpu_hours"], j["waste_usd"], j["gpu_util_avg"]) for j in jobs] == [
        (str(busy.pk), "8.0000", "80.00", "20.00"), (jobs[1]["id"], "3.9300", "2.08", "65.50"),
        (str(blind.pk), None, None, None)]  # fmt: skip
