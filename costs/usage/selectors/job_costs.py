"""What each job cost: its per-day slices, and their sums per job over a range. Reads the rollup's slices.

Money in USD (Decimal, cents), hours in GPU-hours, ranges [start, end) over UTC days.
"""

from collections.abc import Collection
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum

from costs.billing.allocation import SEPARATE
from costs.usage.models import JobDaySlice
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.labels import job_label
from costs.usage.selectors.shown import unknown_when_unpriced
from costs.usage.selectors.spend import hours_sum, money_sum, quantized
from jobs.labels import UNLABELLED
from jobs.models import Job

# A day's amount -> its waste: None (unknown) when the amount is (wholly unpriced: shown.unknown_when_unpriced).
UNKNOWN_WASTE = (("estimated_usd", "waste_usd"), ("allocated_usd", "allocated_waste_usd"),
                 ("allocated_shared_usd", "allocated_shared_waste_usd"))  # fmt: skip


def job_cost_days(*, job: Job) -> dict:
    """A job's figures per UTC day (with the price used) and its totals; empty days until rolled up. One query.

    A day whose GPU-hours are all unpriced has its estimate (and its share, when 0) None: unknown, not $0; and so
    is the waste of each (as the job's totals: null when unpriced)."""
    days = [
        unknown_when_unpriced(quantized(dict(row)))
        for row in JobDaySlice.objects.filter(job=job)
        .order_by("date")
        .values(
            "date",
            "gpu_hours",
            "unpriced_gpu_hours",
            "price_usd_per_gpu_hour",
            "estimated_usd",
            "allocated_usd",
            "allocated_shared_usd",
            "used_gpu_hours",
            "unmeasured_gpu_hours",
            "measured_gpu_hours",
            "waste_usd",
            "allocated_waste_usd",
            "allocated_shared_waste_usd",
        )
    ]
    for day in days:
        price = day["price_usd_per_gpu_hour"]
        day["price_usd_per_gpu_hour"] = None if price is None else price.quantize(Decimal("0.0001"))
        for amount, waste in UNKNOWN_WASTE:  # the idle part of an unknown amount is unknown too, as on the job
            if day[amount] is None:
                day[waste] = None
    return {
        "gpu_hours": job.gpu_hours,
        "estimated_usd": job.estimated_usd,
        "allocated_usd": job.allocated_usd,
        "unpriced_gpu_hours": job.unpriced_gpu_hours,
        "used_gpu_hours": job.used_gpu_hours,
        "waste_usd": job.waste_usd,
        "allocated_waste_usd": job.allocated_waste_usd,
        "gpu_util_avg": job.gpu_util_avg,
        "days": days,
    }


def job_sums(
    *,
    start: date,
    end: date,
    team_ids: Collection[UUID] | None = None,
    label: tuple[str, str] | None = None,
    job_ids: Collection[UUID] | None = None,
    idle: str = SEPARATE,
    order: str = "cost",
    filters: SpendFilter = NO_FILTER,
) -> QuerySet:
    """Each job's slices in [start, end) summed, costliest first (allocated, estimated, GPU-hours, then id).

    Rows: job_id, gpu_hours, unpriced_gpu_hours, estimated_usd, allocated_usd, days, priced (days with a
    price), used, unmeasured and measured GPU-hours, waste_usd and allocated_waste_usd (None: unmeasured).
    `label` (key, value) keeps the jobs with that label value ("(unlabelled)": without the key).
    order="waste": the measured jobs, most waste first. For the first rows only, top_job_sums reads far fewer slices.
    """
    slices = range_slices(start=start, end=end, team_ids=team_ids, job_ids=job_ids, filters=filters)
    labelled = labelled_jobs(start=start, end=end, team_ids=team_ids, label=label or filters.label)
    if labelled is not None:
        slices = slices.filter(job_id__in=labelled.values("id"))
    return summed_by_job(slices, idle=idle, order=order)


def range_slices(
    *, start: date, end: date, team_ids: Collection[UUID] | None, job_ids: Collection[UUID] | None = None,
    filters: SpendFilter = NO_FILTER,
) -> QuerySet:  # fmt: skip
    """The slices of [start, end) of these teams and jobs, narrowed by `filters` but for its label."""
    slices = JobDaySlice.objects.filter(date__gte=start, date__lt=end).filter(filters.rollup_q())
    if team_ids is not None:
        slices = slices.filter(team_id__in=team_ids)
    if job_ids is not None:
        slices = slices.filter(job_id__in=job_ids)
    return slices


def labelled_jobs(
    *, start: date, end: date, team_ids: Collection[UUID] | None, label: tuple[str, str] | None
) -> QuerySet | None:
    """The jobs with the label value (key, value) that held GPUs in [start, end); None for no label.

    Every job with a slice in the range did: read once, they spare joining each slice to its job (a hash of a
    few thousand ids against tens of thousands of lookups on PostgreSQL)."""
    if label is None:
        return None
    begin, finish = (datetime.combine(day, time.min, tzinfo=UTC) for day in (start, end))
    jobs = Job.objects.overlapping(begin, finish).annotate(label_value=job_label(label[0], "labels"))
    if team_ids is not None:
        jobs = jobs.filter(team_id__in=team_ids)
    if label[1] != UNLABELLED and connection.vendor == "postgresql":
        # The same jobs, found through jobs_job_labels_gin (containment) rather than by reading every job of the
        # team in the range: SQLite has no containment on JSON, and "(unlabelled)" (no key) none to offer.
        jobs = jobs.filter(labels__contains={label[0]: label[1]})
    return jobs.filter(label_value=label[1])


def summed_by_job(slices: QuerySet, *, idle: str = SEPARATE, order: str = "cost") -> QuerySet:
    """job_sums's rows and order over these slices."""
    shared = "" if idle == SEPARATE else "_shared"
    ranking = ["-allocated_usd", "-estimated_usd", "-gpu_hours", "job_id"]
    if order == "waste":
        slices, ranking = slices.filter(waste_usd__isnull=False), ["-waste_usd", *ranking]
    return (
        slices.order_by()
        .values("job_id")
        .annotate(
            gpu_hours=hours_sum("gpu_hours"), unpriced_gpu_hours=hours_sum("unpriced_gpu_hours"),
            estimated_usd=money_sum("estimated_usd"), allocated_usd=money_sum(f"allocated{shared}_usd"),
            days=Count("id"),
            priced=Count("id", filter=Q(price_usd_per_gpu_hour__isnull=False)),
            used_gpu_hours=Sum("used_gpu_hours"), unmeasured_gpu_hours=hours_sum("unmeasured_gpu_hours"),
            measured_gpu_hours=hours_sum("measured_gpu_hours"), waste_usd=Sum("waste_usd"),
            allocated_waste_usd=Sum(f"allocated{shared}_waste_usd"),
        )
        .order_by(*ranking)
    )  # fmt: skip
