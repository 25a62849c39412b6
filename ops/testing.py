"""Test harness for background work: a real Redis and real Celery processes, started by the tests.

A pytest plugin (conftest.py lists it in `pytest_plugins`), for every app's tests:

- `redis_server` (session): a `redis-server` on a free loopback port, without persistence, stopped
  after the session. Skips, saying why, where none can start (CI installs redis-server).
- `celery_broker`: points this process's Celery app at that Redis (emptied first) for one test, so
  `.delay()` sends real messages instead of running in-process; yields the broker URL.
- `celery_worker` / `celery_beat`: start `celery worker` / `celery beat` subprocesses against that
  broker and the test database; every one is killed after the test.
  `worker = celery_worker(include=["costs.tests.sample_tasks"], env={"CELERY_TASK_TIME_LIMIT": "5"})`,
  then `worker.kill()` (SIGKILL to it and its pool: a machine lost mid-task) or `worker.stop()`.
  They need PostgreSQL: pytest-django's SQLite test database lives in this process's memory, where
  no other process can see it. Data is committed (`transactional_db`), so the worker sees what the
  test wrote, and the test sees what the worker wrote.
- `wait_for(condition, timeout, what)`: poll until `condition()` is truthy; `task_run(task_id, ...)`:
  the TaskRun row of a task once it reaches one of `states`.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], object], timeout: float, what: str | Callable[[], str], interval: float = 0.05
) -> object:
    """Poll `condition` until it returns something truthy (returned); fail the test after `timeout` seconds.

    `what` says what was awaited (a callable: evaluated on failure, to show the state then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


class RedisServer:
    """A throwaway redis-server on 127.0.0.1:`port`, its files in `folder`."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
        log = self.folder / "redis.log"
        # The configuration goes in on the command line: no persistence, loopback only.
        arguments = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(self.folder), "--logfile", str(log), "--daemonize", "no"]  # fmt: skip
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603 - our argv
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                pytest.skip(f"redis-server did not start on 127.0.0.1:{self.port}: {tail.strip() or 'no log'}")
            time.sleep(0.05)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class CeleryProcess:
    """`celery -A heliox <arguments>` in its own process group, its output in `log_path`."""

    def __init__(self, arguments: list[str], env: dict[str, str], log_path: Path, ready_line: str, name: str):
        self.arguments, self.env, self.log_path, self.ready_line, self.name = arguments, env, log_path, ready_line, name
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our argv, no shell
                [sys.executable, "-m", "celery", "-A", "heliox", *self.arguments],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the pool's children too
            )
        wait_for(self._ready, START_TIMEOUT, f"{self.name} to start; its log:\n{self.log_path}")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        return self.ready_line in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process and its children at once: nothing runs a shutdown handler (a lost machine)."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a warm shutdown: running tasks finish), then SIGKILL to what is left."""
        if self.alive:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database), for another process."""
    from django.db import connection

    config = connection.settings_dict
    credentials = quote(config["USER"] or "", safe="")
    if config["PASSWORD"]:
        credentials += ":" + quote(config["PASSWORD"], safe="")
    host = config["HOST"] or "127.0.0.1"
    port = f":{config['PORT']}" if config["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(config['NAME'], safe='')}"


def process_env(broker_url: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker or beat: this process's, pointed at the test database, the broker and this
    test's MEDIA_ROOT (uploads wait there for their import, as on a volume that web and workers share)."""
    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if not key.startswith(("CELERY_", "PYTEST_"))}
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env.update(
        DJANGO_SETTINGS_MODULE="heliox.settings",
        DEBUG="on",
        DATABASE_URL=database_url(),
        CONN_MAX_AGE="0",
        CELERY_BROKER_URL=broker_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides or {})
    return env


def requires_postgresql() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "a Celery worker is another process, and pytest-django's SQLite test database is in this process's "
            "memory: run on PostgreSQL (DATABASE_URL=postgres://...)"
        )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@contextmanager
def use_broker(url: str) -> Iterator[str]:
    """Within the block, this process's Celery app sends tasks to `url` instead of running them in-process.

    Celery reads its configuration from Django's settings as they are now (config_from_object keeps
    the settings object), so overriding the settings is enough; the pooled connections are dropped.
    """
    from django.test import override_settings

    from heliox.celery import app

    _reset_producer_pools(app)
    try:
        with override_settings(CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False):
            yield url
    finally:
        _reset_producer_pools(app)


def _reset_producer_pools(app) -> None:
    """Close and forget the broker connections that Celery (kombu) keeps in pools, for the previous URL."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_broker(redis_server) -> Iterator[str]:
    """This process sends tasks to the test Redis (emptied first) instead of running them in-process."""
    redis_server.flush()
    with use_broker(redis_server.url(0)) as url:
        yield url


@pytest.fixture
def celery_worker(celery_broker, transactional_db, tmp_path) -> Iterator[Callable[..., CeleryProcess]]:
    """Start Celery workers: `celery_worker(include=[...], env={...}, hostname=..., concurrency=1)`."""
    requires_postgresql()
    started: list[CeleryProcess] = []

    def start(*, include: list[str] = (), env: dict[str, str] | None = None, hostname: str = "",
              concurrency: int = 1) -> CeleryProcess:  # fmt: skip
        number = len(started) + 1
        hostname = hostname or f"test-worker-{number}@%h"
        arguments = ["worker", "--loglevel", "INFO", "--concurrency", str(concurrency), "--hostname", hostname,
                     "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        if include:
            arguments += ["--include", ",".join(include)]
        worker = CeleryProcess(
            arguments, process_env(celery_broker, env), tmp_path / f"worker-{number}.log", " ready.", f"worker {number}"
        )
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.kill()  # its messages go with the test's Redis data; a warm shutdown would only take longer


@pytest.fixture
def celery_beat(celery_broker, transactional_db, tmp_path) -> Iterator[Callable[..., CeleryProcess]]:
    """Start `celery beat` (the database scheduler): `celery_beat(env={...})`."""
    requires_postgresql()
    started: list[CeleryProcess] = []

    def start(*, env: dict[str, str] | None = None) -> CeleryProcess:
        beat = CeleryProcess(
            ["beat", "--loglevel", "INFO", "--max-interval", "1"],
            process_env(celery_broker, env),
            tmp_path / f"beat-{len(started) + 1}.log",
            "beat: Starting...",
            "beat",
        )
        started.append(beat)
        return beat.start()

    yield start
    for beat in started:
        beat.kill()


def task_run(task_id: str, states: tuple[str, ...] = ("succeeded", "failed"), timeout: float = 30.0):
    """The task's TaskRun once its state is one of `states` (by default: finished)."""
    from ops.models import TaskRun

    def what() -> str:
        now = TaskRun.objects.filter(task_id=task_id).values_list("state", flat=True).first()
        return f"task {task_id} to be {' or '.join(states)} (it is {now or 'not recorded'})"

    return wait_for(lambda: TaskRun.objects.filter(task_id=task_id, state__in=states).first(), timeout, what)
