from datetime import date
from decimal import Decimal

import factory

from costs.billing.models import CostSnapshot
from jobs.models import Provider


class CostSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostSnapshot

    date = date(2025, 3, 10)
    provider = Provider.AWS
    gpu_type = "H100"
    cost_usd = Decimal("100.00")
