"""The most expensive jobs of a range, and the first rows of job_sums without summing every slice of the range
(the threshold algorithm).

A job's allocated USD in a range is at most its total (JobTotals.allocated_usd: the sum of all its slices, none
negative). Jobs are read in order of that total (jobs_totals_allocated_idx) in growing chunks, and each chunk's
slices in the range summed; once the limit-th best sum is above the total of the last job read, no unread
job can enter. A job whose total is null (no priced hour) can hold a share of a bill only in a model row
with no estimate and a bill: such jobs are summed first. Money in USD; ranges [start, end) of UTC days.
"""

from collections.abc import Collection
from dataclasses import replace
from datetime import date
from uuid import UUID

from django.db.models import F

from costs.billing.allocation import SEPARATE
from costs.billing.money import CENT
from costs.usage.models import ModelUsageSnapshot
from costs.usage.selectors.efficiency import efficiency_pct
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.job_costs import job_sums, labelled_jobs, range_slices, summed_by_job
from costs.usage.selectors.spend import quantized
from heliox.units import HOURS
from jobs.models import Job
from jobs.totals import sort_key

MAX_TOP_JOBS = 1000
TOP_ORDERS = ("cost", "waste")
FIRST_CHUNK = 200  # jobs read by total in the first round; doubled each round
MAX_READ = 50_000  # past this many jobs read, the plain sum (a filter that few costly jobs pass)
# Over a month or less the plain sum is cheap and jobs that cross the range's ends (large totals, little inside)
# make the threshold read many: 1,000,000 jobs, one day: 35 ms plain against 382 ms; 90 days of a team: 181 / 17.
MIN_DAYS = 32


def _rank(row: dict) -> tuple:
    """job_sums's order: allocated, estimated, GPU-hours (most first), then job id."""
    return (-row["allocated_usd"], -row["estimated_usd"], -row["gpu_hours"], row["job_id"])


def top_job_sums(
    *, start: date, end: date, limit: int, team_ids: Collection[UUID] | None = None,
    label: tuple[str, str] | None = None, idle: str = SEPARATE, order: str = "cost",
    filters: SpendFilter = NO_FILTER,
) -> list[dict]:  # fmt: skip
    """job_sums(...)[:limit]: the same rows in the same order, by the threshold algorithm where it applies
    (by cost, idle kept apart: the share the job totals hold), else the plain sum."""
    rows = None
    if order == "cost" and idle == SEPARATE and (end - start).days >= MIN_DAYS:
        rows = _threshold(start=start, end=end, limit=limit, team_ids=team_ids, label=label or filters.label,
                          filters=replace(filters, label=None))  # fmt: skip
    if rows is None:
        plain = job_sums(start=start, end=end, team_ids=team_ids, label=label, idle=idle, order=order, filters=filters)
        rows = list(plain[:limit])
    return rows


def _threshold(*, start, end, limit, team_ids, label, filters) -> list[dict] | None:
    """The rows, or None when the plain sum must decide (fewer than `limit` jobs with a share, or too many read)."""
    labelled = labelled_jobs(start=start, end=end, team_ids=team_ids, label=label)
    share = sort_key("allocated_usd")  # the jobs' totals, on their index (jobs_totals_allocated_idx)
    jobs = (Job.objects.all() if labelled is None else labelled).filter(**{f"{share}__gt": 0})
    candidates = jobs.order_by(F(share).desc(nulls_last=True), F("id").asc()).values_list("id", share)
    best: dict = {}

    def add(ids) -> None:
        for row in summed_by_job(range_slices(start=start, end=end, team_ids=team_ids, job_ids=ids, filters=filters)):
            best[row["job_id"]] = row

    hidden = _hidden_shares(start=start, end=end, team_ids=team_ids, filters=filters, labelled=labelled)
    if hidden:
        add(hidden)
    chunk, read, after = FIRST_CHUNK, 0, None
    while read <= MAX_READ:
        page = candidates
        if after is not None:
            page = page.filter(**{f"{share}__lte": after[1]}).exclude(**{share: after[1], "id__lte": after[0]})
        got = list(page[:chunk])
        if got:
            add([job_id for job_id, _ in got])
        ranked = sorted(best.values(), key=_rank)
        enough = len(ranked) >= limit and ranked[limit - 1]["allocated_usd"] > 0
        if len(got) < chunk:  # every job with a positive total read; the others have no share in the range
            return ranked[:limit] if enough else None
        after = got[-1]
        if enough and ranked[limit - 1]["allocated_usd"] > after[1]:
            return ranked[:limit]
        read, chunk = read + len(got), chunk * 2
    return None


