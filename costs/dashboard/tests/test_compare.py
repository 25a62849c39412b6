"""Every card and table of the staff dashboard against the previous period of the same length.

The `org` fixture's 2025-03-10 (nlp llama $32.00, vision vit $8.00, aws H100 bill $50.00: $10.00 idle, vision's
openai calls $2.50) against 2025-03-09: nlp llama 1 x H100 for 2 h ($8.00), bill $10.00 ($2.00 idle), vision's
calls $1.00.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from costs.billing.tests.factories import CostSnapshotFactory
from costs.llm.models import LlmUsageSnapshot
from costs.usage.models import FxRate
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory

URL = reverse("admin:index") + "?start=2025-03-10&end=2025-03-11"
DAY, BEFORE = date(2025, 3, 10), date(2025, 3, 9)


@pytest.fixture
def two_days(org):
    JobFactory(team=org["teams"]["nlp"], model_name="llama", start_time=datetime(2025, 3, 9, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 9, 3, tzinfo=UTC))  # fmt: skip
    CostSnapshotFactory(date=BEFORE, cost_usd=Decimal("10.00"))
    usage_rollup(start=BEFORE, end=DAY, now=datetime(2025, 3, 11, tzinfo=UTC))
    for day, cost in ((BEFORE, "1.00"), (DAY, "2.50")):
        LlmUsageSnapshot.objects.create(date=day, team=org["teams"]["vision"], provider="openai", model="gpt-4o",
                                        calls=3, input_tokens=10, output_tokens=1, cost_usd=Decimal(cost))  # fmt: skip
    return org


def _changes(rows, key):
    return [(row[key], row["previous"], row["change_pct"]) for row in rows]


def test_each_card_against_the_previous_period(two_days, staff_client):
    change = staff_client.get(URL).context["dashboard"]["kpis"]["change"]
    assert {name: (c["previous"], c["change_pct"]) for name, c in change.items()} == {
        "spend": (Decimal("10.00"), Decimal("400.0")),
        "llm": (Decimal("1.00"), Decimal("150.0")),
        "all": (Decimal("11.00"), Decimal("377.3")),
        "gpu_hours": (Decimal("2.0000"), Decimal("400.0")),
        "idle": (Decimal("2.00"), Decimal("400.0")),
        "billed": (Decimal("10.00"), Decimal("400.0")),
        "unpriced_gpu_hours": (Decimal("0.0000"), None),
    }


def test_each_table_row_against_the_previous_period(two_days, staff_client):
    response = staff_client.get(URL)
    data = response.context["dashboard"]
    assert _changes(data["tables"]["teams"]["rows"], "team") == [
        ("nlp", Decimal("8.00"), Decimal("300.0")), ("vision", Decimal("1.00"), Decimal("950.0"))]  # fmt: skip
    assert _changes(data["tables"]["providers"]["rows"], "provider") == [("aws", Decimal("10.00"), Decimal("400.0"))]
    assert _changes(data["top_models"], "model_name") == [
        ("llama", Decimal("8.00"), Decimal("300.0")), ("vit", Decimal("0.00"), None),
        ("gpt-4o", Decimal("1.00"), Decimal("150.0"))]  # fmt: skip
    pivot = data["team_by_provider"]
    assert _changes(pivot["rows"], "team") == [
        ("nlp", Decimal("8.00"), Decimal("300.0")), ("(idle)", Decimal("2.00"), Decimal("400.0")),
        ("vision", Decimal("0.00"), None)]  # fmt: skip
    assert (pivot["previous"], pivot["change_pct"]) == (Decimal("10.00"), Decimal("400.0"))
    assert _changes(data["llm_providers"], "provider") == [("openai", Decimal("1.00"), Decimal("150.0"))]
    page = response.content.decode()
    spend = '<span class="hx-change" title="previous: 10.00">+400.0 %</span> vs previous 1 days'
    assert f'data-change="spend">{spend}' in page
    assert "<th>Total vs previous 1 days</th>" in page
    assert '<td class="num">new</td>' in page  # vit had nothing the day before


def test_filters_narrow_the_previous_period_alike(two_days, staff_client):
    change = staff_client.get(URL + "&model=llama").context["dashboard"]["kpis"]["change"]
    assert (change["spend"]["previous"], change["spend"]["change_pct"]) == (Decimal("8.00"), Decimal("300.0"))
    assert (change["idle"]["previous"], change["idle"]["change_pct"]) == (None, None)  # not split by model


def test_no_rate_for_the_previous_period_makes_changes_unknown_not_zero(two_days, staff_client):
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=DAY)
    response = staff_client.get(URL + "&currency=ZAR")
    data = response.context["dashboard"]
    assert data["kpis"]["spend"] == Decimal("900.00")
    assert data["kpis"]["change"]["spend"] == {"previous": None, "change_pct": None}
    assert [row["change_pct"] for row in data["tables"]["teams"]["rows"]] == [None, None]
    page = response.content.decode()
    assert 'id="hx-no-previous"' in page
    assert "No ZAR rate for all of the previous 1 days (from 2025-03-09)" in page
