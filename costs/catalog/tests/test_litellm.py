"""LiteLLM's real price file: Heliox's provider names, duplicate keys, odd entries, errors that name the key."""

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from costs.catalog.models import ModelPrice, PriceRefresh
from costs.catalog.services.litellm import heliox_provider, model_name
from costs.catalog.services.model_prices import model_prices_refresh
from costs.llm.models import LlmCall
from costs.llm.services.ingest import llm_calls_store
from teams.tests.factories import TeamFactory

FIXTURES = Path(__file__).parents[2] / "tests" / "fixtures"
EXCERPT = FIXTURES / "litellm_excerpt.json"
WHOLE = FIXTURES / "litellm_model_prices_1.110.2.json.gz"


def catalog() -> dict[tuple[str, str], tuple]:
    return {
        (p.provider, p.model): (p.input_usd_per_mtok, p.output_usd_per_mtok, p.cached_input_usd_per_mtok)
        for p in ModelPrice.objects.all()
    }


def d(*values):
    return tuple(None if value is None else Decimal(value) for value in values)


def test_the_real_excerpt_loads_under_heliox_provider_names(db, capsys):
    call_command("refresh_model_prices", str(EXCERPT), "--format", "litellm")

    # Per-token prices x 1,000,000 = USD per 1M tokens: gemini/gemini-2.5-pro 1.25e-06 in, 1e-05 out, 1.25e-07 cached.
    assert catalog() == {
        ("deepseek", "deepseek-chat"): d("0.28", "0.42", "0.028"),  # deepseek-chat and deepseek/deepseek-chat
        ("deepseek", "deepseek-reasoner"): d("0.28", "0.42", "0.028"),
        ("google", "gemini-exp-1206"): d("0", "0", None),  # gemini/gemini-exp-1206 over gemini-exp-1206 (0.3/2.5)
        ("google", "gemini-2.5-pro"): d("1.25", "10", "0.125"),  # the Gemini API's, over Vertex AI's equal one
        ("google", "gemini-2.5-flash"): d("0.3", "2.5", "0.03"),
        ("google", "gemini-2.0-flash"): d("0.15", "0.6", None),  # vertex_ai
        ("google", "claude-3-5-haiku"): d("1", "5", None),  # vertex_ai-anthropic_models
        ("aws", "anthropic.claude-3-5-haiku-20241022-v1:0"): d("0.8", "4", "0.08"),  # bedrock
        ("aws", "us.anthropic.claude-3-5-haiku-20241022-v1:0"): d("0.8", "4", "0.08"),
        ("aws", "amazon.nova-lite-v1:0"): d("0.06", "0.24", "0.015"),  # bedrock_converse
        ("azure", "gpt-4o"): d("2.5", "10", "1.25"),
        ("azure", "claude-haiku-4-5"): d("1", "5", "0.1"),  # azure_ai
        ("azure", "gpt-35-turbo-instruct"): d("1.65", "2.2", None),  # azure_text, key azure/gpt-35-turbo-instruct
        ("azure", "claude-opus-5-5"): d("4", "20", "0.2"),
        ("azure", "claude-opus-latest"): d("4", "20", "0.2"),  # {"alias_of": "azure_ai/claude-opus-5-5"}
        ("openai", "gpt-4o"): d("2.5", "10", "1.25"),
        ("openai", "gpt-4o-mini"): d("0.15", "0.6", "0.075"),
        ("openai", "gpt-3.5-turbo-instruct"): d("1.5", "2", None),  # text-completion-openai
        ("anthropic", "claude-haiku-4-5"): d("1", "5", "0.1"),
        ("mistral", "mistral-large-latest"): d("0.5", "1.5", "0.05"),
        ("mistral", "mistral-embed"): d("0.1", "0", None),  # an embedding: no output tokens, output costs 0
        ("mistral", "codestral-latest"): d("0.3", "0.9", "0.03"),  # mistral's, over codestral's 0/0
        ("groq", "openai/gpt-oss-20b"): d("0.075", "0.3", "0.0375"),  # another provider keeps its own name
    }
    refresh = PriceRefresh.objects.get()
    # 34 entries: 23 priced; sample_spec, an image, an audio transcription, 5 duplicates with the kept prices
    # and 3 with other prices not loaded.
    assert (refresh.rows_read, refresh.rows_skipped) == (34, 11)
    assert refresh.skipped == {
        "(duplicates of a kept key, same prices)": 5,
        "codestral/codestral-latest (a duplicate of mistral/codestral-latest, kept; prices differ)": 1,
        "gemini-exp-1206 (a duplicate of gemini/gemini-exp-1206, kept; prices differ)": 1,
        "mode audio_transcription (no price per input and per output token)": 1,
        "mode image_generation (no price per input and per output token)": 1,
        "sample_spec (LiteLLM's description of the format)": 1,
        "text-completion-codestral/codestral-latest (a duplicate of mistral/codestral-latest, kept; prices differ)": 1,
    }
    out = capsys.readouterr().out
    assert "34 entries read, 23 models priced, 23 prices opened" in out
    assert "Skipped 11 entries:" in out
    assert "gemini-exp-1206 (a duplicate of gemini/gemini-exp-1206, kept; prices differ): 1" in out


