"""The Celery app: background work for every Heliox app, configured from Django's `CELERY_*` settings.

Without CELERY_BROKER_URL tasks run in-process at once (eager), so nothing here needs a broker
until one is configured. `make worker` and `make beat` run `celery -A heliox worker|beat`.

How a domain adds tasks: put them in a `tasks.py` module of its app or of any package inside
it (`ops/tasks.py`, `costs/usage/tasks.py`). The worker, beat and the web process find every
such module under the project's apps (`task_packages`), nested packages included: nothing to
register. Each task is declared with `@shared_task(name="<domain>.<verb_noun>", base=HelioxTask)`
(ops.base.HelioxTask, the default base anyway): an explicit name, so that moving the module does
not orphan queued messages or stored schedules, and the base class records every run in the
task-run log. A default beat schedule is declared beside its task with
`ops.schedules.default_schedule(...)`; `migrate` stores it, and staff edit it in the admin.
"""

import os
import sys
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heliox.settings")

app = Celery("heliox", task_cls="ops.base:HelioxTask")
app.config_from_object("django.conf:settings", namespace="CELERY")


def task_packages() -> list[str]:
    """Dotted names of the packages of the project's own apps that hold a `tasks` module, at any depth.

    Third-party apps (installed under sys.prefix) and tests are not searched.
    """
    from django.apps import apps
    from django.conf import settings

    base, installed = Path(settings.BASE_DIR).resolve(), Path(sys.prefix).resolve()
    packages = []
    for config in apps.get_app_configs():
        root = Path(config.path).resolve()
        if not root.is_relative_to(base) or root.is_relative_to(installed):
            continue
        packages.extend(packages_with_tasks(root, config.name))
    return packages


def packages_with_tasks(root: Path, name: str) -> list[str]:
    """`name` and its subpackages (under directory `root`) that have a tasks.py or a tasks/ package."""
    found = set()
    for module in [*root.rglob("tasks.py"), *root.rglob("tasks/__init__.py")]:
        package = module.parent if module.name == "tasks.py" else module.parent.parent
        parts = package.relative_to(root).parts
        if {"tests", "migrations", "management"} & set(parts) or not _is_package(root, parts):
            continue
        found.add(".".join((name, *parts)))
    return sorted(found)


def _is_package(root: Path, parts: tuple[str, ...]) -> bool:
    return all((root.joinpath(*parts[:depth]) / "__init__.py").is_file() for depth in range(1, len(parts) + 1))


def import_task_modules() -> None:
    """Import every tasks module now (the worker and beat do it at start; `migrate` needs it for schedules)."""
    app.autodiscover_tasks(task_packages, related_name="tasks", force=True)


app.autodiscover_tasks(task_packages, related_name="tasks")


@signals.celeryd_init.connect
@signals.beat_init.connect
def refuse_to_start_without_a_broker(**kwargs) -> None:
    """`make worker` / `make beat` with no broker would wait on a default AMQP address forever: say why instead."""
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        sys.stderr.write(
            "CELERY_BROKER_URL is not set: Heliox runs tasks in-process (embedded), so there is nothing for a "
            "worker or beat to do. Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) in .env or the "
            "environment to run background work on workers.\n"
        )
        raise SystemExit(2)
