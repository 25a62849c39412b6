"""The task-run log: one row per enqueued task, updated by the worker that runs it."""

from django.db import models
from django.utils import timezone


class TaskRun(models.Model):
    """One enqueued Celery task (one task id) and what became of it, for staff in the admin.

    A retry or a redelivery after a lost worker runs the same task id again: `attempts` counts
    the starts, `started_at` is the latest one. Written by ops.base.HelioxTask, never by hand.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = (State.SUCCEEDED, State.FAILED)

    task_id = models.CharField(max_length=255, unique=True, db_comment="Celery task id (a UUID): one row per enqueue.")
    name = models.CharField(max_length=200, db_comment="Task name, e.g. ops.prune_task_runs.")
    arguments = models.TextField(blank=True, default="", db_comment="Arguments as JSON, cut to 1,000 characters.")
    state = models.CharField(
        max_length=16,
        choices=State.choices,
        default=State.QUEUED,
        db_comment="queued, running, retrying, succeeded or failed.",
    )
    attempts = models.PositiveIntegerField(default=0, db_comment="Times a worker started it (retries, redeliveries).")
    worker = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_comment="Worker that ran the latest attempt ('in-process: host' if eager).",
    )
    created_at = models.DateTimeField(default=timezone.now, db_comment="When it was enqueued (UTC).")
    started_at = models.DateTimeField(null=True, blank=True, db_comment="When the latest attempt started (UTC).")
    finished_at = models.DateTimeField(null=True, blank=True, db_comment="When it succeeded or failed (UTC).")
    duration_ms = models.PositiveBigIntegerField(
        null=True, blank=True, db_comment="Wall-clock milliseconds of the attempt that finished it."
    )
    progress_done = models.PositiveBigIntegerField(null=True, blank=True, db_comment="Units done, as the task reports.")
    progress_total = models.PositiveBigIntegerField(
        null=True, blank=True, db_comment="Units in all; null when the task does not know."
    )
    result = models.TextField(blank=True, default="", db_comment="What it returned, as JSON, cut to 1,000 characters.")
    error = models.TextField(
        blank=True, default="", db_comment="Why the latest attempt failed: exception and traceback."
    )

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Task-run log: every background task, its state, attempts, progress, result and error."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "running", "retrying", "succeeded", "failed"]),
                name="ops_taskrun_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True)
                | models.Q(started_at__isnull=True)
                | models.Q(finished_at__gte=models.F("started_at")),
                name="ops_taskrun_finished_after_started",
            ),
        ]
        indexes = [
            # The admin's newest-first list, and pruning rows older than the retention.
            models.Index(fields=["created_at"], name="ops_taskrun_created_at_idx"),
            # The admin's filter by task, newest first.
            models.Index(fields=["name", "created_at"], name="ops_taskrun_name_created_idx"),
            # The prune's "running since before the hard time limit" (a lost worker's run).
            models.Index(fields=["state", "started_at"], name="ops_taskrun_state_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.task_id}] {self.state}"

    @property
    def progress_percent(self) -> float | None:
        """Percent done, or None when the task reports no total."""
        if not self.progress_total or self.progress_done is None:
            return None
        return min(100.0, 100.0 * self.progress_done / self.progress_total)