def test_duplicates_are_settled_by_rule_not_by_file_order(db, tmp_path):
    entries = json.loads(EXCERPT.read_text())
    reversed_file = tmp_path / "reversed.json"
    reversed_file.write_text(json.dumps(dict(reversed(list(entries.items())))))
    model_prices_refresh(path=EXCERPT, fmt="litellm")
    forward = catalog()
    ModelPrice.objects.all().delete()

    model_prices_refresh(path=reversed_file, fmt="litellm")

    assert catalog() == forward


def test_a_bad_price_names_the_key_and_writes_nothing(db, tmp_path):
    entries = json.loads(EXCERPT.read_text())
    entries["gpt-4o"]["output_cost_per_token"] = "ten"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(entries))

    with pytest.raises(CommandError, match=r"prices\.json, key 'gpt-4o', field output_cost_per_token: not a number"):
        call_command("refresh_model_prices", str(path), "--format", "litellm")

    assert not ModelPrice.objects.exists()
    assert not PriceRefresh.objects.exists()


@pytest.mark.parametrize(
    ("litellm", "heliox"),
    [("gemini", "google"), ("vertex_ai-language-models", "google"), ("vertex_ai-mistral_models", "google"),
     ("vertex_ai", "google"), ("bedrock", "aws"), ("bedrock_converse", "aws"), ("azure", "azure"),
     ("azure_ai", "azure"), ("openai", "openai"), ("text-completion-openai", "openai"), ("anthropic", "anthropic"),
     ("mistral", "mistral"), ("codestral", "mistral"), ("deepseek", "deepseek"), ("together_ai", "together_ai")],
)  # fmt: skip
def test_litellm_provider_names_map_onto_heliox_names(litellm, heliox):
    assert heliox_provider(litellm) == heliox


def test_a_key_loses_only_its_own_provider_prefix():
    assert model_name("gemini/gemini-2.5-pro", "gemini") == ("gemini-2.5-pro", True)
    assert model_name("vertex_ai/claude-3-5-haiku", "vertex_ai-anthropic_models") == ("claude-3-5-haiku", True)
    assert model_name("bedrock/us-east-1/anthropic.claude-x", "bedrock_converse") == (
        "us-east-1/anthropic.claude-x", True,
    )  # fmt: skip
    assert model_name("openai/gpt-4o", "openrouter") == ("openai/gpt-4o", False)
    assert model_name("deepseek-chat", "deepseek") == ("deepseek-chat", False)


@pytest.mark.skipif(not WHOLE.exists(), reason=f"{WHOLE.name} is not in this checkout")
def test_the_whole_real_file_loads_and_prices_a_call_logged_as_google(db, tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_bytes(gzip.decompress(WHOLE.read_bytes()))

    result = model_prices_refresh(path=path, fmt="litellm")

    refresh = result.refresh
    # 4,878 entries: 3,857 priced; 1,021 not (sample_spec, entries priced per image, second or query, duplicates).
    assert (refresh.rows_read, ModelPrice.objects.count(), refresh.rows_skipped) == (4878, 3857, 1021)
    assert refresh.skipped["(duplicates of a kept key, same prices)"] == 102
    assert refresh.skipped["gemini-exp-1206 (a duplicate of gemini/gemini-exp-1206, kept; prices differ)"] == 1
    call = LlmCall(team=TeamFactory(), provider="google", model="gemini-2.5-pro", input_tokens=1_000_000,
                   cached_input_tokens=200_000, output_tokens=100_000, created_at=refresh.created_at)  # fmt: skip
    stored = llm_calls_store([call])
    # (800,000 x 1.25 + 200,000 x 0.125 + 100,000 x 10) / 1,000,000 = (1,000,000 + 25,000 + 1,000,000) / 10^6.
    assert (stored.unpriced, stored.cost_usd) == (0, Decimal("2.025"))
    deepseek = ModelPrice.objects.get(provider="deepseek", model="deepseek-chat")
    assert (deepseek.input_usd_per_mtok, deepseek.output_usd_per_mtok) == (Decimal("0.28"), Decimal("0.42"))


def test_a_name_longer_than_the_catalog_holds_is_skipped_not_a_database_error(db, tmp_path):
    entries = json.loads(EXCERPT.read_text())
    long_key = "openai/" + "x" * 250
    entries[long_key] = entries["gpt-4o"]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(entries))

    result = model_prices_refresh(path=path, fmt="litellm")

    assert result.refresh.skipped[f"{long_key[:200]} (a name longer than the catalog holds)"] == 1
    assert ModelPrice.objects.count() == 23
