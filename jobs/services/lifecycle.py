"""Writes to one job's life: finishing it. The API's `finish` and the admin's actions both call `job_finish`."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from heliox.errors import InputError
from jobs.models import Job, JobStatus, to_second
from jobs.services.changes import AffectedDays, job_days, jobs_changed
from jobs.times import job_times_problem

FINAL_STATUSES = tuple(status.value for status in Job.FINAL_STATUSES)


@transaction.atomic
def job_finish(
    *,
    job: Job,
    status: str = JobStatus.SUCCEEDED,
    end_time: datetime | None = None,
    relabel_ended: bool = False,
    days: AffectedDays | None = None,
) -> Job:
    """Give a started job its final `status` and its end: `end_time`, or now (its start, if it starts later).

    Refused, with an InputError naming the field: a status that is not final, a job that
    never started (pending jobs are not finished, whoever asks), an end before the start,
    and a job that ended already, unless `relabel_ended` (the admin's "mark succeeded")
    asks only to change its status. The days the job covered before and after go into
    `days`, or, without it, to the rollup once the transaction commits.
    """
    if status not in FINAL_STATUSES:
        raise InputError(f"must be one of {', '.join(FINAL_STATUSES)}", field="status", value=status)
    if job.start_time is None:
        raise InputError("The job never started; it cannot finish.", field="start_time")
    if job.end_time is not None:
        if not relabel_ended or end_time is not None:
            raise InputError(f"The job ended already, at {job.end_time.isoformat()}.", field="end_time")
        job.status = status
        job.save(update_fields=["status", "updated_at"])  # its days are unchanged
        return job
    changed = job_days(job)  # a running job covers its days until now
    start = job.start_time
    end = to_second(end_time or max(timezone.now(), start))
    assert end is not None
    if end < start:
        raise InputError("Must not be before the job's start_time.", field="end_time", value=end.isoformat())
    problem = job_times_problem(None, end)
    if problem:
        raise InputError(problem[1], field=problem[0], value=end.isoformat())
    job.end_time, job.status = end, status
    job.save(update_fields=["end_time", "status", "updated_at"])
    changed.add(job.start_time, job.end_time)
    if days is None:
        jobs_changed(changed)
    else:
        days.merge(changed)
    return job
