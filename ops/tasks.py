"""Ops-level tasks. Like every task: one call of a service, nothing more."""

from celery import shared_task

from ops.schedules import default_schedule
from ops.services import task_runs_prune


@shared_task(name="ops.ping")
def ping() -> str:
    """Answer "pong": shows that the broker, a worker and the task-run log work, end to end."""
    return "pong"


@shared_task(name="ops.prune_task_runs")
def prune_task_runs() -> dict[str, int]:
    """Delete task-run log rows past TASK_RUN_RETENTION_DAYS; mark runs lost with their worker as failed."""
    return task_runs_prune()


default_schedule(
    name="Prune the task-run log",
    task="ops.prune_task_runs",
    crontab="30 3 * * *",
    description="Daily at 03:30 UTC: deletes task-run log rows older than TASK_RUN_RETENTION_DAYS.",
)
