"""Jobs tasks. Like every task: one call of a service, nothing more."""

from celery import shared_task

from jobs.services.uploads import import_upload_run


@shared_task(name="jobs.import_upload")
def import_upload(record_id: str) -> dict[str, object]:
    """Import an uploaded file (admin, API, `--async`) into jobs, the bill or LLM calls; see jobs.services.uploads."""
    return import_upload_run(record_id=record_id)
