from datetime import date
from decimal import Decimal

import factory

from costs.usage.models import UsageSnapshot
from jobs.models import Provider
from teams.tests.factories import TeamFactory


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
