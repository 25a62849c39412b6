"""Admin helpers shared by the apps."""

from django.core.paginator import Paginator
from django.db import connections
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
