"""Helpers for the test suites of every app."""

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction

# Each API request reads and writes its throttle counter in the cache, a database table by
# default: a read, a count (the cache's cull check) and an upsert in a savepoint.
THROTTLE_QUERIES = 6
# A staff user's model permissions, loaded once per request: their own and their groups'.
PERMISSION_QUERIES = 2


def fresh(user):
    """The user as the next request loads it, without the permissions cached on this object."""
    return type(user).objects.get(pk=user.pk)


def assert_rejected_by_database(write: Callable[[], object]) -> None:
    """The database itself (a CHECK or UNIQUE constraint) refuses the write.

    Runs in a savepoint so that PostgreSQL's aborted transaction does not leak
    into the rest of the test.
    """
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def run_concurrently(work: Callable[[], object], threads: int) -> list[Exception]:
    """Run `work` in `threads` threads at once, each with its own connection; return what they raised."""
    import threading

    from django.db import connection

    errors: list[Exception] = []

    def run():
        try:
            work()
        except Exception as error:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(error)
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return errors
