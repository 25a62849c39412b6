"""What every Heliox API endpoint shares: team scoping, permissions, pagination, CSV, range parameters."""

import csv
import io
import json
from datetime import UTC, timedelta
from decimal import Decimal

import django_filters
from csp.constants import UNSAFE_INLINE
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, permissions, renderers, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils import encoders

from costs.allocation import IDLE_MODES, SEPARATE
from costs.models import FxRate
from costs.selectors import GROUP_BY_FIELDS, INTERVALS
from costs.selectors.spend import KINDS
from heliox.csv_safety import safe_cell
from heliox.dates import add_months, month_start
from heliox.permissions import permission_for, sees_organisation_spend, staff_can
from heliox.validation import json_problem
from teams.models import Membership

MAX_RANGE_DAYS = 3 * 366
# Money and hours go out as decimal strings ("32.00"), never JSON numbers: the schema says so.
DECIMAL_STRING = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
DECIMAL_STRING_OR_NULL = {**DECIMAL_STRING, "nullable": True}


def member_team_ids(user, role: str | None = None) -> list:
    """Ids of the teams `user` belongs to (with `role`, when given)."""
    memberships = Membership.objects.filter(user=user)
    if role:
        memberships = memberships.filter(role=role)
    return list(memberships.values_list("team_id", flat=True))


def team_scope(user) -> list | None:
    """None (everything) for staff who may view the organisation's spend; otherwise the user's teams."""
    return None if sees_organisation_spend(user) else member_team_ids(user)


class TeamScopedMixin:
    """Scopes every queryset to the user's teams; the one place where that rule lives.

    `team_field` is the lookup from the model to its team ("team", or "pk" for Team
    itself). None means the data is not a team's (the price catalog): everyone
    authenticated reads it. `staff_only` hides the data from everyone without the view
    permission (the organisation's bill). Staff with the model's view permission see every
    team's rows; another team's object is otherwise simply not found: 404.
    """

    team_field: str | None = "team"
    staff_only: bool = False

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        user = self.request.user
        if not user.is_authenticated:  # schema generation; requests are refused before this
            return queryset.none()
        if staff_can(user, "view", queryset.model):
            return queryset
        if self.staff_only:
            return queryset.none()
        if self.team_field is None:
            return queryset
        return queryset.filter(**{f"{self.team_field}__in": member_team_ids(user)})


