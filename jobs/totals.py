"""A job's totals over its rolled-up days, in a narrow table of their own (JobTotals), one row per rolled-up job.

The rollup rewrites the totals of every job it touches. On the job row itself that meant a new version of a
wide row and an entry in each of its eleven indexes (the labels' GIN index among them) per job: 454 s of a
year's rollup at 2,000,000 jobs. Here a job's totals are a row of 8 columns with 3 indexes; the job reads
them through `Job.totals` (its properties `estimated_usd`... are None when the job has no row: not rolled
up yet, or no slice left). Sorted job lists read the two money indexes in order (jobs.selectors).
"""

from django.db import models
from django.db.models import F

from heliox.models import NullsLastIndex

# The totals a job list may be sorted by; the money ones have an index each (named by the short name).
SORTABLE_TOTALS = ("estimated_usd", "allocated_usd", "gpu_hours", "unpriced_gpu_hours", "waste_usd")
INDEXED_TOTALS = {"estimated_usd": "estimated", "allocated_usd": "allocated"}
TOTALS = ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours", "waste_usd",
          "allocated_waste_usd")  # fmt: skip
RELATION = "totals"  # Job -> JobTotals: order and filter job lists by f"{RELATION}__{total}"


def sort_key(total: str) -> str:
    """The ORM path of a total from a job queryset (`totals__estimated_usd`)."""
    return f"{RELATION}__{total}"


class JobTotals(models.Model):
    """The sums of a job's daily slices (costs.usage JobDaySlice), kept by the rollup for sorting and lists.

    No foreign key in the database (as the slices): the rollup writes these in bulk, and a deferred check per
    row cost more than the row. Deleting a job through the ORM deletes its totals (the ORM cascades).
    """

    job = models.OneToOneField(
        "jobs.Job", primary_key=True, on_delete=models.CASCADE, related_name=RELATION, db_constraint=False,
        db_comment="The job (no database foreign key: written in bulk by the rollup).",
    )  # fmt: skip
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4, db_comment="GPU-hours over the rolled-up days.")
    estimated_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Catalog cost of the priced GPU-hours, USD; null when no hour is priced.",
    )  # fmt: skip
    allocated_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Share of the bill (idle kept apart), USD; null when no hour is priced.",
    )  # fmt: skip
    unpriced_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, db_comment="GPU-hours with no catalog price."
    )
    used_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True,
        db_comment="GPU-hours x utilisation over the rolled-up days; null when unmeasured.",
    )  # fmt: skip
    waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Estimated cost x (1 - utilisation), USD; null when unmeasured or unpriced.",
    )  # fmt: skip
    allocated_waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Allocated (idle kept apart) x (1 - utilisation), USD; null when unmeasured or unpriced.",
    )  # fmt: skip

    class Meta:
        db_table_comment = "Each rolled-up job's totals (sums of its daily slices), for sorting; kept by the rollup."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(estimated_usd__gte=0) | models.Q(estimated_usd__isnull=True),
                name="jobs_totals_estimated_non_negative",
            ),
        ]
        indexes = [
            # Job lists sorted by a total, most first, unknown (null) last: the API (ordering=-estimated_usd), the
            # member UI (sort=-cost) and the admin read known totals (IS NOT NULL) in this order, joined to their
            # jobs; scanned backwards it serves the smallest first.
            *[
                NullsLastIndex(F(name).desc(nulls_last=True), F("job").asc(), name=f"jobs_totals_{short}_idx")
                for name, short in INDEXED_TOTALS.items()
            ],
        ]

    def __str__(self) -> str:
        return f"totals of job {self.job_id}"


def total_property(name: str) -> property:
    """Job.<name>: the job's total, or None when it has no totals row (not rolled up, or no slice left).

    Lists select_related(RELATION) (one query for the page); a single job reads its row once: Django keeps the
    related row, or its absence, on the job."""

    def get(job):
        try:
            return getattr(getattr(job, RELATION), name)
        except JobTotals.DoesNotExist:
            return None

    return property(get, doc=f"The job's {name} over its rolled-up days (JobTotals); None when not rolled up.")
