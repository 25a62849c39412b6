"""The job admin's form refuses what no column can hold, as the API and the imports do: never a 500."""

import pytest
from django.urls import reverse

from jobs.models import Job
from jobs.tests.factories import JobFactory


def form_data(job: Job, **changes) -> dict:
    data = {"team": str(job.team_id), "model_name": "m", "provider": "aws", "gpu_type": "H100", "gpu_count": "1",
            "region": "", "pricing": "on_demand", "start_time_0": "2025-03-10", "start_time_1": "08:00:00",
            "end_time_0": "2025-03-10", "end_time_1": "09:00:00", "status": "succeeded", "external_id": "j-1",
            "metadata": "{}", "_save": "Save"}  # fmt: skip
    return {**data, **changes}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ('{"a": "\\u0000"}', "a: contains a NUL character"),
        ('{"a": ["\\ud800"]}', "a[0]: contains a lone surrogate (not valid Unicode)"),
        ("[" * 5000 + "]" * 5000, "Enter a valid JSON."),
        ("[" * 40 + "]" * 40, "[0]" * 32 + ": nested deeper than 32 levels"),
        ('{"a": 1' + "0" * 5000 + "}", "Enter a valid JSON."),
    ],
)
def test_metadata_no_column_can_hold_is_a_form_error(staff_client, db, metadata, message):
    """Each of these was a 500 (a DataError from PostgreSQL's JSON, a RecursionError, a ValueError)."""
    job = JobFactory(external_id="j-1", metadata={"kept": 1})
    url = reverse("admin:jobs_job_change", args=[job.pk])
    response = staff_client.post(url, form_data(job, metadata=metadata))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["metadata"] == [message]
    job.refresh_from_db()
    assert job.metadata == {"kept": 1}


def test_a_job_that_starts_on_the_first_day_of_the_calendar_is_a_form_error(staff_client, db):
    """Year 1 was stored (and overflowed the rollup's date arithmetic ever after): jobs.times refuses it."""
    job = JobFactory(external_id="j-1")
    url = reverse("admin:jobs_job_change", args=[job.pk])
    changes = {"start_time_0": "0001-01-01", "start_time_1": "00:00:00", "end_time_0": "0001-01-01",
               "end_time_1": "01:00:00"}  # fmt: skip
    response = staff_client.post(url, form_data(job, **changes))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["start_time"] == [
        "must not be before 2000-01-01 UTC (HELIOX_JOB_TIME_FLOOR)"
    ]
    job.refresh_from_db()
    assert job.start_time.year == 2025
