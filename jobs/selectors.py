"""Reads about jobs that the API and the admin share."""

from jobs.models import ImportRecord, Job


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
