"""Reads about jobs that the API and the admin share."""

from collections.abc import Iterator, Sequence
from itertools import chain, islice

from django.db.models import F, QuerySet

from jobs.models import ImportRecord, Job
from jobs.totals import sort_key


def external_id_taken(*, provider: str, external_id: str | None, exclude_pk=None) -> bool:
    """Whether another job holds (provider, external_id); an empty id never clashes."""
    if not external_id:
        return False
    return Job.objects.filter(provider=provider, external_id=external_id).exclude(pk=exclude_pk).exists()


def import_status(record: ImportRecord) -> dict[str, object]:
    """Where an import is, for the upload page's poll and the API: status, rows read of the total, percent."""
    return {
        "id": str(record.pk),
        "kind": record.kind,
        "format": record.format,
        "file_name": record.file_name,
        "status": record.status,
        "status_display": record.get_status_display(),
        "finished": record.finished,
        "rows_read": record.rows_read,
        "rows_total": record.progress_total,
        "percent": record.progress_percent,
        "rows_kept": record.rows_kept,
        "rows_skipped": record.rows_skipped,
        "totals": record.totals,
        "summary": record.summary,
        "error": record.error,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def jobs_by_total(
    queryset: QuerySet, *, name: str, descending: bool, offset: int, limit: int, unknown_order: Sequence = ("id",)
) -> list[Job]:
    """`limit` jobs from `offset` in the order of a rolled-up total (`estimated_usd`...): known totals first,
    largest (or smallest) first, ties by id; then the unknown ones (null: unpriced, not rolled up yet) in
    `unknown_order`. Each part is one query that the total's index (jobs_totals_<total>_idx) serves on
    PostgreSQL without sorting the table: one ORDER BY ... NULLS LAST over both would sort every row. The
    unknown ones are the jobs without a totals row (a LEFT JOIN) or with that total null.
    """
    known, unknown = _total_parts(queryset, name=name, descending=descending, unknown_order=unknown_order)
    return rows_of_parts(known, unknown, offset=offset, limit=limit)


def rows_of_parts(first: QuerySet, second: QuerySet, *, offset: int, limit: int) -> list:
    """Rows [offset, offset + limit) of `first` followed by `second` (each in its own order): at most three
    queries, `first` counted only when the page starts past its end."""
    rows = list(first[offset : offset + limit]) if limit > 0 else []
    if len(rows) >= limit:
        return rows
    first_count = offset + len(rows) if rows or not offset else first.count()
    skip = max(0, offset - first_count)
    return rows + list(second[skip : skip + limit - len(rows)])


def _total_parts(queryset: QuerySet, *, name: str, descending: bool, unknown_order: Sequence) -> tuple:
    total = sort_key(name)
    known = queryset.filter(**{f"{total}__isnull": False})
    # The null ordering of the index (jobs_totals_<total>_idx), though no null is left: PostgreSQL matches an
    # index to an ORDER BY only when they place nulls alike.
    if descending:
        known = known.order_by(F(total).desc(nulls_last=True), F("id").asc())
    else:
        known = known.order_by(F(total).asc(nulls_first=True), F("id").desc())
    return known, queryset.filter(**{f"{total}__isnull": True}).order_by(*unknown_order)


class TotalOrdered:
    """A job queryset in the order of jobs_by_total, as the sequence a Paginator pages (count, slices)."""

    def __init__(self, queryset: QuerySet, *, name: str, descending: bool, unknown_order: Sequence = ("id",)):
        self.queryset, self.name, self.descending, self.unknown_order = queryset, name, descending, unknown_order

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Job]:
        start, stop = key.start or 0, key.stop
        return jobs_by_total(self.queryset, name=self.name, descending=self.descending, offset=start,
                             limit=stop - start, unknown_order=self.unknown_order)  # fmt: skip

    def iterator(self, limit: int, chunk_size: int = 2000) -> Iterator[Job]:
        """Every job in this order (at most `limit`), streamed: the known totals, then the unknown ones."""
        known, unknown = _total_parts(self.queryset, name=self.name, descending=self.descending,
                                      unknown_order=self.unknown_order)  # fmt: skip
        yield from islice(chain(known.iterator(chunk_size), unknown.iterator(chunk_size)), limit)
