"""Helpers for the test suites of every app."""

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction


def assert_rejected_by_database(write: Callable[[], object]) -> None:
    """The database itself (a CHECK or UNIQUE constraint) refuses the write.

    Runs in a savepoint so that PostgreSQL's aborted transaction does not leak
    into the rest of the test.
    """
    with pytest.raises(IntegrityError), transaction.atomic():
        write()
