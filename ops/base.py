"""HelioxTask: the base class of every Heliox task (heliox/celery.py makes it the default).

It records each run in the task-run log (ops.TaskRun): queued when sent, running with one more
attempt when a worker (or the web process, eager) starts it, then succeeded, retrying or failed
with the error, and progress on request (`self.progress(done, total)` from a bound task). The
log is observability, not the work: a failed write to it is logged and never fails the task.
"""

import logging
import time
import traceback

from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore, Reject, Retry, TimeLimitExceeded
from celery.utils import uuid
from django.db import DatabaseError, transaction

from ops import services

logger = logging.getLogger(__name__)


def _record(write, **arguments) -> None:
    """Call a task-run log service in a savepoint; a database error is logged, not raised."""
    try:
        with transaction.atomic():
            write(**arguments)
    except DatabaseError:
        logger.warning("task-run log: %s failed for %s", write.__name__, arguments.get("task_id"), exc_info=True)


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()


class HelioxTask(DjangoTask):
    """Celery's Django task (delay_on_commit, apply_async_on_commit) that writes the task-run log."""

    #: Off for a task too frequent or too trivial to log.
    track_runs = True
    #: Seconds between two progress writes (the last one, done == total, is always written).
    progress_interval = 1.0

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        if not self.track_runs:
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        task_id = task_id or uuid()
        _record(services.task_run_queued, task_id=task_id, name=self.name, args=args or (), kwargs=kwargs or {})
        try:
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        except Exception as error:
            # Not sent (the broker is unreachable, an argument is not JSON): it will never run. In-process,
            # a run that started and failed has recorded that already; this changes only a row still queued.
            _record(services.task_run_not_sent, task_id=task_id, error=f"{type(error).__name__}: {error}")
            raise

    def apply(self, args=None, kwargs=None, **options):
        """Run in this process. A retry runs again at once (its countdown is skipped), as a worker would run it later.

        Celery's own eager retry stops at the first Retry when errors propagate (CELERY_TASK_EAGER_PROPAGATES).
        """
        try:
            return super().apply(args, kwargs, **options)
        except Retry as retry:
            if retry.sig is None:
                raise
            return retry.sig.apply(retries=(options.get("retries") or 0) + 1)

    def __call__(self, *args, **kwargs):
        request = self.request
        if request.called_directly:  # a plain function call: no run to record
            return super().__call__(*args, **kwargs)
        if not self.track_runs:  # run under the worker's request (its id, its retries), as Celery would
            return self.run(*args, **kwargs)
        worker = f"in-process: {request.hostname}" if request.is_eager else (request.hostname or "")
        _record(services.task_run_started, task_id=request.id, name=self.name, args=args, kwargs=kwargs, worker=worker)
        self._progress_written = 0.0
        started = time.monotonic()
        try:
            result = self.run(*args, **kwargs)
        except Retry as retry:
            _record(services.task_run_retrying, task_id=request.id, error=_error_text(retry.exc or retry))
            raise
        except (Ignore, Reject):
            raise
        except BaseException as error:  # SoftTimeLimitExceeded and SystemExit too: the run ends here
            duration_ms = round((time.monotonic() - started) * 1000)
            _record(services.task_run_failed, task_id=request.id, error=_error_text(error), duration_ms=duration_ms)
            raise
        duration_ms = round((time.monotonic() - started) * 1000)
        _record(services.task_run_succeeded, task_id=request.id, result=result, duration_ms=duration_ms)
        return result

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Failures that never reach __call__'s handler: the hard time limit, seen by the worker's main process."""
        if isinstance(exc, TimeLimitExceeded):
            _record(
                services.task_run_failed,
                task_id=task_id,
                error=f"TimeLimitExceeded: killed at the hard time limit ({exc.args[0] if exc.args else '?'} s, "
                "CELERY_TASK_TIME_LIMIT)",
                duration_ms=None,
            )
        super().on_failure(exc, task_id, args, kwargs, einfo)

    def progress(self, done: int, total: int | None = None) -> None:
        """Report progress (e.g. rows read of the file's rows). Written at most every `progress_interval` seconds."""
        request = self.request
        if request.called_directly or not self.track_runs:
            return
        now = time.monotonic()
        if now - getattr(self, "_progress_written", 0.0) < self.progress_interval and done != total:
            return
        self._progress_written = now
        _record(services.task_run_progress, task_id=request.id, done=done, total=total)
