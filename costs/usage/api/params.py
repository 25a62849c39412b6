"""The query parameters of the aggregate endpoints (and the dashboard's range): validated, with defaults."""

from collections.abc import Collection
from datetime import date, timedelta
from uuid import UUID

from django.utils import timezone
from rest_framework import serializers

from costs.billing.allocation import IDLE_MODES, SEPARATE
from costs.usage.models import FxRate
from costs.usage.selectors.filters import SpendFilter, label_filter_parse
from costs.usage.selectors.spend import GROUP_BY_FIELDS, INTERVALS, KINDS, group_by_parse
from heliox.dates import add_months, month_start
from teams.models import Team

MAX_RANGE_DAYS = 3 * 366


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)  # room for a default month, a week, a day before


def _within_calendar(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise serializers.ValidationError(f"Must be a day of the years {FIRST_DAY.year} to {LAST_DAY.year}.")
    return value


class RangeParams(serializers.Serializer):
    """Query parameters of the aggregate endpoints. Dates are UTC days; `end` is exclusive.

    A missing range is the current month; a missing end is the first day of the month after start.
    """

    start = serializers.DateField(required=False, help_text="First UTC day (YYYY-MM-DD).")
    end = serializers.DateField(required=False, help_text="Day after the last one (exclusive).")
    group_by = serializers.CharField(
        required=False, default="", help_text=f"Comma list of {', '.join(GROUP_BY_FIELDS)}, label:<key>."
    )
    interval = serializers.ChoiceField(choices=INTERVALS, default="day", help_text="Time series step.")
    idle = serializers.ChoiceField(
        choices=IDLE_MODES, default=SEPARATE, help_text="separate: idle kept apart; share: spread by GPU-hours."
    )
    kind = serializers.ChoiceField(choices=KINDS, default="gpu", help_text="gpu, llm (API calls) or all.")
    currency = serializers.CharField(
        required=False, default="USD", help_text="Show money in this currency (rates set with set_fx_rate)."
    )

    def validate_start(self, value: date) -> date:
        return _within_calendar(value)

    def validate_end(self, value: date) -> date:
        return _within_calendar(value)

    def validate_currency(self, value: str) -> str:
        code = value.strip().upper()
        if code != "USD" and not FxRate.objects.filter(currency=code).exists():
            raise serializers.ValidationError(f"Unknown currency {value!r}: no exchange rate is set for it.")
        return code

    def validate_group_by(self, value: str) -> list[str]:
        try:
            return group_by_parse(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict) -> dict:
        start: date | None = attrs.get("start")
        end: date | None = attrs.get("end")
        if start is None:
            start = month_start(end - timedelta(days=1) if end is not None else timezone.now().date())
        if end is None:
            end = add_months(month_start(start), 1)
        if start >= end:
            raise serializers.ValidationError({"end": f"Must be after start ({start}); end is exclusive."})
        if (end - start).days > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"end": f"The range may span at most 3 years ({MAX_RANGE_DAYS} days)."})
        return {**attrs, "start": start, "end": end}


class FilterParams(serializers.Serializer):
    """The filter bar's parameters (the dashboard and the member home): each narrows every figure of the page."""

    team = serializers.UUIDField(required=False, help_text="A team's id.")
    provider = serializers.CharField(required=False, max_length=64, help_text="A provider slug, e.g. aws or openai.")
    gpu_type = serializers.CharField(required=False, max_length=32, help_text="A GPU type, e.g. H100.")
    model = serializers.CharField(required=False, max_length=200, help_text="A model name.")
    label = serializers.CharField(required=False, max_length=300, help_text="A cost label, key=value.")  # type: ignore[assignment]

    def validate_label(self, value: str) -> tuple[str, str]:
        try:
            return label_filter_parse(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


FILTER_PARAMS = ("team", "provider", "gpu_type", "model", "label")


def view_filters(params, scope: Collection[UUID] | None) -> tuple[list[UUID] | None, SpendFilter, dict]:
    """The filter bar's narrowing: (team_ids, SpendFilter, errors by parameter). A bad value is named in the
    errors and left out; a team outside `scope` (a member's own teams) is refused as unknown, never shown."""
    data = {name: str(params.get(name, "")).strip() for name in FILTER_PARAMS}
    data = {name: value for name, value in data.items() if value}
    checked = FilterParams(data=data)
    errors: dict = {}
    if not checked.is_valid():
        errors = {name: [str(why) for why in whys] for name, whys in checked.errors.items()}
        checked = FilterParams(data={name: value for name, value in data.items() if name not in errors})
        checked.is_valid(raise_exception=True)
    values = checked.validated_data
    team_ids = None if scope is None else list(scope)
    if "team" in values:
        if (scope is None or values["team"] in scope) and Team.objects.filter(pk=values["team"]).exists():
            team_ids = [values["team"]]
        else:
            errors["team"] = [f"Unknown team {values['team']}."]
    spend_filter = SpendFilter(provider=values.get("provider", ""), gpu_type=values.get("gpu_type", ""),
                               model=values.get("model"), label=values.get("label"))  # fmt: skip
    return team_ids, spend_filter, errors
