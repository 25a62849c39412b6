"""GPU, LLM and GPU + LLM per team on the member UI, by role, on `org` with LLM calls of known cost (llm_org).

nlp (bob member, alice manager): GPU $32.00; gpt-4o (openai) $1.25 and $0.50, claude (anthropic) unpriced.
vision (carol): GPU $8.00; gpt-4o $2.00. research (alice member, no GPU): gpt-4o-mini $0.75.
"""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costs.llm.services.rollup import llm_rollup_day
from costs.llm.tests.factories import LlmCallFactory
from teams.tests.factories import MembershipFactory, TeamFactory
from web.tests.conftest import RANGE

USD = 10**12  # pico-USD per dollar


@pytest.fixture
def llm_org(org, users):
    nlp, vision = org["teams"]["nlp"], org["teams"]["vision"]
    research = TeamFactory(name="research")
    MembershipFactory(user=users["manager"], team=research, role="member")
    LlmCallFactory(team=nlp, cost_picousd=125 * USD // 100)
    LlmCallFactory(team=nlp, cost_picousd=50 * USD // 100)
    LlmCallFactory(team=nlp, provider="anthropic", model="claude", cost_picousd=None)
    LlmCallFactory(team=vision, cost_picousd=2 * USD)
    LlmCallFactory(team=research, model="gpt-4o-mini", cost_picousd=75 * USD // 100)
    llm_rollup_day(day=date(2025, 3, 10))
    return {**org["teams"], "research": research}


def csv_dicts(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def team_figures(rows) -> list[tuple]:
    return [(row["key"], row["allocated_usd"], row["llm_usd"], row["llm_calls"], row["total_usd"]) for row in rows]


HOME = {  # role: (rows: team, GPU allocated, LLM, calls, GPU + LLM), card (allocated, LLM, calls, unpriced, total)
    "member": ([("nlp", Decimal("32.00"), Decimal("1.75"), 3, Decimal("33.75"))],
               (Decimal("32.00"), Decimal("1.75"), 3, 1, Decimal("33.75"))),
    "manager": ([("nlp", Decimal("32.00"), Decimal("1.75"), 3, Decimal("33.75")),
                 ("research", Decimal("0.00"), Decimal("0.75"), 1, Decimal("0.75"))],
                (Decimal("32.00"), Decimal("2.50"), 4, 1, Decimal("34.50"))),
    "superuser": ([("nlp", Decimal("32.00"), Decimal("1.75"), 3, Decimal("33.75")),
                   ("vision", Decimal("8.00"), Decimal("2.00"), 1, Decimal("10.00")),
                   ("research", Decimal("0.00"), Decimal("0.75"), 1, Decimal("0.75"))],
                  (Decimal("40.00"), Decimal("4.50"), 5, 1, Decimal("44.50"))),
}  # fmt: skip


@pytest.mark.parametrize("role", HOME)
def test_home_shows_gpu_llm_and_their_total_per_team(llm_org, as_role, role):
    client = as_role(role)
    response = client.get(f"/?{RANGE}")
    rows, card = HOME[role]
    assert team_figures(response.context["level"].rows) == rows
    shown = response.context["card"]
    assert (shown["allocated_usd"], shown["llm_usd"], shown["llm_calls"], shown["llm_unpriced_calls"],
            shown["total_usd"]) == card  # fmt: skip
    page = response.content.decode()
    assert f"USD {card[4]}" in page
    assert f"USD {card[1]}" in page
    # The CSV's rows add up to the cards.
    lines = csv_dicts(client.get(f"/?format=csv&{RANGE}"))
    assert [line["team"] for line in lines] == [row[0] for row in rows]
    assert sum(Decimal(line["llm_usd"]) for line in lines) == card[1]
    assert sum(Decimal(line["total_usd"]) for line in lines) == card[4]
    assert sum(int(line["llm_calls"]) for line in lines) == card[2]


def test_a_team_with_llm_calls_only_is_a_row_without_gpu_use(llm_org, as_role):
    row = as_role("manager").get(f"/?{RANGE}").context["level"].rows[1]
    assert (row["key"], row["gpu_hours"], row["gpu_none"], row["change_pct"]) == ("research", 0, True, None)
    assert row["team_id"] == llm_org["research"].pk


def test_wholly_unpriced_llm_calls_are_unpriced_not_zero(llm_org, as_role, users):
    lonely = TeamFactory(name="lonely")
    MembershipFactory(user=users["member"], team=lonely, role="member")
    LlmCallFactory(team=lonely, model="mystery", cost_picousd=None)
    llm_rollup_day(day=date(2025, 3, 10))
    response = as_role("member").get(f"/teams/{lonely.pk}/?{RANGE}")
    card = response.context["card"]
    assert (card["llm_usd"], card["llm_calls"], card["llm_unpriced_calls"]) == (None, 1, 1)
    assert [(row["model_name"], row["llm_usd"]) for row in response.context["llm_models"]] == [("mystery", None)]
    home = {row["key"]: row for row in as_role("member").get(f"/?{RANGE}").context["level"].rows}
    assert home["lonely"]["llm_usd"] is None
    lines = csv_dicts(as_role("member").get(f"/teams/{lonely.pk}/?format=csv&table=llm&{RANGE}"))
    assert lines == [{"model_name": "mystery", "llm_calls": "1", "llm_unpriced_calls": "1", "llm_usd": ""}]


@pytest.mark.parametrize("role", ["member", "manager", "superuser"])
def test_team_page_has_llm_models_providers_and_budget(llm_org, budgets, as_role, role):
    client = as_role(role)
    nlp = llm_org["nlp"]
    response = client.get(f"/teams/{nlp.pk}/?{RANGE}")
    card = response.context["card"]
    assert (card["allocated_usd"], card["llm_usd"], card["total_usd"]) == (
        Decimal("32.00"), Decimal("1.75"), Decimal("33.75"))  # fmt: skip
    models = [(row["model_name"], row["llm_calls"], row["llm_usd"], row["llm_unpriced_calls"])
              for row in response.context["llm_models"]]  # fmt: skip
    assert models == [("gpt-4o", 2, Decimal("1.75"), 0), ("claude", 1, None, 1)]
    totals = response.context["llm_totals"]
    assert (totals["llm_calls"], totals["llm_usd"], totals["llm_unpriced_calls"]) == (3, Decimal("1.75"), 1)
    providers = [(row["provider"], row["gpu_hours"], row["allocated_usd"]) for row in response.context["providers"]]
    assert providers == [("aws", Decimal("8.0000"), Decimal("32.00"))]
    assert [(s.budget.team.name, s.budget.amount_usd) for s in response.context["budgets"]] == [
        ("nlp", Decimal("500.00"))]  # fmt: skip
    page = response.content.decode()
    assert 'id="hx-team-llm"' in page
    assert 'id="hx-team-providers"' in page
    assert 'id="hx-team-budget"' in page
    # Each table's CSV adds up to the page's cards.
    llm = csv_dicts(client.get(f"/teams/{nlp.pk}/?format=csv&table=llm&{RANGE}"))
    assert [line["model_name"] for line in llm] == ["gpt-4o", "claude"]
    assert sum(Decimal(line["llm_usd"] or 0) for line in llm) == card["llm_usd"]
    by_provider = csv_dicts(client.get(f"/teams/{nlp.pk}/?format=csv&table=providers&{RANGE}"))
    assert sum(Decimal(line["allocated_usd"]) for line in by_provider) == card["allocated_usd"]


def test_another_teams_page_and_its_csv_are_404(llm_org, as_role):
    vision = llm_org["vision"]
    client = as_role("member")
    for query in ("", "format=csv&table=llm&", "format=csv&table=providers&"):
        assert client.get(f"/teams/{vision.pk}/?{query}{RANGE}").status_code == 404
    assert as_role("superuser").get(f"/teams/{vision.pk}/?{RANGE}").context["card"]["llm_usd"] == Decimal("2.00")


def test_an_unknown_table_is_a_400_naming_the_parameter(llm_org, as_role):
    response = as_role("member").get(f"/teams/{llm_org['nlp'].pk}/?format=csv&table=gpus&{RANGE}")
    assert response.status_code == 400
    assert response.content.decode() == (
        "field,message\ntable,\"'gpus' is not a table of the team page (one of: llm, providers).\"\n"
    )


def _counts(client, urls) -> list[int]:
    found = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        found.append(len(queries))
    return found


def test_llm_figures_add_no_query_per_team_or_model(llm_org, as_role, users):
    client = as_role("manager")
    nlp = llm_org["nlp"]
    urls = [f"/?{RANGE}", f"/?format=csv&{RANGE}", f"/teams/{nlp.pk}/?{RANGE}"]
    before = _counts(client, urls)
    for n in range(5):  # five more teams of alice's with LLM calls only, five more models of nlp's
        team = TeamFactory(name=f"llm-{n}")
        MembershipFactory(user=users["manager"], team=team, role="member")
        LlmCallFactory(team=team, cost_picousd=USD)
        LlmCallFactory(team=nlp, model=f"model-{n}", cost_picousd=USD)
    llm_rollup_day(day=date(2025, 3, 10))
    assert _counts(client, urls) == before
    assert len(client.get(f"/?{RANGE}").context["level"].rows) == 7
