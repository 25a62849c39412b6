"""The dashboard's selectors: exact figures for the tables, charts and cards."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs.dashboard.selectors import dashboard_data
from costs.usage.models import FxRate
from costs.usage.selectors.fx import spend_summary_in
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

DAY = date(2025, 3, 10)
NOW = datetime(2025, 3, 11, tzinfo=UTC)


@pytest.fixture
def three_teams(org):
    """org plus "aardvark" (first by name, last by spend): 1 x H100 for an hour, $4.00 of the $50.00 bill."""
    aardvark = TeamFactory(name="aardvark")
    JobFactory(team=aardvark, model_name="tiny", start_time=datetime(2025, 3, 10, 5, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 6, tzinfo=UTC))  # fmt: skip
    usage_rollup(start=DAY, end=date(2025, 3, 11), now=NOW)
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2025, 3, 1))
    return org


def test_tables_and_team_chart_keep_the_spend_order_in_another_currency(three_teams):
    usd = dashboard_data(start=DAY, end=date(2025, 3, 11), now=NOW)
    zar = dashboard_data(start=DAY, end=date(2025, 3, 11), now=NOW, currency="ZAR")

    assert [row["team"] for row in usd["teams"]] == ["nlp", "vision", "aardvark"]
    assert [row["team"] for row in zar["teams"]] == ["nlp", "vision", "aardvark"]
    assert [row["total_usd"] for row in zar["teams"]] == [Decimal("576.00"), Decimal("144.00"), Decimal("72.00")]
    assert zar["charts"]["spend_by_team"]["labels"] == ["nlp", "vision", "aardvark"]
    assert zar["tables"]["teams"]["idle"]["idle_usd"] == Decimal("108.00")  # $6.00 idle x 18


def test_converted_report_rows_are_largest_spend_first(three_teams):
    report, _ = spend_summary_in(currency="ZAR", start=DAY, end=date(2025, 3, 11), group_by=["team"])
    assert [(row["team"], row["allocated_zar"], row["idle_zar"]) for row in report.rows] == [
        ("nlp", Decimal("576.00"), Decimal("0.00")),
        ("vision", Decimal("144.00"), Decimal("0.00")),
        ("(idle)", Decimal("0.00"), Decimal("108.00")),
        ("aardvark", Decimal("72.00"), Decimal("0.00")),
    ]


@pytest.fixture
def with_unknowns(org):
    """org plus 3 x A100 on-prem for 4 hours on 2025-03-11: no catalog price, no bill, that day nor ever."""
    JobFactory(team=org["teams"]["vision"], model_name="seg", provider="on-prem", gpu_type="A100", gpu_count=3,
               start_time=datetime(2025, 3, 11, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 11, 5, tzinfo=UTC))  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    return org


def test_unknown_figures_are_none_never_zero(with_unknowns):
    data = dashboard_data(start=DAY, end=date(2025, 3, 12), now=NOW)
    charts = data["charts"]

    assert charts["idle_over_time"] == {"labels": ["2025-03-10", "2025-03-11"], "data": [10.0, None]}
    assert charts["billed_vs_estimated"] == {"labels": ["aws", "on-prem"], "billed": [50.0, None],
                                             "estimated": [40.0, None], "no_bill": [False, True]}  # fmt: skip
    onprem = next(row for row in data["providers"] if row["provider"] == "on-prem")
    assert (onprem["billed_usd"], onprem["idle_usd"]) == (None, None)
    gpus = {row["gpu_type"]: row for row in data["gpu_types"]}
    assert (gpus["A100"]["gpu_hours"], gpus["A100"]["unpriced_gpu_hours"]) == (Decimal("12.0000"), Decimal("12.0000"))
    assert (gpus["A100"]["estimated_usd"], gpus["A100"]["allocated_usd"]) == (None, None)
    assert (gpus["H100"]["estimated_usd"], gpus["H100"]["allocated_usd"]) == (Decimal("40.00"), Decimal("40.00"))


def test_a_day_without_a_bill_has_unknown_idle_on_the_cards(org):
    data = dashboard_data(start=date(2025, 3, 11), end=date(2025, 3, 12), now=NOW)
    assert (data["kpis"]["idle"], data["kpis"]["billed"], data["kpis"]["idle_share"]) == (None, None, None)
    assert data["charts"]["idle_over_time"]["data"] == [None]


def test_team_page_shows_wholly_unpriced_usage_as_unknown(with_unknowns):
    from costs.dashboard.selectors import team_page_data

    data = team_page_data(team_id=with_unknowns["teams"]["vision"].pk, start=DAY, end=date(2025, 3, 12))
    gpus = {row["gpu_type"]: row for row in data["gpu_types"]}
    assert (gpus["A100"]["gpu_hours"], gpus["A100"]["allocated_usd"]) == (Decimal("12.0000"), None)
    assert gpus["H100"]["allocated_usd"] == Decimal("8.00")
    models = {row["model_name"]: row for row in data["top_models"]}
    assert (models["seg"]["unpriced_gpu_hours"], models["seg"]["estimated_usd"]) == (Decimal("12.0000"), None)
    assert models["vit"]["estimated_usd"] == Decimal("8.00")


def test_top_models_and_the_team_by_provider_table(three_teams):
    from costs.llm.models import LlmUsageSnapshot

    LlmUsageSnapshot.objects.create(date=DAY, team=three_teams["teams"]["nlp"], provider="openai", model="gpt-4o",
                                    calls=5, input_tokens=10, output_tokens=1, cost_usd=Decimal("3.00"))  # fmt: skip
    data = dashboard_data(start=DAY, end=date(2025, 3, 11), now=NOW)

    models = data["top_models"]
    assert [(row["model_name"], row["allocated_usd"], row["llm_usd"], row["total_usd"]) for row in models] == [
        ("llama", Decimal("32.00"), Decimal("0.00"), Decimal("32.00")),
        ("vit", Decimal("8.00"), Decimal("0.00"), Decimal("8.00")),
        ("tiny", Decimal("4.00"), Decimal("0.00"), Decimal("4.00")),
        ("gpt-4o", Decimal("0.00"), Decimal("3.00"), Decimal("3.00")),
    ]  # fmt: skip
    pivot = data["team_by_provider"]
    assert pivot["providers"] == ["aws"]
    assert [(row["team"], row["cells"], row["total"]) for row in pivot["rows"]] == [
        ("nlp", [Decimal("32.00")], Decimal("32.00")),
        ("vision", [Decimal("8.00")], Decimal("8.00")),
        ("(idle)", [Decimal("6.00")], Decimal("6.00")),
        ("aardvark", [Decimal("4.00")], Decimal("4.00")),
    ]
    assert (pivot["totals"], pivot["total"]) == ([Decimal("50.00")], Decimal("50.00"))  # the bill