class StaffWritePermission(permissions.BasePermission):
    """Anyone authenticated reads (what their scope shows); staff write with the model's add/change/delete perm."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) and (
            request.method in permissions.SAFE_METHODS
            or staff_can(request.user, permission_for(request, view), view.queryset.model)
        )


class TeamRolePermission(permissions.BasePermission):
    """Staff with the model permission: any team. Others by their role in the object's team.

    Members may do `member_actions` (jobs: create, finish: a scheduler's account); managers
    every write. Reads are scoped by TeamScopedMixin.
    """

    member_actions: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or self._staff(request, view):
            return True
        if view.action in self.member_actions:
            return bool(member_team_ids(request.user))
        return bool(member_team_ids(request.user, Membership.Role.MANAGER))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS or self._staff(request, view):
            return True
        if view.action in self.member_actions:
            return obj.team_id in member_team_ids(request.user)
        return obj.team_id in member_team_ids(request.user, Membership.Role.MANAGER)

    def _staff(self, request, view) -> bool:
        return staff_can(request.user, permission_for(request, view), view.queryset.model)


class JobPermission(TeamRolePermission):
    """Members register jobs (create, finish); managers also edit and delete them."""

    member_actions = ("create", "finish")


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"


class JSONBodyParser(JSONParser):
    """The API's only parser: JSON of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, every string storable.

    One place for what no serializer field can judge: a body too large (413), nesting
    past the interpreter's limit, and strings (values and keys, anywhere in the body)
    with a NUL character or a lone surrogate, or nesting deeper than 32 levels (400
    naming the field by its path, e.g. `metadata.tags[2]`).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1 if limit is not None else -1)
        if limit is not None and len(raw) > limit:
            raise BodyTooLarge(f"The request body is larger than {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).")
        try:
            text = raw.decode((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
            data = json.loads(text, parse_constant=_no_constant if self.strict else None)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        problem = json_problem(data)
        if problem:
            where, message = problem
            raise exceptions.ParseError({where or "body": [message]})
        return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def api_exception_handler(exc, context):
    """DRF's handler, plus Django's request errors (too large, too many fields) as JSON rather than an HTML page."""
    from rest_framework.views import exception_handler  # views read the settings that name this module

    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = BodyTooLarge(f"The request body is larger than {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc))
    return exception_handler(exc, context)


# The columns' ranges on PostgreSQL, applied on every database (SQLite would take any 64-bit value).
INTEGER_RANGES = BaseDatabaseOperations.integer_field_ranges


class ModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose integer fields accept exactly what their column holds, on every database."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.IntegerField) and not model_field.choices:
            low, high = INTEGER_RANGES.get(model_field.get_internal_type(), (None, None))
            if low is not None:
                kwargs["min_value"] = max(kwargs.get("min_value", low), low)
                kwargs["max_value"] = min(kwargs.get("max_value", high), high)
        return field_class, kwargs


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, turned into UTC: offsets PostgreSQL refuses (-17:35) and years past 1..9999 are errors."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or timezone.is_naive(moment):
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range once in UTC (years 1 to 9999).", code="overflow") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class FilterSet(django_filters.FilterSet):
    """The API's FilterSet: date-times are compared in UTC, whatever offset they were given with."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": UTCDateTimeFilter},
    }


class JobCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT of a table of millions, stable under inserts."""

    ordering = "-created_at"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class DecimalAsStringEncoder(encoders.JSONEncoder):
    """Money and hours stay exact: Decimal becomes a string, never a float (DRF's default)."""

    def default(self, obj):
        if isinstance(obj, Decimal):
            return str(obj)
        return super().default(obj)


class ExactJSONRenderer(JSONRenderer):
    encoder_class = DecimalAsStringEncoder


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages. Their templates set a few inline styles (never an inline script), so these
    pages, and only these, allow inline styles in the Content-Security-Policy."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:  # django-csp adds it to the enforced or the report-only policy, whichever is set
            response._csp_update = response._csp_update_ro = {"style-src": [UNSAFE_INLINE]}
        return super().render(data, accepted_media_type, renderer_context)


def error_rows(errors, field: str = ""):
    """DRF's error body as (field, message) rows: {"end": ["Must be after start."]} -> end, Must be after start."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from error_rows(value, f"{field}.{key}" if field else str(key))
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            yield from error_rows(value, field if not isinstance(value, dict | list) else f"{field}[{index}]")
    else:
        yield {"field": field, "message": str(errors)}


class CSVRenderer(BaseRenderer):
    """`?format=csv`: a list of flat rows as CSV; text that a spreadsheet would run as a formula is quoted."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        columns = None
        if response is not None and response.status_code >= 400:
            data, columns = list(error_rows(data)), ["field", "message"]
        if isinstance(data, dict) and "rows" in data:  # {"rows": [...], "columns": [...] (when there may be none)}
            data, columns = data["rows"], data.get("columns")
        if not isinstance(data, list):
            data = [data] if isinstance(data, dict) else [{"detail": str(data)}]
        out = io.StringIO()
        columns = list(data[0]) if data else columns
        if columns:
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            for row in data:
                writer.writerow({key: safe_cell("" if value is None else value) for key, value in row.items()})
        return out.getvalue().encode(self.charset)


class RangeParams(serializers.Serializer):
    """Query parameters of the aggregate endpoints. Dates are UTC days; `end` is exclusive.

    A missing range is the current month; a missing end is the first day of the month after start.
    """

    start = serializers.DateField(required=False, help_text="First UTC day (YYYY-MM-DD).")
    end = serializers.DateField(required=False, help_text="Day after the last one (exclusive).")
    group_by = serializers.CharField(
        required=False, default="", help_text=f"Comma list of {', '.join(GROUP_BY_FIELDS)}."
    )
    interval = serializers.ChoiceField(choices=INTERVALS, default="day", help_text="Time series step.")
    idle = serializers.ChoiceField(
        choices=IDLE_MODES, default=SEPARATE, help_text="separate: idle kept apart; share: spread by GPU-hours."
    )
    kind = serializers.ChoiceField(choices=KINDS, default="gpu", help_text="gpu, llm (API calls) or all.")
    currency = serializers.CharField(
        required=False, default="USD", help_text="Show money in this currency (rates set with set_fx_rate)."
    )

    def validate_currency(self, value: str) -> str:
        code = value.strip().upper()
        if code != "USD" and not FxRate.objects.filter(currency=code).exists():
            raise serializers.ValidationError(f"Unknown currency {value!r}: no exchange rate is set for it.")
        return code

    def validate_group_by(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in GROUP_BY_FIELDS]
        if unknown:
            raise serializers.ValidationError(f"Unknown: {', '.join(unknown)}. Use {', '.join(GROUP_BY_FIELDS)}.")
        return list(dict.fromkeys(names))

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("start"), attrs.get("end")
        if start is None and end is None:
            start = month_start(timezone.now().date())
        if start is None:
            start = month_start(end - timedelta(days=1))
        if end is None:
            end = add_months(month_start(start), 1)
        if start >= end:
            raise serializers.ValidationError({"end": f"Must be after start ({start}); end is exclusive."})
        if (end - start).days > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"end": f"The range may span at most 3 years ({MAX_RANGE_DAYS} days)."})
        return {**attrs, "start": start, "end": end}
