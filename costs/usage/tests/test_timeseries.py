"""costs/timeseries zero-fills periods x groups: past a bound it is a 400 that says how to narrow it."""

from datetime import date

import pytest

from costs.usage.api import views
from costs.usage.tests.factories import UsageSnapshotFactory
from teams.tests.factories import TeamFactory, UserFactory

URL = "/api/v1/costs/timeseries?start=2025-03-09&end=2025-03-12&interval=day&group_by=team"


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_a_series_at_the_limit_is_answered(org, api, superuser, monkeypatch):
    # 3 days x 3 groups (nlp, vision, and the bill's idle part) = 9 points.
    monkeypatch.setattr(views, "MAX_TIMESERIES_POINTS", 9)
    body = api.as_user(superuser).get(URL).json()
    assert sorted(series["group"]["team"] for series in body["series"]) == ["(idle)", "nlp", "vision"]
    assert sum(len(series["points"]) for series in body["series"]) == 9


def test_one_point_over_the_limit_is_a_400_that_says_how_to_narrow(org, api, superuser, monkeypatch):
    monkeypatch.setattr(views, "MAX_TIMESERIES_POINTS", 8)
    response = api.as_user(superuser).get(URL)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This time series would have 9 points (3 days x 3 groups); the limit is 8. Narrow it: a shorter "
        "range (start, end), a longer interval (week or month), or fewer group_by fields."
    }


def test_a_far_too_large_series_is_refused_after_one_count(org, api, superuser, monkeypatch,
                                                          django_assert_max_num_queries):  # fmt: skip
    # The teams with usage (2) x 3 days = 6 > 5: refused before the rollups are summed.
    monkeypatch.setattr(views, "MAX_TIMESERIES_POINTS", 5)
    client = api.as_user(superuser)
    with django_assert_max_num_queries(1 + 6) as queries:  # the COUNT, and the throttle's cache
        response = client.get(URL)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("This time series would have 6 points (3 days x 2 groups)")
    assert next(q["sql"] for q in queries.captured_queries if "costs_usagesnapshot" in q["sql"]).startswith(
        "SELECT COUNT(*)"
    )


def test_three_years_of_days_by_nineteen_groups_is_over_the_default_limit(db, api, superuser):
    assert views.MAX_TIMESERIES_POINTS == 20_000
    for n in range(19):
        UsageSnapshotFactory(team=TeamFactory(name=f"team-{n:02}"), date=date(2024, 6, 1))
    client = api.as_user(superuser)
    query = "start=2023-03-01&end=2026-02-28&interval=day&group_by=team,provider,gpu_type"
    response = client.get(f"/api/v1/costs/timeseries?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "This time series would have 20,805 points (1,095 days x 19 groups); the limit is 20,000."
    )
    # Weekly, the same groups fit: 157 weeks x 19 groups.
    weekly = client.get(f"/api/v1/costs/timeseries?{query.replace('interval=day', 'interval=week')}")
    assert weekly.status_code == 200
    assert sum(len(series["points"]) for series in weekly.json()["series"]) == 157 * 19
