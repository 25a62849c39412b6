from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from costs.models import Budget, CostSnapshot, GpuPrice, InstanceType, LlmCall, UsageSnapshot
from heliox.api import member_team_ids
from heliox.permissions import staff_can
from teams.models import Membership, Team


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


class BudgetSerializer(serializers.ModelSerializer):
    """A team budget with where it stands today: spend, run-rate projection and status (USD)."""

    team_name = serializers.CharField(source="team.name", read_only=True)
    period_start = serializers.SerializerMethodField()
    spent_usd = serializers.SerializerMethodField()
    projected_usd = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id", "team", "team_name", "amount_usd", "period", "thresholds", "emails", "webhook_urls",
            "run_rate_days", "active", "period_start", "spent_usd", "projected_usd", "percent", "status",
        ]  # fmt: skip
        read_only_fields = ["id"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        writes_any_team = request and staff_can(request.user, "change" if self.instance else "add", Budget)
        if request and request.user.is_authenticated and not writes_any_team:
            fields["team"].queryset = Team.objects.filter(pk__in=member_team_ids(request.user, Membership.Role.MANAGER))
        return fields

    def _status(self, budget: Budget):
        return self.context.get("statuses", {}).get(budget.pk)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_period_start(self, budget: Budget):
        status = self._status(budget)
        return status and status.period_start

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_spent_usd(self, budget: Budget):
        status = self._status(budget)
        return status and str(status.spent)

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_projected_usd(self, budget: Budget):
        status = self._status(budget)
        return status and str(status.projected)

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_percent(self, budget: Budget):
        status = self._status(budget)
        return status and str(status.percent)

    @extend_schema_field(serializers.ChoiceField(choices=["ok", "warning", "projected-overrun", "exceeded"]))
    def get_status(self, budget: Budget):
        status = self._status(budget)
        return status and status.status

    def validate(self, attrs: dict) -> dict:
        current = (
            {f: getattr(self.instance, f) for f in ("thresholds", "emails", "webhook_urls")} if self.instance else {}
        )
        candidate = Budget(**current, **{k: v for k, v in attrs.items() if k not in ("team", *current)})
        for name in current:
            setattr(candidate, name, attrs.get(name, current[name]))
        try:
            candidate.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs


class LlmCallSerializer(serializers.ModelSerializer):
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

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_cost_usd(self, call: LlmCall) -> str | None:
        """Exact (12 decimals); null when the model had no price at the call's time."""
        return None if call.cost_usd is None else f"{call.cost_usd:.12f}"
