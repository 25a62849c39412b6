"""Admin helpers shared by the apps."""

import json
from datetime import datetime, timedelta

from django import forms
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from heliox.pagination import rows_from_the_end
from heliox.validation import json_problem


class BoundedCountPaginator(Paginator):
    """A paginator that never COUNTs a huge table in full, and still pages to its end.

    It counts at most `COUNT_LIMIT + 1` rows (a LIMITed subquery, cheap on any size).
    Past the limit the count is `approximate`: on PostgreSQL the planner's estimate
    (`pg_class.reltuples` for the whole table, the plan's row estimate when filtered),
    elsewhere the limit itself (a lower bound). Pages past an approximate count are
    still served while they have rows, so `?p=101` reaches the 10,001st job; a short
    page is the end, and fixes the count exactly.
    """

    COUNT_LIMIT = 10_000

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.approximate = False
        self.estimated = False  # the planner's figure, not a lower bound
        self.counted_late = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        bounded = queryset.order_by()[: self.COUNT_LIMIT + 1].count()
        if bounded <= self.COUNT_LIMIT:
            return bounded
        self.approximate = True
        estimate = self._planner_estimate(queryset)
        self.estimated = estimate is not None and estimate > self.COUNT_LIMIT
        return estimate if self.estimated and estimate is not None else self.COUNT_LIMIT

    def validate_number(self, number):
        if not (self.count and self.approximate):
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError) as error:
            raise PageNotAnInteger("That page number is not an integer") from error
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number

    def page(self, number):
        number = self.validate_number(number)
        if not self.approximate:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        if bottom > self.count // 2 and self.object_list.ordered:
            return self._page_from_the_end(number, bottom)
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if not rows:
            raise EmptyPage("That page contains no results")
        if len(rows) < self.per_page:  # the last page: now the count is known exactly
            self.__dict__["count"] = bottom + len(rows)
            self.__dict__.pop("num_pages", None)
            self.approximate = self.estimated = False
        return self._get_page(rows, number, self)

    def _page_from_the_end(self, number: int, bottom: int):
        """A page in the second half of an estimated count: one exact COUNT (a scan, but far cheaper than an
        OFFSET that walks to it), then the page read from the end; the count is exact from then on."""
        count = self.object_list.order_by().count()
        if bottom >= count:
            raise EmptyPage("That page contains no results")
        self.__dict__["count"] = count
        self.__dict__.pop("num_pages", None)
        self.approximate = self.estimated = False
        self.counted_late = True  # the list keeps its "Next page" link, as on the pages before
        rows = rows_from_the_end(self.object_list, count=count, bottom=bottom, per_page=self.per_page)
        return self._get_page(rows, number, self)

    @staticmethod
    def _planner_estimate(queryset) -> int | None:
        """PostgreSQL's row estimate: reltuples (unfiltered, after ANALYZE), else the plan's; None elsewhere."""
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            if not queryset.query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
                if row and row[0] and row[0] > 0:
                    return int(row[0])
            sql, params = queryset.order_by().query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])


def _periods(first: datetime, last: datetime, kind: str) -> list[datetime]:
    """Every year, month or day from `first` to `last` (inclusive), truncated to its start."""
    if kind == "year":
        return [first.replace(year=y, month=1, day=1) for y in range(first.year, last.year + 1)]
    if kind == "month":
        start = first.replace(day=1)
        months = (last.year - start.year) * 12 + last.month - start.month
        return [start.replace(year=start.year + (start.month - 1 + n) // 12, month=(start.month - 1 + n) % 12 + 1)
                for n in range(months + 1)]  # fmt: skip
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class _PeriodsFromBounds(QuerySet):
    """datetimes()/dates() from MIN and MAX (two index look-ups) instead of a DISTINCT over every row.

    The drill-down may offer a period without rows, a fair price for not scanning
    millions of rows on every page view.
    """

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        bounds = self.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        first, last = (timezone.localtime(bounds[k]).replace(hour=0, minute=0, second=0, microsecond=0)
                       for k in ("first", "last"))  # fmt: skip
        periods = _periods(first, last, kind)
        return periods if order == "ASC" else periods[::-1]

    def dates(self, field_name, kind, order="ASC"):
        return [moment.date() for moment in self.datetimes(field_name, kind, order)]


class FastDateHierarchyChangeList(ChangeList):
    """A changelist whose date_hierarchy needs no full scan of a big table, with a link past an approximate count."""

    @property
    def next_page_url(self) -> str | None:
        """The next page, when the count is approximate (or was only counted on this page) and this page is full
        (the page links may stop short)."""
        paginator = getattr(self, "paginator", None)
        past_bound = getattr(paginator, "approximate", False) or getattr(paginator, "counted_late", False)
        if not past_bound or len(self.result_list) < self.list_per_page:
            return None
        return self.get_query_string({PAGE_VAR: self.page_num + 1})

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        queryset.__class__ = type("FastDateHierarchyQuerySet", (_PeriodsFromBounds, queryset.__class__), {})
        return queryset


class StorableJSONField(forms.JSONField):
    """The admin's JSON field, refusing what no column can hold as the API and the imports do.

    A NUL character or a lone surrogate (PostgreSQL's JSON takes neither), nesting past
    MAX_JSON_DEPTH, and text Python's parser gives up on (an int of 5,000 digits, 5,000
    brackets) are form errors, not a 500.
    """

    def to_python(self, value):
        if not self.disabled and isinstance(value, str) and value.strip():
            try:
                parsed = json.loads(value)
            except (ValueError, RecursionError):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
            problem = json_problem(parsed)
            if problem:
                where, message = problem
                raise forms.ValidationError(f"{where}: {message}" if where else message, code="invalid")
        return super().to_python(value)

    def bound_data(self, data, initial):
        """What the form shows again after an error: the text as typed when it is not storable JSON."""
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            return forms.fields.InvalidJSONInput(data)
        return forms.fields.InvalidJSONInput(data) if json_problem(parsed) else parsed
