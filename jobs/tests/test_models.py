from datetime import UTC, datetime, timedelta
from decimal import Decimal

from heliox.testing import assert_rejected_by_database
from jobs.models import Job
from jobs.tests.factories import JobFactory

START = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def test_database_rejects_zero_gpus(db):
    assert_rejected_by_database(lambda: JobFactory(gpu_count=0))


def test_database_rejects_end_before_start(db):
    assert_rejected_by_database(lambda: JobFactory(start_time=START, end_time=START - timedelta(seconds=1)))


def test_database_accepts_end_equal_to_start(db):
    assert JobFactory(start_time=START, end_time=START).held_gpu_hours() == Decimal(0)


def test_database_rejects_unknown_status(db):
    assert_rejected_by_database(lambda: JobFactory(status="exploded"))


def test_database_rejects_unknown_pricing(db):
    assert_rejected_by_database(lambda: JobFactory(pricing="free"))


def test_database_rejects_duplicate_external_id_for_same_provider(db):
    JobFactory(provider="aws", external_id="42")
    assert_rejected_by_database(lambda: JobFactory(provider="aws", external_id="42"))


def test_same_external_id_on_two_providers_and_unknown_ids_are_allowed(db):
    JobFactory(provider="aws", external_id="42")
    JobFactory(provider="gcp", external_id="42")
    JobFactory(provider="aws", external_id=None)
    JobFactory(provider="aws", external_id="")
    assert Job.objects.count() == 4
    assert Job.objects.filter(external_id__isnull=True).count() == 2


def test_gpu_hours_of_finished_running_and_pending_jobs(db):
    finished = JobFactory(gpu_count=4, start_time=START, end_time=START + timedelta(minutes=90))
    running = JobFactory(gpu_count=2, start_time=START, end_time=None, status="running")
    pending = JobFactory(start_time=None, end_time=None, status="pending")

    assert finished.held_gpu_hours() == Decimal(6)
    assert running.held_gpu_hours(now=START + timedelta(hours=3)) == Decimal(6)
    assert pending.held_gpu_hours() is None


def test_str_names_model_and_gpus(db):
    assert str(JobFactory(model_name="bert", gpu_count=8, gpu_type="A100", provider="gcp")) == "bert (8 x A100 on gcp)"
