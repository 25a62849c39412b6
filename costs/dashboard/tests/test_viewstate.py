"""The view lives in the URL: every link that changes one parameter keeps the others (exact URLs)."""

from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.http import QueryDict
from django.urls import reverse

from costs.dashboard.viewstate import query_with
from costs.usage.models import FxRate

INDEX = reverse("admin:index")
NOW = datetime(2025, 3, 15, 12, tzinfo=UTC)


def _links(response, name: str) -> dict[str, str]:
    if name == "range":
        return {link["label"]: link["href"] for link in response.context["range_links"]}
    return {link["label"]: link["href"] for heading, links in response.context["view_links"] for link in links
            if heading == name}  # fmt: skip


@pytest.fixture
def zar(db):
    return FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.00"), as_of=date(2024, 1, 1))


def test_query_with_sets_removes_and_orders_the_view():
    params = QueryDict("provider=aws&page=3&start=2025-03-01&end=2025-03-08&idle=share&format=csv&sort=team")
    assert (
        query_with(params, range="last-30", start=None, end=None) == "range=last-30&idle=share&provider=aws&sort=team"
    )
    assert query_with(params, idle="separate") == "start=2025-03-01&end=2025-03-08&provider=aws&sort=team"
    assert query_with(params, currency="ZAR") == (
        "start=2025-03-01&end=2025-03-08&idle=share&currency=ZAR&provider=aws&sort=team"
    )


def test_preset_links_keep_step_idle_currency_and_filters(org, staff_client, zar):
    url = INDEX + "?currency=ZAR&start=2025-03-10&end=2025-03-11&interval=week&idle=share&provider=aws"
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = staff_client.get(url)
    assert _links(response, "range") == {
        "This month": "?range=this-month&idle=share&interval=week&currency=ZAR&provider=aws",
        "Last month": "?range=last-month&idle=share&interval=week&currency=ZAR&provider=aws",
        "Last 30 days": "?range=last-30&idle=share&interval=week&currency=ZAR&provider=aws",
        "Last 90 days": "?range=last-90&idle=share&interval=week&currency=ZAR&provider=aws",
    }
    page = response.content.decode()
    assert 'href="?range=last-month&amp;idle=share&amp;interval=week&amp;currency=ZAR&amp;provider=aws"' in page
    # The custom range form keeps the rest as hidden fields, not the range it replaces.
    assert response.context["range_kept"] == [("currency", "ZAR"), ("interval", "week"), ("idle", "share"),
                                              ("provider", "aws")]  # fmt: skip


def test_step_idle_and_currency_links_each_change_one_parameter(org, staff_client, zar):
    url = INDEX + "?range=last-30&idle=share&currency=ZAR&team=" + str(org["teams"]["nlp"].pk) + "&page=2"
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = staff_client.get(url)
    team = f"team={org['teams']['nlp'].pk}"
    assert _links(response, "Per") == {
        "day": f"?range=last-30&idle=share&currency=ZAR&{team}",
        "week": f"?range=last-30&idle=share&interval=week&currency=ZAR&{team}",
        "month": f"?range=last-30&idle=share&interval=month&currency=ZAR&{team}",
    }
    assert _links(response, "Idle") == {
        "kept apart": f"?range=last-30&currency=ZAR&{team}",
        "shared": f"?range=last-30&idle=share&currency=ZAR&{team}",
    }
    assert _links(response, "In") == {
        "USD": f"?range=last-30&idle=share&{team}",
        "ZAR": f"?range=last-30&idle=share&currency=ZAR&{team}",
    }
    active = [link["label"] for _, links in response.context["view_links"] for link in links if link["active"]]
    assert active == ["shared", "day", "ZAR"]


def test_the_csv_links_carry_the_days_shown_and_the_whole_view(org, staff_client, zar):
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = staff_client.get(INDEX + "?range=last-month&interval=month&currency=ZAR&provider=aws")
    assert response.context["view_query"] == (
        "start=2025-02-01&end=2025-03-01&interval=month&currency=ZAR&provider=aws"
    )


def test_member_home_preset_links_keep_the_filters(org, client):
    client.force_login(org["users"]["bob"])
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        response = client.get("/?start=2025-03-10&end=2025-03-11&model=llama")
    assert _links(response, "range")["Last 90 days"] == "?range=last-90&model=llama"
