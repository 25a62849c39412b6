"""Allocation of the bill: the arithmetic, its invariants, and what is stored."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costs.billing.allocation import SEPARATE, SHARE, allocate_cell
from costs.billing.models import CostSnapshot
from costs.billing.money import split_cents
from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.allocation_cells import allocation_cells
from costs.usage.services.allocation import allocation_refresh
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

D10, D11 = date(2025, 3, 10), date(2025, 3, 11)


def test_bill_above_estimates_allocates_the_estimates_and_the_rest_is_idle():
    result = allocate_cell(
        billed=Decimal("150.00"), estimates={"a": Decimal("60.00"), "b": Decimal("40.00")}, hours={}, mode=SEPARATE
    )
    assert result.allocated == {"a": Decimal("60.00"), "b": Decimal("40.00")}
    assert result.idle == Decimal("50.00")


def test_bill_below_estimates_scales_them_down_and_nothing_is_idle():
    result = allocate_cell(
        billed=Decimal("50.00"), estimates={"a": Decimal("60.00"), "b": Decimal("40.00")}, hours={}, mode=SEPARATE
    )
    assert result.allocated == {"a": Decimal("30.00"), "b": Decimal("20.00")}
    assert result.idle == Decimal("0.00")


def test_cents_go_to_the_largest_remainders():
    result = allocate_cell(
        billed=Decimal("10.00"),
        estimates={"a": Decimal("10.00"), "b": Decimal("10.00"), "c": Decimal("10.00")},
        hours={},
        mode=SEPARATE,
    )
    assert result.allocated == {"a": Decimal("3.34"), "b": Decimal("3.33"), "c": Decimal("3.33")}
    assert result.idle == Decimal("0.00")


def test_idle_shared_splits_the_whole_bill_by_gpu_hours():
    result = allocate_cell(
        billed=Decimal("100.00"),
        estimates={"a": Decimal("1.00"), "b": Decimal("1.00")},
        hours={"a": Decimal("3"), "b": Decimal("1")},
        mode=SHARE,
    )
    assert result.allocated == {"a": Decimal("75.00"), "b": Decimal("25.00")}
    assert result.idle == Decimal("0.00")


def test_idle_shared_with_no_usage_leaves_all_of_the_bill_idle():
    result = allocate_cell(billed=Decimal("80.00"), estimates={}, hours={}, mode=SHARE)
    assert (result.allocated, result.idle) == ({}, Decimal("80.00"))


def test_cell_with_no_bill_allocates_the_estimate_and_idle_is_unknown():
    result = allocate_cell(billed=None, estimates={"a": Decimal("12.34")}, hours={"a": Decimal(3)}, mode=SHARE)
    assert (result.allocated, result.idle) == ({"a": Decimal("12.34")}, None)


def test_only_unpriced_usage_leaves_the_bill_idle_when_idle_is_kept_apart():
    result = allocate_cell(billed=Decimal("9.99"), estimates={"a": Decimal(0)}, hours={"a": Decimal(5)}, mode=SEPARATE)
    assert (result.allocated, result.idle) == ({"a": Decimal(0)}, Decimal("9.99"))


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)
hours = st.integers(min_value=0, max_value=10_000_000).map(lambda h: Decimal(h) / 10_000)


@settings(max_examples=300, deadline=None)
@given(
    billed=cents,
    teams=st.dictionaries(st.text(min_size=1, max_size=3), st.tuples(cents, hours), max_size=12),
    mode=st.sampled_from([SEPARATE, SHARE]),
)
def test_allocated_plus_idle_is_the_bill_to_the_cent(billed, teams, mode):
    estimates = {team: estimate for team, (estimate, _) in teams.items()}
    used = {team: hour for team, (_, hour) in teams.items()}

    result = allocate_cell(billed=billed, estimates=estimates, hours=used, mode=mode)

    assert sum(result.allocated.values(), Decimal(0)) + result.idle == billed
    assert all(share >= 0 and share == share.quantize(Decimal("0.01")) for share in result.allocated.values())
    assert result.idle >= 0
    if mode == SEPARATE:
        assert all(result.allocated[team] <= estimates[team] for team in teams)


@settings(max_examples=200, deadline=None)
@given(total=cents, weights=st.dictionaries(st.integers(), hours.filter(bool), min_size=1, max_size=20))
def test_split_cents_is_exact_and_within_a_cent_of_the_exact_share(total, weights):
    shares = split_cents(total, weights)
    weight_sum = sum(weights.values())
    assert sum(shares.values()) == total
    for key, weight in weights.items():
        assert abs(shares[key] - total * weight / weight_sum) < Decimal("0.01")


@pytest.fixture
def two_teams_one_day(db):
    """nlp: 6 GPU-h ($24), vision: 2 GPU-h ($8) of aws H100 at $4 on the 10th."""
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    JobFactory(team=nlp, model_name="llama", gpu_count=3, start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 3, tzinfo=UTC))  # fmt: skip
    JobFactory(team=vision, model_name="vit", gpu_count=1, start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 3, tzinfo=UTC))  # fmt: skip
    return nlp, vision


def test_rollup_stores_both_allocations_and_the_idle_part_of_the_bill(two_teams_one_day):
    CostSnapshotFactory(date=D10, cost_usd=Decimal("40.00"))
    usage_rollup(start=D10, end=D11)

    rows = dict(UsageSnapshot.objects.values_list("team__name", "allocated_usd"))
    shared = dict(UsageSnapshot.objects.values_list("team__name", "allocated_shared_usd"))
    bill = CostSnapshot.objects.get()
    assert rows == {"nlp": Decimal("24.00"), "vision": Decimal("8.00")}
    assert shared == {"nlp": Decimal("30.00"), "vision": Decimal("10.00")}
    assert (bill.idle_usd, bill.idle_shared_usd) == (Decimal("8.00"), Decimal("0.00"))


def test_a_bill_arriving_after_the_rollup_is_allocated_by_allocation_refresh(two_teams_one_day):
    usage_rollup(start=D10, end=D11)
    CostSnapshotFactory(date=D10, cost_usd=Decimal("16.00"))

    allocation_refresh(days=[D10])

    cells = allocation_cells(start=D10, end=D11)
    assert len(cells) == 1
    assert [(t["team"], t["allocated_usd"]) for t in cells[0].teams] == [
        ("nlp", Decimal("12.00")),
        ("vision", Decimal("4.00")),
    ]
    assert (cells[0].billed_usd, cells[0].idle_usd, cells[0].estimated_usd) == (
        Decimal("16.00"),
        Decimal("0.00"),
        Decimal("32.00"),
    )


def test_allocation_cells_report_unbilled_cells_and_bills_without_usage(two_teams_one_day):
    CostSnapshotFactory(date=D10, provider="gcp", gpu_type="A100", cost_usd=Decimal("7.00"))
    usage_rollup(start=D10, end=D11)

    cells = {(c.provider, c.gpu_type): c for c in allocation_cells(start=D10, end=D11)}

    aws = cells[("aws", "H100")]
    assert (aws.billed_usd, aws.idle_usd) == (None, None)
    assert [t["allocated_usd"] for t in aws.teams] == [Decimal("24.00"), Decimal("8.00")]
    gcp = cells[("gcp", "A100")]
    assert (gcp.billed_usd, gcp.idle_usd, gcp.teams) == (Decimal("7.00"), Decimal("7.00"), [])


def test_allocation_cells_for_one_team_hide_the_organisation_bill(two_teams_one_day):
    nlp, _ = two_teams_one_day
    CostSnapshotFactory(date=D10, cost_usd=Decimal("40.00"))
    usage_rollup(start=D10, end=D11)

    (cell,) = allocation_cells(start=D10, end=D11, team_ids=[nlp.pk])

    assert [t["team"] for t in cell.teams] == ["nlp"]
    assert (cell.billed_usd, cell.idle_usd) == (None, None)
