"""spend_summary on a hand-built dataset: every column, every grouping, exact cents."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.selectors.spend import spend_summary
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

D10, D11, D12 = date(2025, 3, 10), date(2025, 3, 11), date(2025, 3, 12)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def dataset(db):
    """Two days, two teams, aws H100 at $4 and gcp A100 at $3.

    10th: nlp llama 4 GPU-h aws ($16), nlp bert 2 GPU-h aws ($8), vision vit 2 GPU-h gcp ($6).
          bills: aws H100 $30 (idle 6), gcp A100 $5 (scaled down, idle 0).
    11th: vision vit 1 GPU-h aws ($4), no bill.
    """
    GpuPriceFactory(provider="aws", gpu_type="H100", usd_per_gpu_hour=Decimal("4"))
    GpuPriceFactory(provider="gcp", gpu_type="A100", usd_per_gpu_hour=Decimal("3"))
    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    JobFactory(team=nlp, model_name="llama", gpu_count=2, start_time=at(D10, 1), end_time=at(D10, 3))
    JobFactory(team=nlp, model_name="bert", gpu_count=1, start_time=at(D10, 1), end_time=at(D10, 3))
    JobFactory(team=vision, model_name="vit", provider="gcp", gpu_type="A100", start_time=at(D10, 1),
               end_time=at(D10, 3))  # fmt: skip
    JobFactory(team=vision, model_name="vit", start_time=at(D11, 1), end_time=at(D11, 2))
    CostSnapshotFactory(date=D10, provider="aws", gpu_type="H100", cost_usd=Decimal("30.00"))
    CostSnapshotFactory(date=D10, provider="gcp", gpu_type="A100", cost_usd=Decimal("5.00"))
    usage_rollup(start=D10, end=D12, now=at(D12, 0))
    return nlp, vision


def slim(report):
    keys = ("gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd")
    return [tuple(row[g] for g in report.group_by) + tuple(row[k] for k in keys) for row in report.rows]


def test_by_team_shows_allocations_and_idle_as_its_own_row(dataset):
    report = spend_summary(start=D10, end=D12, group_by=["team"])

    assert slim(report) == [
        ("nlp", Decimal("6.0000"), Decimal("24.00"), Decimal("24.00"), Decimal(0), None),
        ("vision", Decimal("3.0000"), Decimal("10.00"), Decimal("9.00"), Decimal(0), None),
        ("(idle)", Decimal(0), Decimal(0), Decimal(0), Decimal("6.00"), None),
    ]
    assert report.totals == {
        "gpu_hours": Decimal("9.0000"),
        "unpriced_gpu_hours": Decimal("0.0000"),
        "estimated_usd": Decimal("34.00"),
        "allocated_usd": Decimal("33.00"),  # 24 + 5 billed on the 10th + 4 estimated on the unbilled 11th
        "idle_usd": Decimal("6.00"),
        "billed_usd": Decimal("35.00"),
        "used_gpu_hours": Decimal("0.0000"),
        "unmeasured_gpu_hours": Decimal("9.0000"),  # no job of this dataset is measured
        "measured_gpu_hours": Decimal("0.0000"),
        "waste_usd": Decimal("0.00"),
        "allocated_waste_usd": Decimal("0.00"),
        "efficiency_pct": None,
    }


def test_by_provider_carries_the_bill(dataset):
    report = spend_summary(start=D10, end=D12, group_by=["provider"])

    assert slim(report) == [
        ("aws", Decimal("7.0000"), Decimal("28.00"), Decimal("28.00"), Decimal("6.00"), Decimal("30.00")),
        ("gcp", Decimal("2.0000"), Decimal("6.00"), Decimal("5.00"), Decimal("0.00"), Decimal("5.00")),
    ]


def test_by_model_adds_up_to_the_team_figures(dataset):
    report = spend_summary(start=D10, end=D12, group_by=["team", "model_name"])

    assert slim(report) == [
        ("nlp", "llama", Decimal("4.0000"), Decimal("16.00"), Decimal("16.00"), Decimal(0), None),
        ("vision", "vit", Decimal("3.0000"), Decimal("10.00"), Decimal("9.00"), Decimal(0), None),
        ("nlp", "bert", Decimal("2.0000"), Decimal("8.00"), Decimal("8.00"), Decimal(0), None),
        ("(idle)", "(idle)", Decimal(0), Decimal(0), Decimal(0), Decimal("6.00"), None),
    ]


def test_shared_idle_spreads_the_bill_by_gpu_hours(dataset):
    report = spend_summary(start=D10, end=D11, group_by=["team"], idle="share")

    assert slim(report) == [
        ("nlp", Decimal("6.0000"), Decimal("24.00"), Decimal("30.00"), Decimal(0), None),
        ("vision", Decimal("2.0000"), Decimal("6.00"), Decimal("5.00"), Decimal(0), None),
    ]
    assert (report.totals["allocated_usd"], report.totals["idle_usd"], report.totals["billed_usd"]) == (
        Decimal("35.00"),
        Decimal("0.00"),
        Decimal("35.00"),
    )


def test_team_scoping_leaves_out_other_teams_and_the_bill(dataset):
    nlp, _ = dataset
    report = spend_summary(start=D10, end=D12, group_by=["team"], team_ids=[nlp.pk])

    # The bill is the organisation's: idle is unknown in the rows as in the totals, not 0.00.
    assert slim(report) == [("nlp", Decimal("6.0000"), Decimal("24.00"), Decimal("24.00"), None, None)]
    assert (report.totals["billed_usd"], report.totals["idle_usd"]) == (None, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": D11, "end": D10}, "must be before"),
        ({"start": D10, "end": D11, "group_by": ["colour"]}, "unknown group_by colour"),
        ({"start": D10, "end": D11, "idle": "ignore"}, "unknown idle mode"),
    ],
)
def test_bad_parameters_are_refused(db, kwargs, message):
    with pytest.raises(ValueError, match=message):
        spend_summary(**kwargs)
