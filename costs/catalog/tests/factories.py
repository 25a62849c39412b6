from datetime import UTC, datetime
from decimal import Decimal

import factory

from costs.catalog.models import GpuPrice, InstanceType
from jobs.models import Pricing, Provider


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
