from rest_framework import serializers

from costs.usage.models import UsageSnapshot
from heliox.api import ModelSerializer


class UsageSnapshotSerializer(ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = UsageSnapshot
        fields = [
            "id", "date", "team", "team_name", "provider", "gpu_type", "gpu_hours", "estimated_cost_usd", "job_count",
            "unpriced_gpu_hours", "unpriced_job_count", "allocated_usd", "allocated_shared_usd",
        ]  # fmt: skip
        read_only_fields = fields
