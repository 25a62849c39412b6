from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ops.models import TaskRun
from ops.tasks import ping, prune_task_runs


def test_ping_answers_pong(db):
    assert ping.delay().get() == "pong"
    assert TaskRun.objects.get().name == "ops.ping"


def test_prune_task_runs_deletes_old_rows_and_records_its_own_run(db, settings):
    settings.TASK_RUN_RETENTION_DAYS = 7
    TaskRun.objects.create(
        task_id="old", name="ops.ping", state="succeeded", created_at=timezone.now() - timedelta(days=8)
    )
    assert prune_task_runs.delay().get() == {"deleted": 1, "lost": 0}
    run = TaskRun.objects.get()
    assert (run.name, run.state, run.result) == ("ops.prune_task_runs", "succeeded", '{"deleted": 1, "lost": 0}')


def test_the_prune_command_reports_what_it_deleted(db, capsys):
    TaskRun.objects.create(
        task_id="old", name="ops.ping", state="failed", created_at=timezone.now() - timedelta(days=3)
    )
    TaskRun.objects.create(task_id="new", name="ops.ping", state="failed")
    call_command("prune_task_runs", "--days", "2")
    assert capsys.readouterr().out == "Deleted 1 task runs; marked 0 lost runs failed.\n"
    assert list(TaskRun.objects.values_list("task_id", flat=True)) == ["new"]
    call_command("prune_task_runs", "--verbosity", "0")
    assert capsys.readouterr().out == ""


def test_the_prune_command_refuses_a_negative_retention(db):
    with pytest.raises(CommandError, match="--days must be 0 or more, not -1"):
        call_command("prune_task_runs", "--days", "-1")
