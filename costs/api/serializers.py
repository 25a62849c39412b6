from rest_framework import serializers

from costs.models import CostSnapshot, GpuPrice, InstanceType, UsageSnapshot


class GpuPriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = GpuPrice
        fields = ["id", "provider", "gpu_type", "region", "pricing", "usd_per_gpu_hour", "effective_from",
                  "effective_to", "source"]  # fmt: skip
        read_only_fields = ["id"]

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("effective_from", getattr(self.instance, "effective_from", None))
        end = attrs.get("effective_to", getattr(self.instance, "effective_to", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"effective_to": "Must be after effective_from."})
        return attrs


class InstanceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = InstanceType
        fields = ["id", "provider", "name", "gpu_type", "gpu_count", "vcpus", "memory_gib"]
        read_only_fields = ["id"]


class CostSnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostSnapshot
        fields = ["id", "date", "provider", "gpu_type", "cost_usd", "gpu_hours", "idle_usd", "idle_shared_usd"]
        read_only_fields = ["id", "idle_usd", "idle_shared_usd"]


class UsageSnapshotSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = UsageSnapshot
        fields = [
            "id", "date", "team", "team_name", "provider", "gpu_type", "gpu_hours", "estimated_cost_usd", "job_count",
            "unpriced_gpu_hours", "unpriced_job_count", "allocated_usd", "allocated_shared_usd",
        ]  # fmt: skip
        read_only_fields = fields


class SummaryRowSerializer(serializers.Serializer):
    """One group of a spend summary. USD as decimal strings; billed null where unknown."""

    team = serializers.CharField(required=False)
    provider = serializers.CharField(required=False)
    gpu_type = serializers.CharField(required=False)
    model_name = serializers.CharField(required=False)
    gpu_hours = serializers.DecimalField(max_digits=18, decimal_places=4)
    unpriced_gpu_hours = serializers.DecimalField(max_digits=18, decimal_places=4)
    estimated_usd = serializers.DecimalField(max_digits=16, decimal_places=2)
    allocated_usd = serializers.DecimalField(max_digits=16, decimal_places=2)
    idle_usd = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    billed_usd = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class SummarySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ListField(child=serializers.CharField())
    idle = serializers.CharField()
    rows = SummaryRowSerializer(many=True)
    totals = SummaryRowSerializer()
