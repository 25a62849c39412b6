"""Teams over the API, API tokens, the schema and docs, throttling, and no 5xx on random input."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from rest_framework.test import APIClient

from heliox.testing import PERMISSION_QUERIES, THROTTLE_QUERIES, fresh


def test_member_lists_their_teams_with_members(org, api):
    body = api.as_user(org["users"]["bob"]).get("/api/v1/teams/").json()
    assert [(team["name"], team["members"]) for team in body["results"]] == [
        ("nlp", [{"username": "alice", "role": "manager"}, {"username": "bob", "role": "member"}])
    ]


def test_only_staff_create_teams(org, api):
    assert api.as_user(org["users"]["alice"]).post("/api/v1/teams/", {"name": "x"}, format="json").status_code == 403
    response = api.as_user(org["users"]["staff"]).post("/api/v1/teams/", {"name": "nlp"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize(
    ("name", "code"), [("a\x0cb", "000C"), ("nlp\x01", "0001"), ("x\x7fy", "007F"), ("t\tab", "0009")]
)
def test_a_team_name_with_a_control_character_is_a_400_naming_it(org, api, name, code):
    staff, team = api.as_user(org["users"]["staff"]), org["teams"]["nlp"]
    for response in (staff.post("/api/v1/teams/", {"name": name}, format="json"),
                     staff.patch(f"/api/v1/teams/{team.pk}/", {"name": name}, format="json")):  # fmt: skip
        assert response.status_code == 400
        assert response.json() == {"name": [f"contains a control character (U+{code})"]}
    team.refresh_from_db()
    assert team.name == "nlp"


def test_team_list_queries_do_not_grow_with_members(org, api, django_assert_max_num_queries):
    from teams.tests.factories import MembershipFactory

    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(4 + THROTTLE_QUERIES + PERMISSION_QUERIES) as few:
        staff.get("/api/v1/teams/")
    MembershipFactory.create_batch(10, team=org["teams"]["vision"])
    staff = api.as_user(fresh(org["users"]["staff"]))
    with django_assert_max_num_queries(4 + THROTTLE_QUERIES + PERMISSION_QUERIES) as many:
        staff.get("/api/v1/teams/")
    assert len(few) == len(many)


def token_for(username: str, *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", username, *extra, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_api_token_authenticates_and_is_stored_hashed(org):
    token = token_for("bob", "--expires", "30")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.get("/api/v1/jobs/").status_code == 200
    stored = AuthToken.objects.get(user=org["users"]["bob"])
    assert token not in (stored.digest, stored.token_key)
    assert timedelta(days=29) < stored.expiry - timezone.now() <= timedelta(days=30)


def test_expired_and_revoked_tokens_are_refused(org):
    token = token_for("bob")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/jobs/").status_code == 401

    token = token_for("bob")
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/jobs/").status_code == 401


def test_create_api_token_refuses_unknown_users(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


@pytest.mark.parametrize("days", ["-1", "3651", "99999999"])
def test_create_api_token_refuses_an_expiry_out_of_bounds(org, days):
    # Past 3,650 days the expiry would overflow a datetime for large values: refused, not a traceback.
    with pytest.raises(CommandError, match=f"--expires must be 0 \\(never\\) or 1 to 3650 days, got {days}"):
        call_command("create_api_token", "bob", "--expires", days)
    assert not AuthToken.objects.exists()


def test_schema_and_docs_are_served_without_a_cdn(db, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/costs/summary" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn." not in docs
    assert "/static/drf_spectacular_sidecar/" in docs


@pytest.mark.parametrize(("scope", "who", "url"), [("anon", None, "/api/schema/"), ("user", "bob", "/api/v1/jobs/")])
def test_requests_past_the_rate_are_throttled(org, api, monkeypatch, scope, who, url):
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

    throttle = AnonRateThrottle if scope == "anon" else UserRateThrottle
    monkeypatch.setattr(throttle, "THROTTLE_RATES", {**throttle.THROTTLE_RATES, scope: "2/minute"})
    cache.clear()
    client = api.as_user(org["users"][who]) if who else APIClient()
    codes = [client.get(url).status_code for _ in range(3)]
    cache.clear()
    assert codes == [200, 200, 429]


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
dates = st.one_of(st.dates().map(str), text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(["costs/summary", "costs/timeseries", "allocation"]),
    params=st.fixed_dictionaries(
        {},
        optional={
            "start": dates,
            "end": dates,
            "group_by": st.one_of(text, st.sampled_from(["team,model_name", "provider,gpu_type,team"])),
            "interval": st.one_of(text, st.sampled_from(["day", "week", "month"])),
            "idle": st.one_of(text, st.sampled_from(["separate", "share"])),
            "format": st.sampled_from(["json", "csv"]),
        },
    ),
)
def test_random_aggregate_parameters_never_cause_a_5xx(org, api, endpoint, params):
    response = api.as_user(org["users"]["staff"]).get(f"/api/v1/{endpoint}", params)
    assert response.status_code in (200, 400, 404), (params, response.status_code)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "team": st.one_of(text, st.uuids().map(str)),
            "provider": st.one_of(text, st.sampled_from(["aws", "gcp"])),
            "gpu_type": text,
            "gpu_count": st.one_of(st.integers(-5, 10**12), text),
            "start_time": st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), text),
            "end_time": st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), text, st.none()),
            "status": text,
            "external_id": st.one_of(text, st.none()),
            "metadata": st.one_of(st.dictionaries(text, text, max_size=2), text),
        },
    )
)
def test_random_job_bodies_never_cause_a_5xx(org, api, body):
    response = api.as_user(org["users"]["alice"]).post("/api/v1/jobs/", body, format="json")
    assert response.status_code in (201, 400), (body, response.status_code, response.content[:200])


def test_token_admin_never_shows_the_token_or_its_key(org, staff_client):
    token = token_for("bob")
    stored = AuthToken.objects.get()
    pages = [staff_client.get("/admin/knox/authtoken/").content.decode(),
             staff_client.get(f"/admin/knox/authtoken/{stored.pk}/change/").content.decode()]  # fmt: skip
    for page in pages:
        assert "bob" in page
        assert token not in page
        assert stored.token_key not in page  # (the row id is the token's one-way SHA-512 digest)


numbers = st.one_of(st.integers(-(10**15), 10**15), st.decimals(allow_nan=True, allow_infinity=True).map(str), text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(["prices", "instance-types", "cost-snapshots", "budgets", "teams"]),
    body=st.fixed_dictionaries(
        {},
        optional={
            "team": st.one_of(text, st.uuids().map(str)),
            "provider": st.one_of(text, st.just("aws")),
            "gpu_type": st.one_of(text, st.just("H100")),
            "name": text,
            "gpu_count": numbers,
            "usd_per_gpu_hour": numbers,
            "cost_usd": numbers,
            "gpu_hours": numbers,
            "amount_usd": numbers,
            "run_rate_days": numbers,
            "date": st.one_of(st.dates().map(str), text),
            "effective_from": st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), text),
            "thresholds": st.one_of(st.lists(numbers, max_size=3), text),
            "emails": st.one_of(st.lists(text, max_size=2), text),
            "webhook_urls": st.one_of(st.lists(text, max_size=2), text),
        },
    ),
)
def test_random_bodies_on_every_writable_endpoint_never_cause_a_5xx(org, api, endpoint, body):
    response = api.as_user(org["users"]["staff"]).post(f"/api/v1/{endpoint}/", body, format="json")
    assert response.status_code in (201, 400), (endpoint, body, response.status_code, response.content[:300])
