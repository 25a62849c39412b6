"""Tasks for the tests of the task machinery (a worker loads them with --include ops.tests.sample_tasks)."""

import time

from celery import shared_task


@shared_task(name="ops_tests.sleep_steps", bind=True)
def sleep_steps(self, steps: int, step_seconds: float) -> int:
    """Sleep `steps` x `step_seconds`, reporting progress after each step; return the steps done."""
    for done in range(1, steps + 1):
        time.sleep(step_seconds)
        self.progress(done, steps)
    return steps


@shared_task(name="ops_tests.fail")
def fail(message: str) -> None:
    raise ValueError(message)


@shared_task(name="ops_tests.flaky", bind=True, max_retries=3)
def flaky(self, failures: int) -> int:
    """Fail the first `failures` attempts, then return the attempt that succeeded (1-based)."""
    if self.request.retries < failures:
        raise self.retry(exc=RuntimeError(f"attempt {self.request.retries + 1} failed"), countdown=0)
    return self.request.retries + 1


@shared_task(name="ops_tests.echo")
def echo(*args, **kwargs) -> dict:
    return {"args": list(args), "kwargs": kwargs}


@shared_task(name="ops_tests.untracked", bind=True, track_runs=False, max_retries=1)
def untracked(self) -> str:
    """Retried once (so it needs its request, as a tracked task does), then answers."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return f"not logged, attempt {self.request.retries + 1}"
