from datetime import UTC, datetime

import factory

from costs.llm.models import LlmCall
from teams.tests.factories import TeamFactory


class LlmCallFactory(factory.django.DjangoModelFactory):
    """A priced-later call: cost_picousd is what the ingest would store (None: unpriced)."""

    class Meta:
        model = LlmCall

    team = factory.SubFactory(TeamFactory)
    provider = "openai"
    model = "gpt-4o"
    input_tokens = 1000
    output_tokens = 100
    created_at = datetime(2025, 3, 10, 12, tzinfo=UTC)
    cost_picousd = None
