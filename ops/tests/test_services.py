from datetime import UTC, datetime, timedelta

import pytest

from ops import services
from ops.models import TaskRun
from ops.services import (
    bounded,
    bounded_error,
    task_run_queued,
    task_run_started,
    task_runs_prune,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_bounded_cuts_with_an_ellipsis():
    assert bounded("abcdef", 6) == "abcdef"
    assert bounded("abcdefg", 6) == "abcde\u2026"


def test_bounded_error_keeps_the_message_and_where_it_was_raised():
    text = "M" * 5000 + "x" * 10_000 + "T" * 5000
    cut = bounded_error(text, 10_000)
    assert len(cut) == 10_000
    assert cut.startswith("M" * 2500 + "\n\u2026\n")
    assert cut.endswith("T" * 5000)
    assert bounded_error("short") == "short"


def test_a_run_started_by_a_worker_without_a_queued_row_is_created_then_counted(db):
    """Tasks sent by name (send_task) or by beat reach the worker with no row: the worker makes it."""
    task_run_started(task_id="t-1", name="ops.ping", args=(), kwargs={}, worker="celery@a", now=NOW)
    task_run_started(task_id="t-1", name="ops.ping", args=(), kwargs={}, worker="celery@b", now=NOW)
    run = TaskRun.objects.get()
    assert (run.state, run.attempts, run.worker, run.created_at, run.started_at) == ("running", 2, "celery@b", NOW, NOW)


def test_a_queued_row_that_arrives_after_the_worker_started_changes_nothing(db):
    task_run_started(task_id="t-1", name="ops.ping", args=(), kwargs={}, worker="celery@a", now=NOW)
    task_run_queued(task_id="t-1", name="ops.ping", args=(), kwargs={}, now=NOW + timedelta(seconds=1))
    run = TaskRun.objects.get()
    assert (run.state, run.attempts, run.created_at) == ("running", 1, NOW)


def test_a_new_attempt_clears_the_end_of_a_run_marked_lost(db):
    TaskRun.objects.create(task_id="t-1", name="ops.ping", state="failed", attempts=1, started_at=NOW,
                           finished_at=NOW + timedelta(hours=2), error="lost")  # fmt: skip
    task_run_started(
        task_id="t-1", name="ops.ping", args=(), kwargs={}, worker="celery@b", now=NOW + timedelta(hours=3)
    )
    run = TaskRun.objects.get()
    assert (run.state, run.attempts, run.finished_at) == ("running", 2, None)


def _run(task_id: str, **fields) -> TaskRun:
    return TaskRun.objects.create(task_id=task_id, name="ops.ping", **fields)


def test_prune_deletes_rows_past_the_retention_and_keeps_younger_ones(db, settings):
    settings.TASK_RUN_RETENTION_DAYS = 30
    _run("old", created_at=NOW - timedelta(days=30, seconds=1), state="succeeded")
    _run("old-queued", created_at=NOW - timedelta(days=31), state="queued")
    _run("young", created_at=NOW - timedelta(days=30) + timedelta(seconds=1), state="failed")
    assert task_runs_prune(now=NOW) == {"deleted": 2, "lost": 0}
    assert list(TaskRun.objects.values_list("task_id", flat=True)) == ["young"]


def test_prune_takes_another_retention(db):
    _run("two-days", created_at=NOW - timedelta(days=2), state="succeeded")
    _run("today", created_at=NOW - timedelta(hours=1), state="succeeded")
    assert task_runs_prune(now=NOW, retention_days=1) == {"deleted": 1, "lost": 0}
    assert task_runs_prune(now=NOW, retention_days=0) == {"deleted": 1, "lost": 0}


def test_prune_deletes_in_batches(db, monkeypatch):
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    for number in range(5):
        _run(f"old-{number}", created_at=NOW - timedelta(days=90), state="succeeded")
    assert task_runs_prune(now=NOW) == {"deleted": 5, "lost": 0}
    assert TaskRun.objects.count() == 0


def test_prune_marks_runs_still_running_past_the_hard_time_limit_as_failed(db, settings):
    settings.CELERY_TASK_TIME_LIMIT = 3600
    limit = timedelta(seconds=3600) + services.LOST_GRACE
    _run(
        "lost",
        created_at=NOW - timedelta(hours=2),
        state="running",
        attempts=1,
        started_at=NOW - limit - timedelta(seconds=1),
    )
    _run(
        "busy",
        created_at=NOW - timedelta(hours=2),
        state="running",
        attempts=1,
        started_at=NOW - limit + timedelta(seconds=1),
    )
    _run("waiting", created_at=NOW - timedelta(hours=2), state="queued")
    assert task_runs_prune(now=NOW) == {"deleted": 0, "lost": 1}
    states = dict(TaskRun.objects.values_list("task_id", "state"))
    assert states == {"lost": "failed", "busy": "running", "waiting": "queued"}
    lost = TaskRun.objects.get(task_id="lost")
    assert lost.finished_at == NOW
    assert lost.error.startswith("No outcome within the hard time limit (CELERY_TASK_TIME_LIMIT, 3600 s)")


def test_the_database_refuses_an_unknown_state_and_an_end_before_the_start(db):
    from heliox.testing import assert_rejected_by_database

    assert_rejected_by_database(lambda: _run("a", state="lost"))
    assert_rejected_by_database(lambda: _run("b", started_at=NOW, finished_at=NOW - timedelta(seconds=1)))


@pytest.mark.parametrize("state", ["queued", "running", "retrying", "succeeded", "failed"])
def test_every_state_is_storable(db, state):
    assert str(_run(f"t-{state}", state=state)) == f"ops.ping [t-{state}] {state}"
