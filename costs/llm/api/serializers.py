from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from costs.llm.models import LlmCall
from heliox.api import DECIMAL_STRING_OR_NULL, ModelSerializer


class LlmCallSerializer(ModelSerializer):
    """One logged LLM call (read side). Writes go through the batch ingest, which validates the whole list."""

    team_name = serializers.CharField(source="team.name", read_only=True)
    cost_usd = serializers.SerializerMethodField()

    class Meta:
        model = LlmCall
        fields = [
            "id",
            "team",
            "team_name",
            "provider",
            "model",
            "session_id",
            "node_name",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "latency_ms",
            "created_at",
            "cost_usd",
            "metadata",
        ]
        read_only_fields = fields

    @extend_schema_field(DECIMAL_STRING_OR_NULL)
    def get_cost_usd(self, call: LlmCall) -> str | None:
        """Exact (12 decimals); null when the model had no price at the call's time."""
        return None if call.cost_usd is None else f"{call.cost_usd:.12f}"
