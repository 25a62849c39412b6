"""Rollups of different days run at once on PostgreSQL; the long jobs they share still get exact totals."""

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import JobDaySlice
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.tests.factories import JobFactory

D10, D12, D14, D20, D21 = (date(2025, 3, n) for n in (10, 12, 14, 20, 21))
NOW = datetime(2025, 4, 1, tzinfo=UTC)


class Held(threading.Thread):
    """A rollup in a transaction that stays open (its rows and locks held) until `release()`."""

    def __init__(self, start: date, end: date, now: datetime = NOW) -> None:
        super().__init__()
        self.range, self.done, self.released, self.errors = (start, end), threading.Event(), threading.Event(), []
        self.now = now

    def run(self) -> None:
        try:
            with transaction.atomic():
                usage_rollup(start=self.range[0], end=self.range[1], now=self.now)
                self.done.set()
                self.released.wait(60)
        except Exception as error:  # noqa: BLE001 - the test asserts there is none
            self.errors.append(error)
        finally:
            self.done.set()
            connection.close()

    def release(self) -> None:
        self.released.set()
        self.join()


def in_thread(work: Callable[[], object], errors: list) -> threading.Thread:
    def run():
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the test asserts there is none
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def second_waits_for_first(first: tuple[date, date], second: tuple[date, date], now: datetime = NOW) -> bool:
    """Hold a rollup of `first` open, run one of `second` beside it, then let the first commit: whether the second
    was still waiting 3 s in (for a shared job's row). Asserts that neither failed."""
    held = Held(*first, now=now)
    held.start()
    assert held.done.wait(60)
    errors: list = []
    other = in_thread(lambda: usage_rollup(start=second[0], end=second[1], now=now), errors)
    other.join(3)
    waited = other.is_alive()
    held.release()
    other.join()
    assert errors == held.errors == []
    return waited


@pytest.mark.django_db(transaction=True)
def test_a_rollup_of_other_days_does_not_wait_for_one_in_progress(postgres_only):
    # Days of different months: days of one month wait for each other's commit only where the month's label
    # rows are rebuilt (a per-month lock), after each has built its days.
    GpuPriceFactory()
    JobFactory(start_time=datetime(2025, 2, 10, 8, tzinfo=UTC), end_time=datetime(2025, 2, 10, 10, tzinfo=UTC))
    JobFactory(start_time=datetime(2025, 3, 20, 8, tzinfo=UTC), end_time=datetime(2025, 3, 20, 10, tzinfo=UTC))
    first = Held(date(2025, 2, 10), date(2025, 2, 12))
    first.start()
    assert first.done.wait(60)
    errors: list = []

    second = in_thread(lambda: usage_rollup(start=D20, end=D21, now=NOW), errors)
    second.join(30)
    finished_meanwhile = not second.is_alive()  # before: one global lock made it wait for the first's commit
    first.release()
    second.join()

    assert finished_meanwhile
    assert errors == first.errors == []
    assert JobDaySlice.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_rollups_at_once_of_the_days_of_one_long_job_give_its_exact_totals(postgres_only):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    # 1 GPU from the 10th 08:00 to the 13th 08:00: 16 + 24 + 24 + 8 = 72 GPU-h, $288.00.
    job = JobFactory(start_time=datetime(2025, 3, 10, 8, tzinfo=UTC), end_time=datetime(2025, 3, 13, 8, tzinfo=UTC))
    # The first's totals see the 10th and the 11th; the second waits for the job's row until the first commits.
    assert second_waits_for_first((D10, D12), (D12, D14))
    job = Job.objects.get(pk=job.pk)
    assert (job.gpu_hours, job.estimated_usd) == (Decimal("72.0000"), Decimal("288.00"))
    assert sorted(JobDaySlice.objects.values_list("date", "gpu_hours")) == [
        (D10, Decimal("16.0000")), (date(2025, 3, 11), Decimal("24.0000")),
        (D12, Decimal("24.0000")), (date(2025, 3, 13), Decimal("8.0000")),
    ]  # fmt: skip


F27, M01, M03 = date(2025, 2, 27), date(2025, 3, 1), date(2025, 3, 3)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "first", "second", "hours"),
    [
        # 1 GPU from Feb 28 08:00 to Mar 2 08:00: 16 + 24 + 8 GPU-h; the first crosses its last instant, the second
        # its first (days of other months: no label-month lock makes one wait for the other before the totals).
        ("finished across the month's edge", (F27, M01), (M01, M03), Decimal("48.0000")),
        ("running across the month's edge", (F27, M01), (M01, M03), Decimal("48.0000")),  # until Mar 2 08:00
        # Rolled up on Feb 27 10:00-12:00, then moved to Mar 1: the first stores its new slice, the second takes
        # the old one away (a job that lost its slices in the range reaches outside it).
        ("moved to the other month", (M01, M03), (F27, M01), Decimal("2.0000")),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_rollups_at_once_of_two_months_sharing_a_job_give_its_exact_totals(postgres_only, case, first, second, hours):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    now = at(date(2025, 3, 2), 8)
    if case == "moved to the other month":
        job = JobFactory(start_time=at(F27, 10), end_time=at(F27, 12))
        usage_rollup(start=F27, end=M03, now=now)
        Job.objects.filter(pk=job.pk).update(start_time=at(M01, 10), end_time=at(M01, 12))
    else:
        end = None if case.startswith("running") else now
        job = JobFactory(
            start_time=at(date(2025, 2, 28), 8), end_time=end, status="running" if end is None else "succeeded"
        )
    assert second_waits_for_first(first, second, now)  # for the job's row, until the first commits
    job = Job.objects.get(pk=job.pk)
    assert (job.gpu_hours, job.estimated_usd) == (hours, hours * 4)
    assert sum(JobDaySlice.objects.filter(job=job).values_list("gpu_hours", flat=True)) == hours
