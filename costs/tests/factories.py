from datetime import UTC, date, datetime
from decimal import Decimal

import factory

from costs.models import CostSnapshot, GpuPrice, InstanceType, UsageSnapshot
from jobs.models import Pricing, Provider
from teams.tests.factories import TeamFactory


class GpuPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GpuPrice

    provider = Provider.AWS
    gpu_type = "H100"
    region = ""
    pricing = Pricing.ON_DEMAND
    usd_per_gpu_hour = Decimal("4.0000")
    effective_from = datetime(2024, 1, 1, tzinfo=UTC)
    effective_to = None


class InstanceTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstanceType

    provider = Provider.AWS
    name = factory.Sequence(lambda n: f"p5.{n}xlarge")
    gpu_type = "H100"
    gpu_count = 8


class CostSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostSnapshot

    date = date(2025, 3, 10)
    provider = Provider.AWS
    gpu_type = "H100"
    cost_usd = Decimal("100.00")


class UsageSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageSnapshot

    date = date(2025, 3, 10)
    team = factory.SubFactory(TeamFactory)
    provider = Provider.AWS
    gpu_type = "H100"
    gpu_hours = Decimal("10.0000")
    estimated_cost_usd = Decimal("40.00")
    job_count = 1