def _hidden_shares(*, start, end, team_ids, filters, labelled) -> list:
    """Jobs that may hold a share of a bill with no total to bound it: in the range's model rows with no
    estimate and a bill, their slices with a share (few: GPUs billed with no catalog price)."""
    cells = ModelUsageSnapshot.objects.filter(date__gte=start, date__lt=end, estimated_cost_usd=0, allocated_usd__gt=0)
    cells = cells.filter(filters.rollup_q())
    if team_ids is not None:
        cells = cells.filter(team_id__in=team_ids)
    days = set(cells.values_list("date", flat=True))
    if not days:
        return []
    slices = range_slices(start=start, end=end, team_ids=team_ids, filters=filters)
    slices = slices.filter(date__in=days, estimated_usd=0, allocated_usd__gt=0)
    if labelled is not None:
        slices = slices.filter(job_id__in=labelled.values("id"))
    return list(slices.order_by().values_list("job_id", flat=True).distinct())


def most_expensive_jobs(
    *,
    start: date,
    end: date,
    team_ids: Collection[UUID] | None = None,
    limit: int = 20,
    idle: str = SEPARATE,
    order: str = "cost",
    filters: SpendFilter = NO_FILTER,
) -> list[dict]:
    """The `limit` jobs that cost most in [start, end): by allocated, then estimated USD, then GPU-hours.

    Sums of the jobs' slices in the range (a long job counts only its days inside it).
    A job with no priced hour in the range has estimated and allocated None (unknown)
    and sorts after the priced ones. With order="waste", the jobs that wasted most
    (estimated cost x (1 - utilisation)): measured jobs only, unmeasured ones have no
    waste to rank. Two queries.
    """
    if order not in TOP_ORDERS:
        raise ValueError(f"unknown order {order!r}; use {' or '.join(TOP_ORDERS)}")
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    if not 1 <= limit <= MAX_TOP_JOBS:
        raise ValueError(f"limit must be between 1 and {MAX_TOP_JOBS}")

    rows = top_job_sums(start=start, end=end, limit=limit, team_ids=team_ids, idle=idle, order=order, filters=filters)
    jobs = Job.objects.select_related("team").in_bulk([row["job_id"] for row in rows])
    result = []
    for row in rows:
        job = jobs[row["job_id"]]
        row = quantized(row)
        unknown = row.pop("priced") == 0
        result.append({
            "id": job.pk, "team": job.team.name, "team_id": job.team_id, "model_name": job.model_name,
            "provider": job.provider, "gpu_type": job.gpu_type, "gpu_count": job.gpu_count,
            "external_id": job.external_id, "start_time": job.start_time, "end_time": job.end_time,
            "labels": job.labels, "days": row["days"], "gpu_hours": row["gpu_hours"],
            "unpriced_gpu_hours": row["unpriced_gpu_hours"],
            "estimated_usd": None if unknown else row["estimated_usd"],
            "allocated_usd": None if unknown else row["allocated_usd"],
            **_efficiency(row, unknown),
        })  # fmt: skip
    return sorted(result, key=lambda r: r["estimated_usd"] is None)  # stable: unknown after the priced ones


def _efficiency(row: dict, unpriced: bool) -> dict:
    """A top job's used and unmeasured GPU-hours, waste and efficiency in the range (None where unknown)."""
    used = None if row["used_gpu_hours"] is None else row["used_gpu_hours"].quantize(HOURS)
    waste = None if row["waste_usd"] is None or unpriced else row["waste_usd"].quantize(CENT)
    allocated_waste = row["allocated_waste_usd"]
    return {
        "used_gpu_hours": used,
        "unmeasured_gpu_hours": row["unmeasured_gpu_hours"],
        "measured_gpu_hours": row["measured_gpu_hours"],
        "waste_usd": waste,
        "allocated_waste_usd": None if allocated_waste is None else allocated_waste.quantize(CENT),
        "efficiency_pct": efficiency_pct(used_gpu_hours=used, measured_gpu_hours=row["measured_gpu_hours"]),
    }
