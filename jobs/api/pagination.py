"""Pages of the job list: by a cursor on creation time, or by offset when sorted by a cost total."""

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from heliox.api import JobCursorPagination
from jobs.models import SORTABLE_TOTALS
from jobs.selectors import jobs_by_total

MAX_OFFSET = 100_000


class JobPagination(JobCursorPagination):
    """Cursor pages (newest first) unless `ordering` names a total: `-estimated_usd`, `allocated_usd`...

    Totals repeat and are null until rolled up, which a cursor cannot hold, so sorted
    lists page by `offset` (at most 100,000 deep): largest (or smallest) first, unknown
    last; the money totals on their indexes (jobs_totals_estimated_idx, jobs_totals_allocated_idx).
    """

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        ordering = request.query_params.get("ordering", "")
        self.sorted_by = ordering.lstrip("-")
        if not ordering:
            return super().paginate_queryset(queryset, request, view)
        if self.sorted_by not in SORTABLE_TOTALS:
            choices = ", ".join(f"{name}, -{name}" for name in SORTABLE_TOTALS)
            raise ValidationError({"ordering": [f"Unknown ordering {ordering!r}; use one of {choices}."]})
        try:
            self.offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            raise ValidationError({"offset": ["Must be a whole number."]}) from None
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError({"offset": [f"Must be between 0 and {MAX_OFFSET:,}."]})
        self.page_size = self.get_page_size(request) or self.page_size
        self.base_url = request.build_absolute_uri()
        rows = jobs_by_total(queryset.order_by(), name=self.sorted_by, descending=ordering.startswith("-"),
                             offset=self.offset, limit=self.page_size + 1)  # fmt: skip
        self.has_more = len(rows) > self.page_size
        return rows[: self.page_size]

    def get_paginated_response(self, data):
        if not getattr(self, "sorted_by", ""):
            return super().get_paginated_response(data)
        url = remove_query_param(self.base_url, "cursor")
        more = self.has_more and self.offset + self.page_size <= MAX_OFFSET
        next_url = replace_query_param(url, "offset", self.offset + self.page_size) if more else None
        previous = None
        if self.offset:
            previous = replace_query_param(url, "offset", max(0, self.offset - self.page_size))
        return Response({"next": next_url, "previous": previous, "results": data})
