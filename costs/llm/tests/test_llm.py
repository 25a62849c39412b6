"""LLM API spend: per-token prices, the call log, batch ingest, rollup, kinds and currencies."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from costs.catalog.models import ModelPrice
from costs.catalog.services.model_prices import model_prices_refresh
from costs.llm.models import LlmCall, LlmUsageSnapshot
from costs.usage.models import FxRate
from costs.usage.selectors.fx import spend_summary_in
from costs.usage.selectors.spend import spend_summary
from costs.usage.services.rollup import usage_rollup
from heliox.testing import assert_rejected_by_database
from jobs.models import ImportRecord

T = datetime(2025, 3, 10, 12, tzinfo=UTC)


def call(team, **fields):
    return {"team": str(team.pk), "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
            "output_tokens": 100, "created_at": "2025-03-10T12:00:00Z", **fields}  # fmt: skip


@pytest.fixture
def catalog(db):
    model_prices_refresh()


def test_cost_is_exact_from_tokens_and_prices_including_cached_input(org, api, catalog):
    # gpt-4o: $2.50 in, $1.25 cached in, $10.00 out per 1M: 800k x 2.5 + 200k x 1.25 + 100k x 10 = $3.25
    body = call(org["teams"]["nlp"], input_tokens=1_000_000, cached_input_tokens=200_000, output_tokens=100_000)
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {"stored": 1, "unpriced": 0, "cost_usd": "3.25"}
    assert LlmCall.objects.get().cost_picousd == 3_250_000_000_000


def test_a_price_change_applies_by_call_time(org, api, db):
    ModelPrice.objects.create(provider="acme", model="m", input_usd_per_mtok=Decimal("1"), output_usd_per_mtok=0,
                              effective_from=datetime(2025, 1, 1, tzinfo=UTC), effective_to=T)  # fmt: skip
    ModelPrice.objects.create(provider="acme", model="m", input_usd_per_mtok=Decimal("3"), output_usd_per_mtok=0,
                              effective_from=T)  # fmt: skip
    nlp = org["teams"]["nlp"]
    before = call(nlp, provider="acme", model="m", input_tokens=1_000_000, created_at="2025-03-10T11:59:59Z")
    after = call(nlp, provider="acme", model="m", input_tokens=1_000_000, created_at="2025-03-10T12:00:00Z")

    api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", [before, after], format="json")

    costs = [c.cost_usd for c in LlmCall.objects.order_by("created_at")]
    assert costs == [Decimal(1), Decimal(3)]


def test_unknown_model_is_stored_unpriced_never_zero(org, api, catalog):
    body = call(org["teams"]["nlp"], provider="vllm", model="llama-3-8b-local")
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", body, format="json")
    assert response.json() == {"stored": 1, "unpriced": 1, "cost_usd": None}  # unknown, not "0"
    assert api.get("/api/v1/llm-calls/").json()["results"][0]["cost_usd"] is None
    assert LlmCall.objects.get().cost_picousd is None
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11))
    assert LlmUsageSnapshot.objects.values_list("calls", "unpriced_calls", "cost_usd").get() == (1, 1, Decimal("0"))
    report = spend_summary(start=date(2025, 3, 10), end=date(2025, 3, 11), group_by=["provider"], kind="llm")
    assert (report.totals["llm_calls"], report.totals["llm_unpriced_calls"]) == (1, 1)


def test_a_bad_item_rejects_the_whole_batch_naming_its_index(org, api, catalog):
    nlp = org["teams"]["nlp"]
    batch = [call(nlp), call(nlp), call(nlp, input_tokens=-5)]
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", batch, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "item 2, input_tokens: must be a whole number from 0 to 1,000,000,000,000 (or null) (got -5)"
    )
    assert LlmCall.objects.count() == 0


def test_batches_are_limited_to_1000(org, api, catalog):
    batch = [call(org["teams"]["nlp"])] * 1001
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", batch, format="json")
    assert (response.status_code, LlmCall.objects.count()) == (400, 0)


def test_a_repeated_idempotency_key_stores_the_batch_once(org, api, catalog):
    bob = api.as_user(org["users"]["bob"])
    batch = [call(org["teams"]["nlp"]), call(org["teams"]["nlp"])]
    first = bob.post("/api/v1/llm-calls/", batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    again = bob.post("/api/v1/llm-calls/", batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json() == {"stored": 2, "unpriced": 0, "cost_usd": "0.007"}  # 2 x $0.0035
    assert again["Idempotent-Replayed"] == "true"
    assert LlmCall.objects.count() == 2


def test_the_database_rejects_negative_tokens_and_latency(org):
    team = org["teams"]["nlp"]
    for field in ("input_tokens", "output_tokens", "cached_input_tokens", "latency_ms"):
        assert_rejected_by_database(
            lambda f=field: LlmCall.objects.create(team=team, provider="x", model="y", **{f: -1})
        )


def test_llm_calls_respect_team_scoping(org, api, catalog):
    vision = org["teams"]["vision"]
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", call(vision), format="json")
    assert response.status_code == 400
    assert "team" in response.json()["detail"]
    api.as_user(org["users"]["carol"]).post("/api/v1/llm-calls/", call(vision), format="json")
    assert api.as_user(org["users"]["bob"]).get("/api/v1/llm-calls/").json()["results"] == []
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11))
    body = (
        api.as_user(org["users"]["bob"])
        .get("/api/v1/costs/summary?start=2025-03-10&end=2025-03-11&kind=llm&group_by=team")
        .json()
    )
    assert body["rows"] == []


def test_gpu_and_llm_spend_side_by_side_and_together(org, api, catalog):
    nlp = org["teams"]["nlp"]
    api.as_user(org["users"]["bob"]).post(
        "/api/v1/llm-calls/", call(nlp, input_tokens=2_000_000, output_tokens=500_000), format="json"
    )  # $5 + $5 = $10
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))

    report = spend_summary(start=date(2025, 3, 10), end=date(2025, 3, 11), group_by=["team"], kind="all")
    nlp_row = next(row for row in report.rows if row["team"] == "nlp")
    assert (nlp_row["allocated_usd"], nlp_row["llm_usd"], nlp_row["total_usd"]) == (
        Decimal("32.00"), Decimal("10.00"), Decimal("42.00"),
    )  # fmt: skip
    assert (report.totals["llm_usd"], report.totals["total_usd"]) == (Decimal("10.00"), Decimal("60.00"))
    llm_only = spend_summary(start=date(2025, 3, 10), end=date(2025, 3, 11), group_by=["model_name"], kind="llm")
    assert [(r["model_name"], r["llm_usd"], r["llm_calls"], r["llm_unpriced_calls"]) for r in llm_only.rows] == [
        ("gpt-4o", Decimal("10.00"), 1, 0)
    ]


def test_currency_conversion_uses_each_days_rate(org):
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 1))
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("20.00"), as_of=date(2025, 3, 11))
    from costs.usage.tests.factories import UsageSnapshotFactory

    UsageSnapshotFactory(team=org["teams"]["nlp"], date=date(2025, 3, 11), gpu_hours=Decimal(1),
                         estimated_cost_usd=Decimal("1.00"), allocated_usd=Decimal("1.00"))  # fmt: skip
    report, rates = spend_summary_in(currency="ZAR", start=date(2025, 3, 10), end=date(2025, 3, 12),
                                     group_by=["team"])  # fmt: skip

    nlp = next(row for row in report.rows if row["team"] == "nlp")
    assert nlp["allocated_zar"] == Decimal("596.00")  # 32 x 18 on the 10th + 1 x 20 on the 11th
    assert report.totals["billed_zar"] == Decimal("900.00")  # the $50 bill of the 10th
    assert [(r.as_of, r.rate_per_usd) for r in rates] == [(date(2025, 3, 1), Decimal("18.00")),
                                                          (date(2025, 3, 11), Decimal("20.00"))]  # fmt: skip


def test_unknown_currency_is_400_and_a_command_error(org, api, capsys):
    response = api.as_user(org["users"]["staff"]).get("/api/v1/costs/summary?currency=XYZ")
    assert response.status_code == 400
    assert "currency" in response.json()
    with pytest.raises(CommandError, match="unknown currency 'XYZ'"):
        call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--currency", "XYZ")
    call_command("set_fx_rate", "ZAR", "18.20", "--date", "2025-03-01")
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--currency", "zar")
    out = capsys.readouterr().out
    assert "ZAR at 1 USD = 18.20000000 ZAR from 2025-03-01" in out
    assert "910.00" in out  # the $50.00 bill
    body = api.as_user(org["users"]["staff"]).get("/api/v1/costs/summary?start=2025-03-10&end=2025-03-11"
                                                  "&currency=ZAR").json()  # fmt: skip
    assert (body["currency"], body["totals"]["billed_zar"], body["fx_rates"][0]["rate_per_usd"]) == (
        "ZAR", "910.00", "18.20000000",
    )  # fmt: skip
    with pytest.raises(CommandError, match="a three-letter ISO 4217 code"):
        call_command("set_fx_rate", "RANDS", "18")


def test_litellm_catalog_loads_per_million_prices(db, tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps({
        "sample_spec": {"input_cost_per_token": 0},
        "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                   "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai", "mode": "chat"},
        "anthropic/claude-3-5-haiku": {"input_cost_per_token": 8e-07, "output_cost_per_token": 4e-06,
                                       "litellm_provider": "anthropic", "mode": "chat"},
    }))  # fmt: skip
    call_command("refresh_model_prices", str(path), "--format", "litellm")
    prices = {(p.provider, p.model): (p.input_usd_per_mtok, p.output_usd_per_mtok, p.cached_input_usd_per_mtok)
              for p in ModelPrice.objects.all()}  # fmt: skip
    assert prices == {
        ("openai", "gpt-4o"): (Decimal("2.5"), Decimal("10"), Decimal("1.25")),
        ("anthropic", "claude-3-5-haiku"): (Decimal("0.8"), Decimal("4"), None),
    }


def test_refresh_model_prices_if_stale(db, capsys):
    call_command("refresh_model_prices")
    call_command("refresh_model_prices", "--if-stale")
    assert "Model catalog is fresh" in capsys.readouterr().out
    assert ModelPrice.objects.count() == 15


def test_import_llm_calls_is_all_or_nothing_and_names_the_line(org, catalog, tmp_path, capsys):
    nlp = org["teams"]["nlp"]
    good = json.dumps(call(nlp) | {"team": "nlp"})
    path = tmp_path / "calls.jsonl"
    path.write_text(good + "\n" + good + "\n" + json.dumps(call(nlp, created_at="yesterday")) + "\n")
    with pytest.raises(CommandError, match=r"calls\.jsonl, line 3, column created_at: not an ISO 8601"):
        call_command("import_llm_calls", str(path))
    assert LlmCall.objects.count() == 0
    path.write_text(good + "\n" + good + "\n")
    call_command("import_llm_calls", str(path))
    assert "Imported 2 calls from calls.jsonl: $0.01, 0 unpriced" in capsys.readouterr().out  # $0.007
    assert [c.cost_picousd for c in LlmCall.objects.all()] == [3_500_000_000, 3_500_000_000]  # $0.0035 each


def test_import_llm_calls_async_queues_the_file_then_a_worker_imports_it(
    org, catalog, tmp_path, capsys, media_root, django_capture_on_commit_callbacks
):
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(call(org["teams"]["nlp"]) | {"team": "nlp"}) + "\n")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_llm_calls", str(path), "--async")
        assert LlmCall.objects.count() == 0  # queued: a worker imports it
    record = ImportRecord.objects.get(kind="llm_calls")
    assert f"Queued the import of calls.jsonl (import record {record.pk}); a worker runs it." in capsys.readouterr().out
    assert (record.status, record.rows_read, record.rows_kept) == ("succeeded", 1, 1)
    assert [c.cost_picousd for c in LlmCall.objects.all()] == [3_500_000_000]


def test_import_llm_calls_again_is_a_no_op_logged_as_a_duplicate(org, catalog, tmp_path, capsys):
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(call(org["teams"]["nlp"]) | {"team": "nlp"}) + "\n")
    call_command("import_llm_calls", str(path))
    call_command("import_llm_calls", str(path))
    assert "calls.jsonl was imported before (same SHA-256): nothing to do." in capsys.readouterr().out
    assert LlmCall.objects.count() == 1
    records = ImportRecord.objects.filter(kind="llm_calls").order_by("created_at")
    assert [(r.status, r.rows_read, r.rows_kept) for r in records] == [("succeeded", 1, 1), ("duplicate", 0, 0)]
    assert records[0].totals == {"stored": 1, "unpriced": 0, "cost_usd": "0.0035"}


def test_timeseries_in_another_currency_names_its_rates(org, api):
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 1))
    body = (
        api.as_user(org["users"]["staff"])
        .get("/api/v1/costs/timeseries?start=2025-03-10&end=2025-03-11&group_by=team&currency=ZAR")
        .json()
    )
    nlp = next(s for s in body["series"] if s["group"] == {"team": "nlp"})
    assert (nlp["points"][0]["allocated_zar"], body["fx_rates"][0]["rate_per_usd"]) == ("576.00", "18.00000000")
    late = api.as_user(org["users"]["staff"]).get("/api/v1/costs/timeseries?start=2025-02-27&end=2025-03-11"
                                                  "&currency=ZAR")  # fmt: skip
    assert late.status_code == 400
    assert "no ZAR rate on or before 2025-02-27" in late.json()["currency"][0]


def test_a_batch_with_priced_and_unpriced_calls_costs_the_priced_ones(org, api, catalog):
    nlp = org["teams"]["nlp"]
    batch = [call(nlp), call(nlp, provider="vllm", model="llama-3-8b-local")]  # $0.0035 + unknown
    response = api.as_user(org["users"]["bob"]).post("/api/v1/llm-calls/", batch, format="json")
    assert response.json() == {"stored": 2, "unpriced": 1, "cost_usd": "0.0035"}


def test_an_import_of_unpriced_calls_says_its_cost_is_unknown(org, catalog, tmp_path, capsys):
    path = tmp_path / "calls.jsonl"
    path.write_text(json.dumps(call(org["teams"]["nlp"], provider="vllm", model="local") | {"team": "nlp"}) + "\n")
    call_command("import_llm_calls", str(path))
    assert "Imported 1 calls from calls.jsonl: cost unknown, 1 unpriced" in capsys.readouterr().out
    record = ImportRecord.objects.get(kind="llm_calls")
    assert record.totals == {"stored": 1, "unpriced": 1, "cost_usd": None}
