"""Hostile input to the API is a 400 (or 413) naming the field, as JSON; never a 500."""

import base64
import json
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from costs.catalog.services.model_prices import model_prices_refresh
from costs.llm.models import LlmCall
from jobs.models import Job

NEW_JOB = {"provider": "lambda", "gpu_type": "H100", "gpu_count": 8, "start_time": "2025-03-11T08:00:00Z",
           "status": "running", "external_id": "sched-42"}  # fmt: skip


def llm_call(org, **fields) -> dict:
    return {"team": str(org["teams"]["nlp"].pk), "provider": "openai", "model": "gpt-4o", "input_tokens": 10,
            "output_tokens": 10, "created_at": "2025-03-10T12:00:00Z", **fields}  # fmt: skip


def post_raw(api, user, url: str, body: str):
    """POST a JSON text as it is (json.dumps would refuse some of these, and escape others)."""
    return api.as_user(user).generic("POST", url, body.encode("utf-8", "surrogatepass"),
                                     content_type="application/json")  # fmt: skip


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('{"model": "gpt\\u0000x"}', "model", "contains a NUL character"),
        ('{"metadata": {"k": "a\\u0000"}}', "metadata.k", "contains a NUL character"),
        ('{"metadata": {"a\\u0000": 1}}', "metadata.a\x00", "key contains a NUL character"),
        ('{"model": "\\ud800"}', "model", "contains a lone surrogate (not valid Unicode)"),
        ('{"metadata": {"k": ["ok", "\\udfff"]}}', "metadata.k[1]", "contains a lone surrogate (not valid Unicode)"),
        (json.dumps({"metadata": nested(40)}), "metadata" + ".a" * 31, "nested deeper than 32 levels"),
    ],
)
def test_json_that_no_column_can_hold_is_a_400_naming_the_field(org, api, body, field, message):
    for url, base in (
        ("/api/v1/llm-calls/", llm_call(org)),
        ("/api/v1/jobs/", {**NEW_JOB, "team": str(org["teams"]["nlp"].pk)}),
    ):
        merged = json.dumps(base)[:-1] + ", " + body[1:]  # the hostile key last, so that it wins
        response = post_raw(api, org["users"]["bob"], url, merged)
        assert (response.status_code, response["Content-Type"]) == (400, "application/json"), response.content
        assert response.json() == {field: [message]}
    assert LlmCall.objects.count() == 0
    assert Job.objects.count() == 2  # the org fixture's


def test_json_nested_past_the_interpreters_limit_is_a_400(org, api):
    response = post_raw(api, org["users"]["bob"], "/api/v1/llm-calls/", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"created_at": "0001-01-01T00:00:00+01:00"},
            "item 0, created_at: out of range (year 1 to 9999, in UTC) (got '0001-01-01T00:00:00+01:00')",
        ),
        (
            {"created_at": "9999-12-31T23:00:00-05:00"},
            "item 0, created_at: out of range (year 1 to 9999, in UTC) (got '9999-12-31T23:00:00-05:00')",
        ),
        (
            {"output_tokens": 2**62},
            "item 0, output_tokens: must be a whole number from 0 to 1,000,000,000,000 "
            "(or null) (got 4611686018427387904)",
        ),
        ({"input_tokens": 10**12, "model": "gpt-4o"}, None),  # the bound itself is fine
    ],
)
def test_llm_values_out_of_range_are_a_400_naming_the_field(org, api, fields, message):
    model_prices_refresh()
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", llm_call(org, **fields), format="json")
    if message is None:
        assert response.status_code == 201, response.json()
        return
    assert (response.status_code, response.json()) == (400, {"detail": message})


def test_a_call_whose_cost_does_not_fit_the_column_is_a_400(org, api):
    from costs.catalog.models import ModelPrice

    ModelPrice.objects.create(provider="acme", model="gold", input_usd_per_mtok="99999999.999999",
                              output_usd_per_mtok="99999999.999999", effective_from="2025-01-01T00:00:00Z")  # fmt: skip
    body = llm_call(org, provider="acme", model="gold", input_tokens=10**12, output_tokens=10**12)
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("item 0, output_tokens: the call would cost more than")


