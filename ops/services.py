"""Writes to the task-run log. ops.base.HelioxTask calls these around every task it runs."""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ops.models import TaskRun

ARGUMENTS_LIMIT = 1_000
RESULT_LIMIT = 1_000
ERROR_LIMIT = 10_000
# A run still "running" this long after the hard time limit has no worker left: the limit kills it.
LOST_GRACE = timedelta(seconds=60)
PRUNE_BATCH = 10_000


def bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters; the cut is marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bounded_error(text: str, limit: int = ERROR_LIMIT) -> str:
    """An error text cut in the middle: its first lines (the message) and its last (where it was raised)."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + "\n\u2026\n" + text[-(limit - head - 3) :]


def as_json(value: object, limit: int) -> str:
    """`value` as JSON (anything JSON cannot hold as its str()), at most `limit` characters."""
    return bounded(json.dumps(value, default=str, ensure_ascii=False), limit)


def task_run_queued(*, task_id: str, name: str, args: tuple | list, kwargs: dict, now: datetime | None = None) -> None:
    """Record a task as queued, when it is sent. Does nothing if a worker already recorded it."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            TaskRun.objects.create(
                task_id=task_id,
                name=name,
                arguments=_arguments(args, kwargs),
                state=TaskRun.State.QUEUED,
                created_at=now,
            )
    except IntegrityError:
        pass  # the worker was first (the sender's transaction committed after the task started)


def task_run_not_sent(*, task_id: str, error: str, now: datetime | None = None) -> None:
    """The task was not sent (the broker is unreachable, an argument is not JSON): it will never run."""
    now = now or timezone.now()
    TaskRun.objects.filter(task_id=task_id, state=TaskRun.State.QUEUED).update(
        state=TaskRun.State.FAILED, finished_at=now, error=bounded_error(f"Not enqueued: {error}")
    )


def task_run_started(
    *, task_id: str, name: str, args: tuple | list, kwargs: dict, worker: str, now: datetime | None = None
) -> None:
    """An attempt starts: running, one more attempt. Creates the row if the sender did not (send_task, beat)."""
    now = now or timezone.now()
    changes = {"state": TaskRun.State.RUNNING, "started_at": now, "worker": bounded(worker, 255), "finished_at": None}
    if TaskRun.objects.filter(task_id=task_id).update(attempts=F("attempts") + 1, **changes):
        return
    try:
        with transaction.atomic():
            TaskRun.objects.create(
                task_id=task_id, name=name, arguments=_arguments(args, kwargs), attempts=1, created_at=now, **changes
            )
    except IntegrityError:  # the sender's row appeared meanwhile
        TaskRun.objects.filter(task_id=task_id).update(attempts=F("attempts") + 1, **changes)


def task_run_progress(*, task_id: str, done: int, total: int | None) -> None:
    """Units done out of total (None: unknown), as the task reports them."""
    TaskRun.objects.filter(task_id=task_id).update(progress_done=max(0, done), progress_total=total)


def task_run_retrying(*, task_id: str, error: str) -> None:
    """The attempt failed and the task asked to be tried again."""
    TaskRun.objects.filter(task_id=task_id).update(state=TaskRun.State.RETRYING, error=bounded_error(error))


def task_run_succeeded(*, task_id: str, result: object, duration_ms: int, now: datetime | None = None) -> None:
    TaskRun.objects.filter(task_id=task_id).update(
        state=TaskRun.State.SUCCEEDED,
        finished_at=now or timezone.now(),
        duration_ms=max(0, duration_ms),
        result=as_json(result, RESULT_LIMIT),
        error="",
    )


def task_run_failed(*, task_id: str, error: str, duration_ms: int | None, now: datetime | None = None) -> None:
    TaskRun.objects.filter(task_id=task_id).update(
        state=TaskRun.State.FAILED,
        finished_at=now or timezone.now(),
        duration_ms=None if duration_ms is None else max(0, duration_ms),
        error=bounded_error(error),
    )


def task_runs_prune(*, now: datetime | None = None, retention_days: int | None = None) -> dict[str, int]:
    """Delete rows enqueued more than `retention_days` (TASK_RUN_RETENTION_DAYS) ago, in batches;
    mark runs still "running" past the hard time limit as failed (their worker was lost).

    Returns {"deleted": rows deleted, "lost": runs marked failed}.
    """
    now = now or timezone.now()
    retention_days = settings.TASK_RUN_RETENTION_DAYS if retention_days is None else retention_days
    limit = settings.CELERY_TASK_TIME_LIMIT
    lost = TaskRun.objects.filter(
        state=TaskRun.State.RUNNING, started_at__lt=now - timedelta(seconds=limit) - LOST_GRACE
    ).update(
        state=TaskRun.State.FAILED,
        finished_at=now,
        error=f"No outcome within the hard time limit (CELERY_TASK_TIME_LIMIT, {limit} s): the worker running it "
        "was killed or lost. If its message is delivered again, the new attempt updates this row.",
    )
    old = TaskRun.objects.filter(created_at__lt=now - timedelta(days=retention_days))
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        deleted += TaskRun.objects.filter(pk__in=batch).delete()[0]
    return {"deleted": deleted, "lost": lost}


def _arguments(args: tuple | list, kwargs: dict) -> str:
    return as_json({"args": list(args or ()), "kwargs": dict(kwargs or {})}, ARGUMENTS_LIMIT)
