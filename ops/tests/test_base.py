"""HelioxTask records every run in the task-run log; in-process (eager) here, as `make run` and the tests run."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import TimeLimitExceeded
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import EncodeError, OperationalError

from ops.base import HelioxTask
from ops.models import TaskRun
from ops.testing import free_port, use_broker
from ops.tests import sample_tasks


def test_a_task_sent_in_process_is_recorded_from_queued_to_succeeded(db):
    result = sample_tasks.echo.delay(7, "gpu", team="nlp")
    assert result.get() == {"args": [7, "gpu"], "kwargs": {"team": "nlp"}}
    run = TaskRun.objects.get()
    assert (run.task_id, run.name, run.state, run.attempts) == (result.id, "ops_tests.echo", "succeeded", 1)
    assert json.loads(run.arguments) == {"args": [7, "gpu"], "kwargs": {"team": "nlp"}}
    assert json.loads(run.result) == {"args": [7, "gpu"], "kwargs": {"team": "nlp"}}
    assert run.worker.startswith("in-process: ")
    assert run.error == ""
    assert run.created_at <= run.started_at <= run.finished_at
    assert 0 <= run.duration_ms <= (run.finished_at - run.started_at) / timedelta(milliseconds=1) + 1


def test_a_failing_task_records_its_error_and_the_error_reaches_the_caller(db):
    with pytest.raises(ValueError, match="line 7: gpu_count is not a number"):
        sample_tasks.fail.delay("line 7: gpu_count is not a number")
    run = TaskRun.objects.get()
    assert (run.name, run.state, run.attempts) == ("ops_tests.fail", "failed", 1)
    assert run.error.startswith("Traceback (most recent call last):")
    assert run.error.endswith("ValueError: line 7: gpu_count is not a number")
    assert run.finished_at is not None
    assert run.result == ""


def test_a_retried_task_runs_again_in_process_and_counts_its_attempts(db):
    result = sample_tasks.flaky.delay(2)
    assert result.get() == 3  # the third attempt succeeded
    run = TaskRun.objects.get()
    assert (run.task_id, run.state, run.attempts, run.result, run.error) == (result.id, "succeeded", 3, "3", "")


def test_a_task_out_of_retries_fails_with_the_last_error(db):
    with pytest.raises(RuntimeError, match="attempt 4 failed"):
        sample_tasks.flaky.delay(10)  # max_retries=3: four attempts
    run = TaskRun.objects.get()
    assert (run.state, run.attempts) == ("failed", 4)
    assert run.error.endswith("RuntimeError: attempt 4 failed")


def test_progress_is_written_at_most_once_a_second_and_at_the_end(db):
    with CaptureQueriesContext(connection) as queries:
        sample_tasks.sleep_steps.delay(1000, 0)
    run = TaskRun.objects.get()
    assert (run.progress_done, run.progress_total, run.progress_percent) == (1000, 1000, 100.0)
    progress_writes = [q for q in queries.captured_queries if "progress_done" in q["sql"] and "UPDATE" in q["sql"]]
    assert len(progress_writes) in (1, 2)  # the first report, perhaps, and the last


def test_progress_without_a_total_has_no_percent(db):
    run = TaskRun(progress_done=5, progress_total=None)
    assert run.progress_percent is None
    assert TaskRun(progress_done=30, progress_total=20).progress_percent == 100.0


def test_a_direct_call_is_a_plain_function_call_and_not_recorded(db):
    assert sample_tasks.echo(1) == {"args": [1], "kwargs": {}}
    assert TaskRun.objects.count() == 0


def test_a_task_can_opt_out_of_the_log(db):
    assert sample_tasks.untracked.delay().get() == "not logged, attempt 2"
    assert TaskRun.objects.count() == 0


def test_arguments_and_results_are_cut_to_a_thousand_characters(db):
    sample_tasks.echo.delay("x" * 5000)
    run = TaskRun.objects.get()
    assert (len(run.arguments), run.arguments[-1]) == (1000, "\u2026")
    assert run.arguments.startswith('{"args": ["xxx')
    assert (len(run.result), run.result[-1]) == (1000, "\u2026")


def test_an_argument_that_is_not_json_is_refused_in_process_too_and_recorded(db):
    """Messages are JSON only; the embedded mode checks it as well, so what works in `make run` works on workers."""
    with pytest.raises(EncodeError):
        sample_tasks.echo.delay(object())
    run = TaskRun.objects.get()
    assert (run.state, run.attempts) == ("failed", 0)
    assert run.error.startswith("Not enqueued: EncodeError: ")


def test_a_task_that_cannot_reach_the_broker_is_recorded_as_not_enqueued(db):
    with use_broker(f"redis://127.0.0.1:{free_port()}/0"), pytest.raises(OperationalError):
        sample_tasks.echo.delay(1)
    run = TaskRun.objects.get()
    assert (run.name, run.state, run.attempts) == ("ops_tests.echo", "failed", 0)
    assert run.error.startswith("Not enqueued: OperationalError: ")
    assert "Connection refused" in run.error


def test_a_failing_write_to_the_log_does_not_fail_the_task(db, caplog):
    with mock.patch("ops.services.task_run_started", side_effect=DatabaseError("disk full"), create=False) as started:
        started.__name__ = "task_run_started"
        assert sample_tasks.echo.delay(1).get() == {"args": [1], "kwargs": {}}
    assert "task-run log: task_run_started failed" in caplog.text
    assert TaskRun.objects.get().state == "succeeded"  # the other writes went on, in the same transaction


def test_the_hard_time_limit_seen_by_the_worker_is_recorded_as_a_failure(db):
    """The worker's main process reports a task it killed at the hard limit through on_failure."""
    TaskRun.objects.create(task_id="t-1", name="ops_tests.sleep_steps", state="running", attempts=1)
    sample_tasks.sleep_steps.on_failure(TimeLimitExceeded(5), "t-1", (), {}, None)
    run = TaskRun.objects.get()
    assert run.state == "failed"
    assert run.error == "TimeLimitExceeded: killed at the hard time limit (5 s, CELERY_TASK_TIME_LIMIT)"


def test_every_task_is_a_helioxtask_by_default():
    assert isinstance(sample_tasks.echo, HelioxTask)
    assert sample_tasks.echo.acks_late is True
    assert sample_tasks.echo.reject_on_worker_lost is True
