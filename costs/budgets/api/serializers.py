from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from costs.budgets.models import (
    MAX_EMAILS,
    MAX_TARGET_LENGTH,
    MAX_THRESHOLD_PERCENT,
    MAX_THRESHOLDS,
    MAX_WEBHOOKS,
    Budget,
    validate_emails,
    validate_thresholds,
    validate_webhook_urls,
)
from costs.budgets.selectors import STATUSES
from heliox.api import DECIMAL_STRING_OR_NULL, ModelSerializer
from heliox.permissions import staff_can
from teams.models import Membership, Team
from teams.selectors import member_team_ids


class StoredList(serializers.ListField):
    """A JSON list column: validated on the way in; shown as stored (a budget stored out of bounds is `invalid`)."""

    def to_representation(self, data):
        return list(data) if isinstance(data, list) else []


class BudgetSerializer(ModelSerializer):
    """A team budget with where it stands today: spend, run-rate projection and status (USD).

    `emails` and `webhook_urls` are secrets: only staff and the team's managers see
    them; for members they are left out.
    """

    SECRETS = ("emails", "webhook_urls")

    team_name = serializers.CharField(source="team.name", read_only=True)
    thresholds = StoredList(
        child=serializers.IntegerField(min_value=1, max_value=MAX_THRESHOLD_PERCENT),
        min_length=1,
        max_length=MAX_THRESHOLDS,
        required=False,
        help_text=f"Percentages of the budget that alert: 1 to {MAX_THRESHOLDS}, each 1-{MAX_THRESHOLD_PERCENT}.",
    )
    emails = StoredList(
        child=serializers.EmailField(), max_length=MAX_EMAILS, required=False,
        help_text="Recipients of the alerts (managers and staff only).",
    )  # fmt: skip
    webhook_urls = StoredList(
        child=serializers.URLField(max_length=MAX_TARGET_LENGTH), max_length=MAX_WEBHOOKS, required=False,
        help_text="http(s) URLs POSTed a Slack-style alert; public addresses only (managers and staff only).",
    )  # fmt: skip
    period_start = serializers.SerializerMethodField()
    spent_usd = serializers.SerializerMethodField()
    projected_usd = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    problem = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id", "team", "team_name", "amount_usd", "period", "thresholds", "emails", "webhook_urls",
            "run_rate_days", "min_efficiency_pct", "efficiency_days", "active",
            "period_start", "spent_usd", "projected_usd", "percent", "status", "problem",
        ]  # fmt: skip
        read_only_fields = ["id"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        writes_any_team = request and staff_can(request.user, "change" if self.instance else "add", Budget)
        if request and request.user.is_authenticated and not writes_any_team:
            fields["team"].queryset = Team.objects.filter(pk__in=member_team_ids(request.user, Membership.Role.MANAGER))
        return fields

    def to_representation(self, budget: Budget) -> dict:
        data = super().to_representation(budget)
        request = self.context.get("request")
        if request is not None and not staff_can(request.user, "view", Budget):
            if "managed" not in self.context:  # once per request, not per budget
                self.context["managed"] = set(member_team_ids(request.user, Membership.Role.MANAGER))
            if budget.team_id not in self.context["managed"]:
                for name in self.SECRETS:
                    data.pop(name, None)
        return data

    def _status(self, budget: Budget):
        return self.context.get("statuses", {}).get(budget.pk)

    def _figure(self, budget: Budget, name: str) -> str | None:
        value = getattr(self._status(budget), name, None)
        return None if value is None else str(value)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_period_start(self, budget: Budget):
        return getattr(self._status(budget), "period_start", None)

    @extend_schema_field(DECIMAL_STRING_OR_NULL)
    def get_spent_usd(self, budget: Budget) -> str | None:
        return self._figure(budget, "spent")

    @extend_schema_field(DECIMAL_STRING_OR_NULL)
    def get_projected_usd(self, budget: Budget) -> str | None:
        return self._figure(budget, "projected")

    @extend_schema_field(DECIMAL_STRING_OR_NULL)
    def get_percent(self, budget: Budget) -> str | None:
        return self._figure(budget, "percent")

    @extend_schema_field(serializers.ChoiceField(choices=STATUSES, allow_null=True))
    def get_status(self, budget: Budget) -> str | None:
        return getattr(self._status(budget), "status", None)

    @extend_schema_field(OpenApiTypes.STR)
    def get_problem(self, budget: Budget) -> str:
        """Why the budget is invalid (a row stored out of bounds); '' when it is not."""
        return getattr(self._status(budget), "problem", "")

    def validate_thresholds(self, value: list) -> list:
        return _model_check(validate_thresholds, value)

    def validate_emails(self, value: list) -> list:
        return _model_check(validate_emails, value)

    def validate_webhook_urls(self, value: list) -> list:
        return _model_check(validate_webhook_urls, value)

    def validate(self, attrs: dict) -> dict:
        candidate = Budget(**{name: attrs.get(name, getattr(self.instance, name, None))
                              for name in ("period", "run_rate_days")})  # fmt: skip
        candidate.period = candidate.period or Budget.Period.MONTHLY
        candidate.run_rate_days = candidate.run_rate_days or Budget._meta.get_field("run_rate_days").default
        _model_check(lambda _: candidate.clean(), None)
        return attrs


def _model_check(check, value):
    """Run a model validator; its ValidationError becomes DRF's (a 400 naming the field)."""
    try:
        check(value)
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else error.messages
        raise serializers.ValidationError(detail) from None
    return value
