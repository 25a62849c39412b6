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
