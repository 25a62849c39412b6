"""The admin job list sorted by a rolled-up total: known totals by value, unknown (null) ones last, either way.

Django's admin reverses a column's `desc(nulls_last=True)` into `asc(nulls_first=True)` and breaks ties by
the list's default ordering (start time), then the primary key: the unknown totals came first when ascending,
and the 83,137 unknown jobs of a million were one group sorted by start time (1.2 s). Here a total column
sorts alone, unknown last both ways, ties by id in the direction the total's index
(jobs_totals_<total>_idx: total DESC NULLS LAST, job) reads them:

- most first: `total DESC NULLS LAST, id ASC`: the known totals (the index read forwards), then the unknown;
- least first: `total ASC NULLS LAST, id DESC`: the known totals (the index backwards), then the unknown.

The unknown ones are the jobs without a totals row (not rolled up) and those whose total is null (unpriced):
a LEFT JOIN that no index of the totals orders, so they are a query of their own, by the job's primary key.
"""

from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ORDER_VAR
from django.db.models import F, OrderBy, QuerySet

from heliox.admin_utils import FastDateHierarchyChangeList
from jobs.models import INDEXED_TOTALS, SORTABLE_TOTALS
from jobs.selectors import rows_of_parts
from jobs.totals import sort_key

SORT_KEYS = {sort_key(name): name for name in SORTABLE_TOTALS}
PART = "heliox_total_part"  # marks the query of a part that split_by_nulls made


def total_of(item) -> str | None:
    """The total an ordering item sorts by, as the ORM path from the job (`OrderBy(F("totals__estimated_usd"))`),
    or None."""
    if isinstance(item, OrderBy) and isinstance(item.expression, F) and item.expression.name in SORT_KEYS:
        return item.expression.name
    return None


def by_total(name: str, *, descending: bool) -> list[OrderBy]:
    """A total, most (or least) first, unknown last; ties by id as the total's index holds them."""
    if descending:
        return [F(name).desc(nulls_last=True), F("id").asc()]
    return [F(name).asc(nulls_last=True), F("id").desc()]


def _effective_ordering(queryset: QuerySet) -> list[OrderBy] | None:
    """The queryset's ordering as the SQL will have it (reverse() applied), when it is all OrderBy of fields."""
    items = []
    for item in queryset.query.order_by:
        if not (isinstance(item, OrderBy) and isinstance(item.expression, F)):
            return None
        item = item.copy()
        if not queryset.query.standard_ordering:
            item.reverse_ordering()
        items.append(item)
    return items


def split_by_nulls(queryset: QuerySet) -> tuple[QuerySet, QuerySet] | None:
    """(first part, second part) when the queryset is ordered by an indexed total with its nulls placed (ties
    by id): the known totals on the total's index, and the unknown ones (no totals row, or null) by id, in the
    order the nulls go; None when one query serves (or must: no placement, not a total, other ties)."""
    ordering = _effective_ordering(queryset)
    if not ordering or len(ordering) != 2 or queryset.query.is_sliced or getattr(queryset.query, PART, False):
        return None
    total, tie = ordering
    name, descending = total_of(total), total.descending
    tie_name = getattr(tie.expression, "name", None)
    if name is None or SORT_KEYS[name] not in INDEXED_TOTALS or tie_name not in ("id", "pk"):
        return None
    if tie.descending == descending:
        return None
    nulls_last = bool(total.nulls_last)
    if not (total.nulls_last or total.nulls_first):
        return None  # the database's default placement: one query
    base = queryset.all()  # a copy whose ordering is not reversed: order_by() keeps a reverse()
    base.query.standard_ordering = True
    setattr(base.query, PART, True)  # the parts are read as they are (a query's clones keep the mark)
    # The known part in the index's own order: PostgreSQL matches an index to an ORDER BY only when both place
    # nulls alike. The unknown part (no totals row, or the total null) by id alone: the job's primary key.
    in_index_order = [F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_first=True), tie.copy()]
    known = base.filter(**{f"{name}__isnull": False}).order_by(*in_index_order)
    unknown = base.filter(**{f"{name}__isnull": True}).order_by(tie.copy())  # no total: by id, on the primary key
    return (known, unknown) if nulls_last else (unknown, known)


class SplitByNullsQuerySet(QuerySet):
    """Slices of a queryset that split_by_nulls splits are read part after part (a list, at most 3 queries)."""

    def __getitem__(self, key):
        parts = split_by_nulls(self) if isinstance(key, slice) and key.step is None else None
        if parts is None or key.stop is None or (key.start or 0) < 0 or key.stop < 0:
            return super().__getitem__(key)
        offset = key.start or 0
        return rows_of_parts(*parts, offset=offset, limit=key.stop - offset)


class JobChangeList(FastDateHierarchyChangeList):
    """The job changelist: a total column sorted alone puts unknown totals last both ways, read on its index."""

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        sorted_by = [part for part in self.params.get(ORDER_VAR, "").split(".") if part]
        name = total_of(ordering[0]) if ordering else None
        if name and len(sorted_by) == 1:  # the list's default ordering and -pk dropped: ties by id
            return by_total(name, descending=ordering[0].descending)
        return [_unknown_last(item) for item in ordering]

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if not isinstance(queryset, SplitByNullsQuerySet):
            queryset.__class__ = _split_class(queryset.__class__)
        return queryset

    def url_for_result(self, result) -> str:
        """Django's change URL of a row, reversed once per page rather than once per row."""
        if "_change_url" not in self.__dict__:
            self._change_url = super().url_for_result(_Placeholder()).rpartition(_Placeholder.TEXT)  # type: ignore[arg-type]
        before, _, after = self._change_url
        return f"{before}{quote(result.pk)}{after}"

    def get_results(self, request):
        super().get_results(request)
        if isinstance(self.result_list, QuerySet) and split_by_nulls(self.result_list):
            # One page (or "show all"): read as the pages are, not by one ORDER BY that sorts every row.
            shown = self.list_max_show_all if self.show_all else self.list_per_page
            self.result_list = self.result_list[: max(self.result_count, shown)]


class _Placeholder:
    """A row whose primary key stands in for any in a reversed URL (letters that admin's quote() keeps)."""

    TEXT = "HELIOXPK"
    pk = id = TEXT


def _unknown_last(item):
    """A total among several sort columns: unknown last when the admin reversed it (no index serves it)."""
    if total_of(item) is None or item.nulls_last:
        return item
    return OrderBy(item.expression, descending=item.descending, nulls_last=True)


_SPLIT_CLASSES: dict[tuple, type] = {}


def _split_class(made: type) -> type:
    """The changelist's queryset class with SplitByNullsQuerySet in front, made once: the date hierarchy's
    changelist makes a new class per request (from the same bases), so the bases are the key."""
    bases = made.__bases__
    if bases not in _SPLIT_CLASSES:
        _SPLIT_CLASSES[bases] = type(f"SplitByNulls{made.__name__}", (SplitByNullsQuerySet, *bases), {})
    return _SPLIT_CLASSES[bases]
