from datetime import UTC, datetime, timedelta

import factory

from jobs.models import Job, JobStatus, Pricing, Provider
from teams.tests.factories import TeamFactory


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    team = factory.SubFactory(TeamFactory)
    model_name = "llama-3-8b"
    provider = Provider.AWS
    gpu_type = "H100"
    gpu_count = 1
    pricing = Pricing.ON_DEMAND
    start_time = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    end_time = factory.LazyAttribute(lambda job: job.start_time + timedelta(hours=2) if job.start_time else None)
    status = JobStatus.SUCCEEDED
