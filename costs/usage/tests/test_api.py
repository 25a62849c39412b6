"""Aggregates, catalog and snapshot endpoints; team isolation across every route."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from costs.billing.models import CostSnapshot
from costs.billing.tests.factories import CostSnapshotFactory
from heliox.testing import PERMISSION_QUERIES, THROTTLE_QUERIES, fresh

RANGE = "start=2025-03-10&end=2025-03-11"


def test_summary_by_team_has_exact_totals(org, api):
    body = api.as_user(org["users"]["staff"]).get(f"/api/v1/costs/summary?{RANGE}&group_by=team").json()

    # No job of this fixture is measured: every hour is unmeasured, efficiency, used GPU-hours and waste unknown
    # (null, never 0), in every row and the totals.
    unmeasured = {"used_gpu_hours": None, "measured_gpu_hours": "0.0000", "waste_usd": None,
                  "allocated_waste_usd": None, "efficiency_pct": None}  # fmt: skip
    assert body["rows"] == [
        {"team": "nlp", "gpu_hours": "8.0000", "unpriced_gpu_hours": "0.0000", "estimated_usd": "32.00",
         "allocated_usd": "32.00", "idle_usd": "0.00", "billed_usd": None, "unmeasured_gpu_hours": "8.0000",
         **unmeasured},
        {"team": "(idle)", "gpu_hours": "0.0000", "unpriced_gpu_hours": "0.0000", "estimated_usd": "0.00",
         "allocated_usd": "0.00", "idle_usd": "10.00", "billed_usd": None, "unmeasured_gpu_hours": "0.0000",
         **unmeasured},
        {"team": "vision", "gpu_hours": "2.0000", "unpriced_gpu_hours": "0.0000", "estimated_usd": "8.00",
         "allocated_usd": "8.00", "idle_usd": "0.00", "billed_usd": None, "unmeasured_gpu_hours": "2.0000",
         **unmeasured},
    ]  # fmt: skip
    assert body["totals"] == {"gpu_hours": "10.0000", "unpriced_gpu_hours": "0.0000", "estimated_usd": "40.00",
                              "allocated_usd": "40.00", "idle_usd": "10.00", "billed_usd": "50.00",
                              "unmeasured_gpu_hours": "10.0000", **unmeasured}  # fmt: skip


def test_summary_matches_manage_py_report(org, api, capsys):
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "provider,gpu_type",
                 "--format", "csv")  # fmt: skip
    report = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    response = api.as_user(org["users"]["staff"]).get(
        f"/api/v1/costs/summary?{RANGE}&group_by=provider,gpu_type&format=csv"
    )
    assert response["Content-Type"].startswith("text/csv")
    api_rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    columns = ["provider", "gpu_type", "gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd"]
    assert [[row[c] for c in columns] for row in api_rows] == [[row[c] for c in columns] for row in report]
    assert api_rows[-1]["provider"] == "TOTAL"


def test_member_sees_only_their_teams_money(org, api):
    body = api.as_user(org["users"]["bob"]).get(f"/api/v1/costs/summary?{RANGE}&group_by=team").json()
    assert [row["team"] for row in body["rows"]] == ["nlp"]
    assert body["totals"]["allocated_usd"] == "32.00"
    assert (body["totals"]["billed_usd"], body["totals"]["idle_usd"]) == (None, None)


def test_timeseries_has_a_point_per_period(org, api):
    body = (
        api.as_user(org["users"]["staff"])
        .get("/api/v1/costs/timeseries?start=2025-03-09&end=2025-03-12&interval=day&group_by=team")
        .json()
    )
    nlp = next(series for series in body["series"] if series["group"] == {"team": "nlp"})
    assert [(p["period"], p["allocated_usd"]) for p in nlp["points"]] == [
        ("2025-03-09", "0.00"),
        ("2025-03-10", "32.00"),
        ("2025-03-11", "0.00"),
    ]
    month = api.as_user(org["users"]["staff"]).get("/api/v1/costs/timeseries?start=2025-02-01&end=2025-04-01"
                                                   "&interval=month").json()  # fmt: skip
    assert [(p["period"], p["billed_usd"]) for p in month["series"][0]["points"]] == [
        ("2025-02-01", None),
        ("2025-03-01", "50.00"),
    ]


def test_timeseries_csv_is_flat(org, api):
    response = api.as_user(org["users"]["staff"]).get(f"/api/v1/costs/timeseries?{RANGE}&group_by=team&format=csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(row["team"], row["period"], row["allocated_usd"]) for row in rows} == {
        ("nlp", "2025-03-10", "32.00"),
        ("vision", "2025-03-10", "8.00"),
        ("(idle)", "2025-03-10", "0.00"),
    }


def test_csv_escapes_formulas(org, api):
    org["teams"]["nlp"].name = "=HYPERLINK(1)"
    org["teams"]["nlp"].save()
    response = api.as_user(org["users"]["staff"]).get(f"/api/v1/costs/summary?{RANGE}&format=csv")
    assert "'=HYPERLINK(1)" in response.content.decode()


@pytest.mark.parametrize("idle", ["separate", "share"])
def test_allocation_adds_up_to_the_bill(org, api, idle):
    CostSnapshotFactory(date=date(2025, 3, 10), provider="gcp", gpu_type="A100", cost_usd=Decimal("7.77"))
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    body = api.as_user(org["users"]["staff"]).get(f"/api/v1/allocation?{RANGE}&idle={idle}").json()

    for cell in body["cells"]:
        allocated = sum(Decimal(team["allocated_usd"]) for team in cell["teams"])
        assert allocated + Decimal(cell["idle_usd"]) == Decimal(cell["billed_usd"])
    aws = next(cell for cell in body["cells"] if cell["provider"] == "aws")
    expected = {"separate": ["32.00", "8.00"], "share": ["40.00", "10.00"]}[idle]
    assert [team["allocated_usd"] for team in aws["teams"]] == expected


def test_team_spend(org, api):
    nlp = org["teams"]["nlp"]
    body = api.as_user(org["users"]["bob"]).get(f"/api/v1/teams/{nlp.pk}/spend?{RANGE}").json()
    assert body["team"]["name"] == "nlp"
    assert body["totals"]["allocated_usd"] == "32.00"
    assert body["daily"] == [{"date": "2025-03-10", "gpu_hours": "8.0000", "unpriced_gpu_hours": "0.0000",
                              "estimated_usd": "32.00", "allocated_usd": "32.00"}]  # fmt: skip
    assert body["top_models"][0]["model_name"] == "llama"
    vision = org["teams"]["vision"]
    assert api.as_user(org["users"]["bob"]).get(f"/api/v1/teams/{vision.pk}/spend?{RANGE}").status_code == 404


def test_missing_range_defaults_to_the_current_month(org, api):
    body = api.as_user(org["users"]["staff"]).get("/api/v1/costs/summary").json()
    today = datetime.now(UTC).date()
    assert body["start"] == today.replace(day=1).isoformat()
    assert body["end"] > body["start"]


BAD_PARAMETERS = [
    ("start=2025-03-11&end=2025-03-10", "end"),
    ("start=2025-03-10&end=2025-03-10", "end"),
    ("start=2020-01-01&end=2025-01-01", "end"),
    ("start=10/03/2025", "start"),
    ("group_by=colour", "group_by"),
    ("interval=hour", "interval"),
    ("idle=ignore", "idle"),
]


@pytest.mark.parametrize(
    ("endpoint", "query", "field"),
    [
        (endpoint, query, field)
        for endpoint in ("costs/summary", "costs/timeseries", "allocation")
        for query, field in BAD_PARAMETERS
        if not (endpoint == "allocation" and field in ("group_by", "interval"))  # allocation takes neither
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(org, api, query, field, endpoint):
    response = api.as_user(org["users"]["staff"]).get(f"/api/v1/{endpoint}?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_aggregate_queries_do_not_grow_with_rows(org, api, django_assert_max_num_queries):
    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(5 + THROTTLE_QUERIES + PERMISSION_QUERIES) as before:
        staff.get(f"/api/v1/costs/summary?{RANGE}&group_by=team,model_name")
    for day in range(1, 28):
        CostSnapshotFactory(date=date(2025, 3, day) if day != 10 else date(2025, 2, 1), provider="gcp")
    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(5 + THROTTLE_QUERIES + PERMISSION_QUERIES) as after:
        staff.get(f"/api/v1/costs/summary?{RANGE}&group_by=team,model_name")
    assert len(before) == len(after)


def test_cost_snapshots_are_staff_only_and_writes_reallocate(org, api):
    assert api.as_user(org["users"]["alice"]).get("/api/v1/cost-snapshots/").json()["results"] == []
    staff = api.as_user(org["users"]["staff"])
    snapshot = CostSnapshot.objects.get()
    response = staff.patch(f"/api/v1/cost-snapshots/{snapshot.pk}/", {"cost_usd": "36.00"}, format="json")
    assert response.status_code == 200
    assert response.json()["idle_usd"] == "0.00"  # was 10.00 on a $50 bill; $40 used
    assert CostSnapshot.objects.get().idle_usd == Decimal("0.00")
    assert api.as_user(org["users"]["alice"]).post("/api/v1/cost-snapshots/", {}, format="json").status_code == 403


def test_catalog_is_readable_by_members_and_written_by_staff(org, api):
    alice = api.as_user(org["users"]["alice"])
    assert alice.get("/api/v1/prices/").json()["results"][0]["usd_per_gpu_hour"] == "4.0000"
    body = {"provider": "gcp", "gpu_type": "L4", "pricing": "on_demand", "usd_per_gpu_hour": "0.70",
            "effective_from": "2025-01-01T00:00:00Z"}  # fmt: skip
    assert alice.post("/api/v1/prices/", body, format="json").status_code == 403
    staff = api.as_user(org["users"]["staff"])
    assert staff.post("/api/v1/prices/", body, format="json").status_code == 201
    bad = {**body, "effective_to": "2024-01-01T00:00:00Z", "gpu_type": "T4"}
    assert "effective_to" in staff.post("/api/v1/prices/", bad, format="json").json()


def test_usage_snapshots_are_read_only_and_scoped(org, api):
    bob = api.as_user(org["users"]["bob"])
    rows = bob.get("/api/v1/usage-snapshots/").json()["results"]
    assert [(row["team_name"], row["allocated_usd"]) for row in rows] == [("nlp", "32.00")]
    assert bob.post("/api/v1/usage-snapshots/", {}, format="json").status_code == 405


def api_routes() -> list[str]:
    """Every GET route under /api/v1/, with ids filled in from the org fixture later."""
    resolver = get_resolver()
    api = next(p for p in resolver.url_patterns if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/")
    routes = []
    for pattern in api.url_patterns:
        route = str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLPattern) and "format" not in route and "auth/" not in route:
            routes.append(route)
    return sorted(set(routes))


def test_every_route_is_covered_below():
    assert len(api_routes()) >= 14


@pytest.mark.parametrize("route", api_routes())
def test_a_member_of_nlp_never_sees_vision_on_any_route(org, api, route):
    vision, nlp = org["teams"]["vision"], org["teams"]["nlp"]
    ids = {"pk": str(nlp.pk)}
    if "jobs" in route:
        ids["pk"] = str(org["jobs"]["llama"].pk)
    if "usage-snapshots" in route or "prices" in route or "instance-types" in route or "cost-snapshots" in route:
        ids["pk"] = "00000000-0000-0000-0000-000000000000"
    url = "/api/v1/" + route.replace("(?P<pk>[^/.]+)", ids["pk"]).replace("<uuid:pk>", ids["pk"])
    response = api.as_user(org["users"]["bob"]).get(url + ("&" if "?" in url else "?") + RANGE)
    assert response.status_code in (200, 404, 405), (url, response.status_code)  # 405: POST-only (finish)
    text = response.content.decode()
    for secret in ("vision", str(vision.pk), str(org["jobs"]["vit"].pk), "50.00", "10.00"):
        assert secret not in text, (url, secret)


@pytest.mark.parametrize("route", api_routes())
def test_every_route_refuses_anonymous_users(db, client, route):
    url = "/api/v1/" + route.replace("(?P<pk>[^/.]+)", "00000000-0000-0000-0000-000000000000").replace(
        "<uuid:pk>", "00000000-0000-0000-0000-000000000000"
    )
    assert client.get(url).status_code in (401, 403)


def test_a_csv_request_gets_its_errors_as_csv_rows(org, api):
    response = api.as_user(org["users"]["staff"]).get(
        "/api/v1/costs/summary?format=csv&start=2025-03-10&end=2025-03-01"
    )
    assert (response.status_code, response["Content-Type"]) == (400, "text/csv; charset=utf-8")
    assert response.content.decode() == "field,message\nend,Must be after start (2025-03-10); end is exclusive.\n"


def test_allocation_and_team_spend_as_csv_are_flat_rows(org, api):
    staff = api.as_user(org["users"]["staff"])
    body = staff.get("/api/v1/allocation?start=2025-03-10&end=2025-03-11&format=csv").content.decode()
    assert body.splitlines() == [
        "date,provider,gpu_type,billed_usd,team,gpu_hours,estimated_usd,allocated_usd",
        "2025-03-10,aws,H100,50.00,nlp,8.0000,32.00,32.00",
        "2025-03-10,aws,H100,50.00,vision,2.0000,8.00,8.00",
        "2025-03-10,aws,H100,50.00,(idle),,,10.00",
    ]
    nlp = org["teams"]["nlp"].pk
    body = staff.get(f"/api/v1/teams/{nlp}/spend?start=2025-03-10&end=2025-03-12&format=csv").content.decode()
    assert body.splitlines() == ["date,gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd",
                                 "2025-03-10,8.0000,0.0000,32.00,32.00",
                                 "2025-03-11,0.0000,0.0000,0.00,0.00"]  # fmt: skip
    body = staff.get("/api/v1/costs/timeseries?start=2024-01-01&end=2024-01-03&group_by=team&format=csv")
    assert (body.status_code, body.content.decode()) == (200, "team,period\n")


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("start=9999-12-15", ["start"]),
        ("end=0001-01-01", ["end"]),
        ("start=9999-12-27&end=9999-12-31", ["start", "end"]),
    ],
)
@pytest.mark.parametrize("path", ["costs/summary", "costs/timeseries", "allocation"])
def test_a_range_at_the_calendars_edge_is_a_400_naming_the_day(org, api, query, fields, path):
    """A start in December 9999 without an end, or an end of 0001-01-01 without a start, was a 500 (OverflowError);
    weeks at the end of 9999 were a 400 that blamed `currency`."""
    response = api.as_user(org["users"]["staff"]).get(f"/api/v1/{path}?{query}&interval=week")
    assert response.status_code == 400
    assert response.json() == {field: ["Must be a day of the years 1900 to 9998."] for field in fields}


def test_summary_names_the_providers_whose_bill_misses_some_days(org, api):
    """aws is billed on the 10th, not yet on the 11th (nlp ran on both): the summary says so, as the dashboard does;
    the on-prem cluster, never billed, is not listed (no bill at all); members and label filters get null (no bill
    shown to them)."""
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory

    day = datetime(2025, 3, 11, tzinfo=UTC)
    nlp = org["teams"]["nlp"]
    JobFactory(team=nlp, gpu_count=1, start_time=day.replace(hour=1), end_time=day.replace(hour=2), external_id="n2")
    JobFactory(team=nlp, provider="onprem", gpu_type="V100", start_time=day.replace(hour=1),
               end_time=day.replace(hour=2), external_id="n3")  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    staff = api.as_user(org["users"]["staff"])

    two_days = "/api/v1/costs/summary?start=2025-03-10&end=2025-03-12&group_by=provider"
    assert staff.get(two_days).json()["unbilled"] == [
        {"provider": "aws", "days": 1, "usage_days": 2, "first": "2025-03-11"}
    ]
    assert staff.get(f"/api/v1/costs/summary?{RANGE}").json()["unbilled"] == []  # the 10th alone is billed
    assert staff.get(two_days + "&model=llama").json()["unbilled"] is None
    assert staff.get(two_days + "&kind=llm").json()["unbilled"] is None
    assert api.as_user(org["users"]["bob"]).get(two_days).json()["unbilled"] is None


def test_a_view_that_hides_the_bill_has_no_idle_either(org, api):
    """Narrowed to a team or a model, or a member's own teams, the bill is not shown: idle is null in every row and
    point (an empty day's too), not 0.00, as in the totals."""
    staff = api.as_user(org["users"]["staff"])
    nlp = org["teams"]["nlp"].pk
    for query in (f"team={nlp}", "model=llama"):
        points = staff.get(f"/api/v1/costs/timeseries?start=2025-03-10&end=2025-03-12&{query}").json()
        assert [p["idle_usd"] for s in points["series"] for p in s["points"]] == [None, None]
        rows = staff.get(f"/api/v1/costs/summary?{RANGE}&group_by=team&{query}").json()["rows"]
        assert [(r["team"], r["idle_usd"], r["billed_usd"]) for r in rows] == [("nlp", None, None)]
    bob = api.as_user(org["users"]["bob"])
    assert [r["idle_usd"] for r in bob.get(f"/api/v1/costs/summary?{RANGE}").json()["rows"]] == [None]
    # Not narrowed: team rows carry none of the bill's idle (0.00), the "(idle)" row has it.
    rows = api.as_user(org["users"]["staff"]).get(f"/api/v1/costs/summary?{RANGE}&group_by=team").json()["rows"]
    assert [(r["team"], r["idle_usd"]) for r in rows] == [("nlp", "0.00"), ("(idle)", "10.00"), ("vision", "0.00")]
