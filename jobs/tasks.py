"""Jobs tasks. Like every task: one call of a service, nothing more."""

from celery import shared_task
from django.conf import settings

from jobs.services.changes import rollups_follow
from jobs.services.prometheus_sync import prometheus_sync
from jobs.services.uploads import import_upload_run
from ops.schedules import default_schedule


@shared_task(name="jobs.import_upload")
def import_upload(record_id: str) -> dict[str, object]:
    """Import an uploaded file (admin, API, `--async`) into jobs, the bill or LLM calls; see jobs.services.uploads."""
    return import_upload_run(record_id=record_id)


@shared_task(name="jobs.sync_prometheus")
def sync_prometheus() -> dict[str, object]:
    """Sync Kubernetes GPU pods from PROMETHEUS_URL since the last sync, then roll up the days that changed."""
    if not settings.PROMETHEUS_URL:
        return {"skipped": "PROMETHEUS_URL is not set"}
    outcome = prometheus_sync(url=settings.PROMETHEUS_URL, cluster=settings.PROMETHEUS_CLUSTER)
    rollups_follow(outcome.affected_days)
    counts = outcome.counts
    return {"pods": outcome.pods, "created": counts.created, "updated": counts.updated, "queries": outcome.queries}


default_schedule(
    name="Sync Kubernetes GPU pods from Prometheus",
    task="jobs.sync_prometheus",
    crontab="*/15 * * * *",
    description="Every 15 minutes: GPU pods and DCGM utilisation since the last sync (PROMETHEUS_URL); "
    "does nothing while PROMETHEUS_URL is empty.",
)
