"""What every Heliox API endpoint shares and no app owns: the parser, errors, serializers, pagination, CSV."""

import csv
import io
import json
from datetime import UTC
from decimal import Decimal

import django_filters
from csp.constants import UNSAFE_INLINE
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, renderers, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils import encoders

from heliox.csv_safety import safe_cell
from heliox.validation import json_problem

# Money and hours go out as decimal strings ("32.00"), never JSON numbers: the schema says so.
DECIMAL_STRING = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
DECIMAL_STRING_OR_NULL = {**DECIMAL_STRING, "nullable": True}


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


def _instant(text: str) -> bool:
    """Whether `text` is a date-time that can be turned into UTC."""
    try:
        moment = parse_datetime(text)
        if moment is not None and timezone.is_aware(moment):
            moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return moment is not None


class JobCursorPagination(CursorPagination):
    """Cursor pagination: no COUNT of a table of millions, stable under inserts."""

    ordering = "-created_at"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    invalid_cursor_message = "Not a cursor of this list: follow the `next` or `previous` link as given."

    def decode_cursor(self, request):
        """A cursor is base64 of a query string that anyone can forge: its position must be a date-time, or a 400
        naming `cursor` (DRF's is a 404, as if the list were not there)."""
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = None
        else:
            if cursor is None or cursor.position is None or _instant(cursor.position):
                return cursor
        raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})


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
