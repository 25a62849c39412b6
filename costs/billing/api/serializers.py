from costs.billing.models import CostSnapshot
from heliox.api import ModelSerializer


class CostSnapshotSerializer(ModelSerializer):
    class Meta:
        model = CostSnapshot
        fields = ["id", "date", "provider", "gpu_type", "cost_usd", "gpu_hours", "idle_usd", "idle_shared_usd"]
        read_only_fields = ["id", "idle_usd", "idle_shared_usd"]
