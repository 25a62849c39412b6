"""The Celery app: where it finds tasks, how they must be declared, and its configuration."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from heliox.celery import app, import_task_modules, packages_with_tasks, task_packages
from ops.base import HelioxTask

ROOT = Path(__file__).resolve().parents[2]


def _package(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").touch()


def test_tasks_are_found_in_nested_domain_packages(tmp_path):
    """costs/usage/tasks.py and costs/billing/tasks/ are found as well as costs/tasks.py; tests are not."""
    app_root = tmp_path / "costs"
    for package in ("", "usage", "billing", "billing/tasks", "tests", "management/commands"):
        _package(app_root / package)
    for module in ("tasks.py", "usage/tasks.py", "tests/tasks.py", "management/commands/tasks.py"):
        (app_root / module).touch()
    (app_root / "notapackage").mkdir()
    (app_root / "notapackage" / "tasks.py").touch()  # no __init__.py: not importable as costs.notapackage
    assert packages_with_tasks(app_root, "costs") == ["costs", "costs.billing", "costs.usage"]


def test_the_project_apps_are_searched_and_third_party_apps_are_not():
    packages = task_packages()
    assert "ops" in packages
    assert not any(package.startswith(("django", "rest_framework", "knox", "axes")) for package in packages)


def test_every_heliox_task_has_a_stable_explicit_name_and_records_its_runs():
    """Names like "ops.prune_task_runs", not the module path: moving a module must not orphan messages or schedules."""
    import_task_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"ops.ping", "ops.prune_task_runs"} <= set(ours)
    for name, task in ours.items():
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", name), name
        assert ".tasks." not in name, f"{name}: give the task an explicit name=..."
        assert isinstance(task, HelioxTask), name


def test_the_reliability_settings_reach_celery():
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)
    assert (conf.task_serializer, conf.result_serializer, conf.accept_content) == ("json", "json", ["json"])
    assert (conf.task_time_limit, conf.task_soft_time_limit) == (3600, 3540)
    assert conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.task_always_eager is True  # no CELERY_BROKER_URL in the tests
    assert conf.task_eager_propagates is True


def _settings(**env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    environment.update(env, DEBUG="on", DJANGO_SETTINGS_MODULE="heliox.settings")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "options = s.CELERY_BROKER_TRANSPORT_OPTIONS; "
        "print(s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_TASK_TIME_LIMIT, s.CELERY_TASK_SOFT_TIME_LIMIT, "
        "options['visibility_timeout'], options['unacked_restore_interval'], s.CELERY_WORKER_CONCURRENCY)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_a_broker_url_turns_the_embedded_mode_off_and_the_visibility_timeout_follows_the_time_limit():
    result = _settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CELERY_TASK_TIME_LIMIT="600")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "600", "540", "1200", "60", "None"]  # None: a process per core
    short = _settings(CELERY_TASK_TIME_LIMIT="5", CELERY_VISIBILITY_TIMEOUT="7", CELERY_RESTORE_INTERVAL="1",
                      CELERY_WORKER_CONCURRENCY="3", CELERY_TASK_SOFT_TIME_LIMIT="")  # fmt: skip
    assert short.stdout.split() == ["True", "5", "4", "7", "1", "3"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CELERY_TASK_TIME_LIMIT": "3600", "CELERY_VISIBILITY_TIMEOUT": "3600"},
         "CELERY_VISIBILITY_TIMEOUT (3600 s) must be longer than CELERY_TASK_TIME_LIMIT (3600 s)"),
        ({"CELERY_TASK_TIME_LIMIT": "60", "CELERY_TASK_SOFT_TIME_LIMIT": "60"},
         "CELERY_TASK_SOFT_TIME_LIMIT (60) must be above 0 and below CELERY_TASK_TIME_LIMIT (60)"),
        ({"CELERY_RESTORE_INTERVAL": "0"}, "CELERY_RESTORE_INTERVAL must be at least 1 second, not 0"),
    ],
)  # fmt: skip
def test_settings_that_would_run_a_task_twice_are_refused_at_start(env, message):
    result = _settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_worker_or_beat_without_a_broker_says_what_to_set(command, tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    # A database of its own (beat reads its schedule tables before it starts), never the developer's.
    environment.update(DEBUG="on", DJANGO_SETTINGS_MODULE="heliox.settings",
                       DATABASE_URL=f"sqlite:///{tmp_path / 'beat.sqlite3'}")  # fmt: skip

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *arguments], cwd=ROOT, env=environment, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    if command == "beat":
        assert run("manage.py", "migrate", "django_celery_beat", "--verbosity", "0").returncode == 0
    result = run("-m", "celery", "-A", "heliox", command)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "CELERY_BROKER_URL is not set: Heliox runs tasks in-process (embedded)" in result.stderr
