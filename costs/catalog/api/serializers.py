from rest_framework import serializers

from costs.catalog.models import GpuPrice, InstanceType
from heliox.api import ModelSerializer


class GpuPriceSerializer(ModelSerializer):
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


class InstanceTypeSerializer(ModelSerializer):
    class Meta:
        model = InstanceType
        fields = ["id", "provider", "name", "gpu_type", "gpu_count", "vcpus", "memory_gib"]
        read_only_fields = ["id"]