def test_the_llm_import_names_the_line_of_an_out_of_range_value(org, tmp_path):
    path = tmp_path / "calls.jsonl"
    lines = [llm_call(org), llm_call(org, created_at="0001-01-01T00:00:00+01:00")]
    path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"model": "\\u0000"}\n')
    with pytest.raises(CommandError, match=r"calls\.jsonl, line 2, column created_at: out of range"):
        call_command("import_llm_calls", str(path))
    path.write_text(json.dumps(llm_call(org)) + '\n{"team": "nlp", "model": "x\\u0000"}\n')
    with pytest.raises(CommandError, match=r"calls\.jsonl, line 2, column model: contains a NUL character"):
        call_command("import_llm_calls", str(path))
    assert LlmCall.objects.count() == 0


@pytest.mark.parametrize(
    "query",
    [
        "started_before=2720-03-11T08:49:08-17:35",  # PostgreSQL takes offsets up to 15:59 only
        "started_after=0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC
        "started_after=9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    ],
)
def test_a_date_time_filter_out_of_range_is_a_400_or_normalised(org, api, query):
    response = api.as_user(org["users"]["bob"]).get(f"/api/v1/jobs/?{query}")
    name = query.split("=")[0]
    if "2720" in query:  # a valid instant, far away: normalised to UTC, and nothing started after it
        assert (response.status_code, len(response.json()["results"])) == (200, 1)
    else:
        assert (response.status_code, list(response.json())) == (400, [name])


def test_integers_past_their_column_are_a_400_on_every_database(org, api):
    staff = api.as_user(org["users"]["staff"])
    body = {**NEW_JOB, "team": str(org["teams"]["nlp"].pk), "gpu_count": 2**31}
    response = staff.post("/api/v1/jobs/", body, format="json")
    assert (response.status_code, list(response.json())) == (400, ["gpu_count"])
    response = staff.post("/api/v1/instance-types/", {"provider": "aws", "name": "x", "gpu_type": "H100",
                                                       "gpu_count": 1, "vcpus": 2**40}, format="json")  # fmt: skip
    assert (response.status_code, list(response.json())) == (400, ["vcpus"])


def test_an_oversized_body_is_a_413_in_json(org, api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps([llm_call(org, session_id="x" * 100)] * 100)
    response = post_raw(api, org["users"]["bob"], "/api/v1/llm-calls/", body)
    assert (response.status_code, response["Content-Type"]) == (413, "application/json")
    assert response.json() == {"detail": "The request body is larger than 10,000 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)."}


def test_an_oversized_form_is_a_413_in_json_too(org, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    client = Client()
    client.force_login(org["users"]["bob"])
    response = client.post("/api/v1/jobs/", {"model_name": "x" * 5000})
    assert response.status_code in (413, 415)
    assert response["Content-Type"] == "application/json"


def test_only_json_bodies_are_taken(org, api):
    response = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", {"model_name": "x"})  # multipart
    assert (response.status_code, response["Content-Type"]) == (415, "application/json")


def test_an_api_path_no_endpoint_serves_is_a_json_404(org, api):
    bob = api.as_user(org["users"]["bob"])
    for url in ("/api/v1/jobs/0.5/finish/", "/api/v1/teams/null,null/spend", "/api/v1/nothing/"):
        response = bob.post(url, {}, format="json") if "finish" in url else bob.get(url)
        assert (response.status_code, response["Content-Type"], response.json()) == (
            404, "application/json", {"detail": "Not found."},
        )  # fmt: skip
    response = bob.get("/api/v1/jobs?status=running")
    assert (response.status_code, response["Location"]) == (301, "/api/v1/jobs/?status=running")


CURSOR_REFUSED = {"cursor": ["Not a cursor of this list: follow the `next` or `previous` link as given."]}


@pytest.mark.parametrize("position", ["2026", "x", "9999-12-31T23:59:59-17:35", "2025-13-01T00:00:00Z"])
@pytest.mark.parametrize("url", ["/api/v1/jobs/", "/api/v1/llm-calls/"])
def test_a_forged_cursor_is_a_400_naming_cursor(org, api, url, position):
    """A cursor is base64 of its query string; a position that is no date-time was a 500 (ValidationError)."""
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    response = api.as_user(org["users"]["bob"]).get(url, {"cursor": cursor})
    assert (response.status_code, response.json()) == (400, CURSOR_REFUSED)


@pytest.mark.parametrize("cursor", ["abc", "a", base64.b64encode(b"o=-1").decode()])
def test_a_cursor_that_is_not_one_is_a_400_naming_cursor_not_a_404(org, api, cursor):
    """DRF answered 404 {"detail": "Invalid cursor"}: as if the list were not there."""
    response = api.as_user(org["users"]["bob"]).get("/api/v1/jobs/", {"cursor": cursor})
    assert (response.status_code, response.json()) == (400, CURSOR_REFUSED)
