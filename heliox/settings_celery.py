"""Background-work settings (Celery, django-celery-beat, the task-run log), read by heliox/settings.py.

Kept apart so that each settings module stays readable; every variable is in `.env.example`
and the README's configuration table like the rest.
"""

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()  # heliox/settings.py has read the .env file into the environment first

# Background work (Celery, heliox/celery.py). With no CELERY_BROKER_URL, tasks run in-process at
# once ("embedded": task_always_eager), so `make run` and the tests need no broker or worker. With a
# broker (redis://127.0.0.1:6379/0), `make worker` and `make beat` do the work and the schedules.
_broker_url = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not _broker_url
# Embedded, nothing is sent; Celery still takes a producer (never connected) to check the arguments.
CELERY_BROKER_URL = _broker_url or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True  # in-process, a task's error reaches its caller
# JSON only: a message can never make a worker unpickle code.
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Outcomes and errors are recorded in Heliox's own task-run log (ops.TaskRun), not a result backend.
CELERY_TASK_IGNORE_RESULT = True
# No results to expire either: beat then adds no 'celery.backend_cleanup' schedule to the admin's list.
CELERY_RESULT_EXPIRES = None
# A message is acknowledged when its task has finished, not when a worker takes it: a worker killed
# mid-task (SIGKILL, OOM, a lost machine) leaves it in the queue and another worker runs it again.
# So every task must be idempotent (a re-run is harmless). One message per worker process at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True  # they are redelivered: never run twice at once
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=0) or None  # None: one per core
CELERY_TIMEZONE = "UTC"
# A task is stopped after CELERY_TASK_TIME_LIMIT seconds (its process is killed); at the soft limit
# it gets SoftTimeLimitExceeded first, to fail cleanly (recorded in the task-run log).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
# Empty or unset: 60 s below the time limit (a tenth of it for limits under 10 minutes).
CELERY_TASK_SOFT_TIME_LIMIT = int(
    env.str("CELERY_TASK_SOFT_TIME_LIMIT", default="")
    or CELERY_TASK_TIME_LIMIT - max(1, min(60, CELERY_TASK_TIME_LIMIT // 10))
)
# Redis hands an unacknowledged message to another worker CELERY_VISIBILITY_TIMEOUT seconds after it
# was delivered: that is how a killed worker's task runs again, and why the timeout must be longer
# than the longest task (the time limit) and than any countdown (retry back-off), or a task still
# running would run twice. Every CELERY_RESTORE_INTERVAL seconds a worker looks for such messages.
_visibility_timeout = int(env.str("CELERY_VISIBILITY_TIMEOUT", default="") or 2 * CELERY_TASK_TIME_LIMIT)
_restore_interval = env.int("CELERY_RESTORE_INTERVAL", default=60)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}) must be above 0 and below "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT})."
    )
if _visibility_timeout <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({_visibility_timeout} s) must be longer than CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT} s): a task still running would be handed to a second worker."
    )
if _restore_interval < 1:
    raise ImproperlyConfigured(f"CELERY_RESTORE_INTERVAL must be at least 1 second, not {_restore_interval}.")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": _restore_interval,
    "unacked_restore_throttle": 1,  # kombu would otherwise sweep only every 10th interval
    # A broker that vanished without closing the connection fails a publish instead of hanging a request.
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
}
# Schedules live in the database (django-celery-beat): staff edit them in the admin. Beat answers
# `celery inspect ping` as celerybeat@<host> while its scheduler ticks (the container healthcheck).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_ENABLE_REMOTE_CONTROL = True
# Rows of the task-run log older than this are deleted by the daily prune_task_runs.
TASK_RUN_RETENTION_DAYS = env.int("TASK_RUN_RETENTION_DAYS", default=30)
