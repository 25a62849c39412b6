from datetime import UTC, date, datetime
from decimal import Decimal

from costs.billing.models import CostSnapshot
from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory, InstanceTypeFactory
from costs.usage.tests.factories import UsageSnapshotFactory
from heliox.testing import assert_rejected_by_database
from teams.tests.factories import TeamFactory


def test_database_rejects_negative_cost(db):
    assert_rejected_by_database(lambda: CostSnapshotFactory(cost_usd=Decimal("-0.01")))


def test_database_rejects_negative_estimated_cost(db):
    assert_rejected_by_database(lambda: UsageSnapshotFactory(estimated_cost_usd=Decimal("-1.00")))


def test_database_rejects_negative_gpu_hours(db):
    assert_rejected_by_database(lambda: UsageSnapshotFactory(gpu_hours=Decimal("-0.0001")))
    assert_rejected_by_database(lambda: CostSnapshotFactory(gpu_hours=Decimal("-1")))


def test_database_rejects_negative_price(db):
    assert_rejected_by_database(lambda: GpuPriceFactory(usd_per_gpu_hour=Decimal("-0.0001")))


def test_database_rejects_price_that_ends_before_it_starts(db):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert_rejected_by_database(lambda: GpuPriceFactory(effective_from=start, effective_to=start))


def test_database_rejects_duplicate_price_key(db):
    GpuPriceFactory()
    assert_rejected_by_database(lambda: GpuPriceFactory(usd_per_gpu_hour=Decimal("5")))


def test_database_rejects_instance_type_without_gpus(db):
    assert_rejected_by_database(lambda: InstanceTypeFactory(gpu_count=0))


def test_database_rejects_duplicate_cost_snapshot_key(db):
    CostSnapshotFactory(date=date(2025, 3, 10), provider="aws", gpu_type="H100")
    assert_rejected_by_database(lambda: CostSnapshotFactory(date=date(2025, 3, 10), provider="aws", gpu_type="H100"))


def test_cost_snapshots_differing_in_one_key_field_coexist(db):
    CostSnapshotFactory(date=date(2025, 3, 10), provider="aws", gpu_type="H100")
    CostSnapshotFactory(date=date(2025, 3, 11), provider="aws", gpu_type="H100")
    CostSnapshotFactory(date=date(2025, 3, 10), provider="gcp", gpu_type="H100")
    CostSnapshotFactory(date=date(2025, 3, 10), provider="aws", gpu_type="A100")
    assert CostSnapshot.objects.count() == 4


def test_database_rejects_duplicate_usage_snapshot_key(db):
    team = TeamFactory()
    UsageSnapshotFactory(team=team)
    assert_rejected_by_database(lambda: UsageSnapshotFactory(team=team))


def test_str_of_catalog_rows(db):
    assert str(GpuPriceFactory(region="us-east-1")) == "aws H100 on_demand (us-east-1): $4.0000/GPU-h"
    assert str(InstanceTypeFactory(name="p5.48xlarge")) == "aws p5.48xlarge (8 x H100)"
