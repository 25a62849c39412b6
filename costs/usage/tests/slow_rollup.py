"""Loaded by a test's worker (--include costs.usage.tests.slow_rollup): each day of a rollup takes 0.1 s more,
so that a test can kill the worker in the middle of one."""

import time

from costs.usage.services import rollup

_day_rows = rollup._day_rows


def _slow_day_rows(*args, **kwargs):
    time.sleep(0.1)
    return _day_rows(*args, **kwargs)


rollup._day_rows = _slow_day_rows
