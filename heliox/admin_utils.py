"""Admin helpers shared by the apps."""

from datetime import datetime, timedelta

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property


class BoundedCountPaginator(Paginator):
    """A paginator that never COUNTs a huge table in full.

    It counts at most `COUNT_LIMIT + 1` rows (a LIMITed subquery, cheap on any
    size). Past the limit it reports PostgreSQL's planner estimate for an
    unfiltered table, or the limit itself, so page links stay usable while a
    page view costs the same with 10 thousand or 10 million rows.
    """

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        bounded = queryset.order_by()[: self.COUNT_LIMIT + 1].count()
        if bounded <= self.COUNT_LIMIT:
            return bounded
        estimate = self._planner_estimate(queryset)
        return max(estimate, self.COUNT_LIMIT) if estimate is not None else self.COUNT_LIMIT

    @staticmethod
    def _planner_estimate(queryset) -> int | None:
        if queryset.query.where:
            return None  # filtered: the table estimate would be wrong
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
            )
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] and row[0] > 0 else None


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
    """A changelist whose date_hierarchy needs no full scan of a big table."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        queryset.__class__ = type("FastDateHierarchyQuerySet", (_PeriodsFromBounds, queryset.__class__), {})
        return queryset
