"""Background work on real processes: a Redis server, Celery workers and beat, started by the tests.

The workers run against the test database, so these need PostgreSQL (they skip on SQLite, saying
why); the readiness check needs only Redis.
"""

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from ops.models import TaskRun
from ops.tasks import ping, prune_task_runs
from ops.testing import ROOT, process_env, task_run, wait_for
from ops.tests import sample_tasks

SAMPLES = ["ops.tests.sample_tasks"]


def test_readyz_sees_a_real_broker(client, db, celery_broker, redis_server):
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (
        200, {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}
    )  # fmt: skip
    redis_server.stop()
    try:
        response = client.get("/readyz")
        assert (response.status_code, response.json()["failed"]) == (503, ["broker"])
    finally:
        redis_server.start()


def test_a_worker_runs_tasks_and_records_them(celery_worker):
    queued = ping.delay()  # sent before any worker runs: it waits in Redis
    assert TaskRun.objects.get(task_id=queued.id).state == "queued"
    worker = celery_worker(include=SAMPLES)
    run = task_run(queued.id)
    assert (run.name, run.state, run.attempts, run.result) == ("ops.ping", "succeeded", 1, '"pong"')
    assert run.worker.startswith("test-worker-1@")
    assert run.created_at < run.started_at <= run.finished_at

    TaskRun.objects.create(task_id="old", name="ops.ping", state="succeeded",
                           created_at=timezone.now() - timedelta(days=31))  # fmt: skip
    prune = task_run(prune_task_runs.delay().id)
    assert (prune.state, prune.result) == ("succeeded", '{"deleted": 1, "lost": 0}')
    assert not TaskRun.objects.filter(task_id="old").exists()

    failed = task_run(sample_tasks.fail.delay("line 7: gpu_count is not a number").id)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.error.endswith("ValueError: line 7: gpu_count is not a number")

    retried = task_run(sample_tasks.flaky.delay(2).id)  # retried on the worker, through Redis
    assert (retried.state, retried.attempts, retried.result) == ("succeeded", 3, "3")
    assert "Task ops_tests.flaky" in worker.log()


def test_a_worker_killed_mid_task_leaves_the_task_to_the_next_worker(celery_worker):
    """SIGKILL to a worker and its pool in the middle of a task: the message was never acknowledged
    (acks_late), so once the visibility timeout has passed Redis gives it to a new worker, which
    runs it from the start to the end. Short limits keep the test short."""
    limits = {"CELERY_TASK_TIME_LIMIT": "6", "CELERY_VISIBILITY_TIMEOUT": "7", "CELERY_RESTORE_INTERVAL": "1"}
    first = celery_worker(include=SAMPLES, env=limits)
    result = sample_tasks.sleep_steps.delay(30, 0.1)  # 3 seconds
    started = task_run(result.id, states=("running",))
    assert started.attempts == 1
    assert started.worker.startswith("test-worker-1@")
    time.sleep(0.5)
    first.kill()
    killed_at = time.monotonic()
    interrupted = TaskRun.objects.get(task_id=result.id)
    assert (interrupted.state, interrupted.attempts, interrupted.finished_at) == ("running", 1, None)
    assert interrupted.progress_done is None or interrupted.progress_done < 30

    second = celery_worker(include=SAMPLES, env=limits)
    run = task_run(result.id, timeout=40)
    assert (run.state, run.attempts, run.result) == ("succeeded", 2, "30")
    assert (run.progress_done, run.progress_total) == (30, 30)
    assert run.worker.startswith("test-worker-2@")
    assert time.monotonic() - killed_at >= 6  # not before the visibility timeout (7 s after the delivery)
    assert f"Task ops_tests.sleep_steps[{result.id}] succeeded" in second.log()


def test_beat_sends_the_scheduled_tasks_and_the_compose_healthchecks_answer(celery_worker, celery_beat, celery_broker):
    """Beat reads the schedules from the database (what staff edit in the admin), the worker runs what
    it sends, and the healthcheck commands of docker-compose.yml's worker and beat answer."""
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="Ping every second", task="ops.ping", interval=every_second)
    PeriodicTask.objects.filter(name="Prune the task-run log").update(enabled=False)
    host = socket.gethostname()
    celery_worker(hostname=f"celery@{host}")  # as in compose: the default name, celery@<container host name>
    celery_beat()
    wait_for(lambda: TaskRun.objects.filter(name="ops.ping", state="succeeded").count() >= 2, 30,
             "two pings sent by beat and run by the worker")  # fmt: skip
    assert not TaskRun.objects.exclude(name="ops.ping").exists()
    # only Heliox's schedules: no result backend, so no 'celery.backend_cleanup' beside them
    assert not PeriodicTask.objects.filter(task="celery.backend_cleanup").exists()

    for service in ("worker", "beat"):
        command = compose_healthcheck(service)
        env = process_env(
            celery_broker, {"HOSTNAME": host, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        )
        result = subprocess.run(["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{service}: {command}\n{result.stdout}{result.stderr}"
        assert "pong" in result.stdout


def compose_healthcheck(service: str) -> str:
    """The healthcheck command of a docker-compose.yml service, as its shell would run it ($$ is compose's $)."""
    import yaml

    test = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL", test
    return test[1].replace("$$", "$")
