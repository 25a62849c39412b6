"""The daily rollups of job usage (per team, and per team and model) and the exchange rates they are shown in."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from costs.usage.querysets import UsageQuerySet
from heliox.models import BaseModel
from heliox.querysets import DailyQuerySet
from jobs.models import Job, Provider, gpu_type_validator
from teams.models import Team


class UsageFigures(BaseModel):
    """The figures of a usage rollup row, shared by the team and the model rollups."""

    date = models.DateField(db_comment="UTC day.")
    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    gpu_type = models.CharField(max_length=32, validators=[gpu_type_validator], db_comment="GPU model.")
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4, db_comment="GPU-hours used on the day.")
    estimated_cost_usd = models.DecimalField(
        max_digits=12, decimal_places=2, db_comment="Catalog cost of the priced GPU-hours, USD."
    )
    job_count = models.PositiveIntegerField(db_comment="Jobs that held GPUs during the day.")
    unpriced_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, db_comment="GPU-hours with no catalog price."
    )
    unpriced_job_count = models.PositiveIntegerField(default=0, db_comment="Jobs with unpriced GPU-hours.")
    allocated_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        db_comment="Share of the bill, idle kept apart; the estimate on a day with no bill (derived).",
    )
    allocated_shared_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        db_comment="Share of the bill, idle shared by GPU-hours; the estimate on a day with no bill (derived).",
    )
    # Efficiency (README: Kubernetes and GPU efficiency): used / measured GPU-hours.
    used_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0,
        db_comment="GPU-hours x utilisation of the measured jobs (the GPU-hours actually busy).",
    )  # fmt: skip
    unmeasured_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0,
        db_comment="GPU-hours of jobs without utilisation: counted apart, never 0 or 100 percent busy.",
    )  # fmt: skip
    # Kept, not derived as gpu_hours - unmeasured: each is rounded on its own, and a row with no measured job
    # must have exactly 0 here (efficiency unknown), not a rounding unit (efficiency 0 %).
    measured_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, db_comment="GPU-hours of the jobs with utilisation."
    )
    waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, default=0,
        db_comment="Estimated cost x (1 - utilisation) of the measured jobs, USD (idle GPUs that were paid for).",
    )  # fmt: skip
    # The bill's share of the waste (README: Kubernetes and GPU efficiency), set with the allocation.
    allocated_waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, default=0,
        db_comment="allocated_usd x waste_usd / estimated_cost_usd: the share of the bill paid for idle GPUs, USD.",
    )  # fmt: skip
    allocated_shared_waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, default=0,
        db_comment="allocated_shared_usd x idle / all GPU-hours (x waste / estimate with no bill), USD.",
    )  # fmt: skip

    class Meta:
        abstract = True
        # Named per table (costs_usagesnapshot_..., costs_modelusagesnapshot_...) by Django's interpolation.
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gpu_hours__gte=0), name="%(app_label)s_%(class)s_hours_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(estimated_cost_usd__gte=0), name="%(app_label)s_%(class)s_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(unpriced_gpu_hours__gte=0), name="%(app_label)s_%(class)s_unpriced_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(allocated_usd__gte=0, allocated_shared_usd__gte=0),
                name="%(app_label)s_%(class)s_allocated_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    used_gpu_hours__gte=0, unmeasured_gpu_hours__gte=0, measured_gpu_hours__gte=0, waste_usd__gte=0
                ),
                name="%(app_label)s_%(class)s_efficiency_non_negative",
            ),
        ]


class UsageSnapshot(UsageFigures):
    """The rollup of jobs for one UTC day, team, provider and GPU type.

    Built by `manage.py rollup` as the sum of the team's ModelUsageSnapshot rows.
    `estimated_cost_usd` covers the priced part of `gpu_hours`; `unpriced_gpu_hours`
    had no catalog price (reported, never $0). Provider-level usage is the sum over teams.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="usage_snapshots", db_comment="Team.")

    objects: UsageQuerySet = UsageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta(UsageFigures.Meta):
        ordering = ["-date", "team__name", "provider", "gpu_type"]
        db_table_comment = "Daily rollup of job usage, estimated cost and bill share per team, provider and GPU type."
        constraints = [
            *UsageFigures.Meta.constraints,
            models.UniqueConstraint(
                fields=["date", "team", "provider", "gpu_type"], name="costs_usagesnapshot_unique_day_team_provider_gpu"
            ),
        ]
        indexes = [
            # Aggregates over a date range (dashboard, costs/summary, allocation).
            models.Index(fields=["date", "provider", "gpu_type"], name="costs_usage_date_cell_idx"),
            # A team's spend over a range (team page, budgets).
            models.Index(fields=["team", "date"], name="costs_usage_team_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.team} {self.provider} {self.gpu_type}: {self.gpu_hours} GPU-h"


class ModelUsageSnapshot(UsageFigures):
    """The same rollup one level finer: per model name within a team's day, provider and GPU type.

    Summing a team's rows gives its UsageSnapshot row exactly; group_by=model_name reads these.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="model_usage_snapshots", db_comment="Team.")
    model_name = models.CharField(max_length=200, blank=True, default="", db_comment="Model name ('' if unnamed).")

    objects: UsageQuerySet = UsageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta(UsageFigures.Meta):
        ordering = ["-date", "team__name", "provider", "gpu_type", "model_name"]
        db_table_comment = "Daily rollup of job usage per team, provider, GPU type and model."
        constraints = [
            *UsageFigures.Meta.constraints,
            models.UniqueConstraint(
                fields=["date", "team", "provider", "gpu_type", "model_name"],
                name="costs_modelusagesnapshot_unique_key",
            ),
        ]
        indexes = [
            # group_by=model_name over a date range; a team's top models.
            models.Index(fields=["date", "team"], name="costs_modelusage_date_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.team} {self.model_name or '(unnamed)'} {self.gpu_type}: {self.gpu_hours} GPU-h"


class LabelFigures(UsageFigures):
    """A label rollup row's keys beside the figures: team, label key and label value."""

    # No index or constraint of its own: reads go by (key, date), and the rollup writes these rows by the
    # hundred thousand, each index and deferred check a cost.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="%(class)s_rows", db_index=False, db_constraint=False,
        db_comment="Team.",
    )  # fmt: skip
    key = models.CharField(max_length=63, db_comment="Label key, e.g. project.")
    value = models.CharField(max_length=200, db_comment="Label value; '(unlabelled)' for jobs without the key.")

    objects: UsageQuerySet = UsageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta(UsageFigures.Meta):
        abstract = True
        ordering = ["-date", "team__name", "key", "value", "provider", "gpu_type"]

    def __str__(self) -> str:
        return f"{self.date} {self.team} {self.key}={self.value} {self.gpu_type}: {self.gpu_hours} GPU-h"


def label_constraints(name: str) -> list:
    """A label rollup table's checks and its natural key: one row per (date, team, key, value, provider, GPU)."""
    key = ["date", "team", "key", "value", "provider", "gpu_type"]
    return [*UsageFigures.Meta.constraints, models.UniqueConstraint(fields=key, name=name)]


class LabelUsageSnapshot(LabelFigures):
    """The rollup by cost label: per UTC day, team, label key, label value, provider and GPU type.

    Kept for the keys named by HELIOX_COST_LABELS; jobs without the key count under the
    value "(unlabelled)", so that a key's rows of a team's day add up to its UsageSnapshot
    rows exactly (they are sums of the job slices, which do).
    """

    class Meta(LabelFigures.Meta):
        db_table_comment = "Daily rollup of job usage per team and cost label value (HELIOX_COST_LABELS keys)."
        constraints = label_constraints("costs_labelusage_unique_key")
        indexes = [
            # group_by=label:<key> over a date range (its days outside whole months); with the team last, a team's
            # label tables read its own rows only (the others' are left in the index, not read from the table).
            models.Index(fields=["key", "date", "team"], name="costs_labelusage_key_date_idx"),
        ]


class LabelMonthSnapshot(LabelFigures):
    """The label rollup summed per calendar month (`date`: the month's first day): the same figures as the
    month's LabelUsageSnapshot rows, to the cent, so that a year by label reads 12 months' rows, not 365 days'.

    Rebuilt by the rollup for every month whose days it rolls up; `job_count` counts job-days.
    """

    class Meta(LabelFigures.Meta):
        db_table_comment = "Monthly sums of the label rollup (LabelUsageSnapshot), per team and label value."
        constraints = label_constraints("costs_labelmonth_unique_key")
        indexes = [
            # group_by=label:<key> over the whole months of a range.
            models.Index(fields=["key", "date"], name="costs_labelmonth_key_date_idx"),
        ]


class JobDaySlice(BaseModel):
    """One job on one UTC day: what it used and cost, and its share of the bill.

    Written by the rollup. Cents (and 0.0001 GPU-hours) are distributed over the
    slices of a (day, team, provider, GPU type, model) by largest remainder, ties by
    job id, so that they add up exactly to that ModelUsageSnapshot row.
    """

    # No index of its own: costs_jobdayslice_unique_job_day starts with job_id. Each index costs the rollup.
    # No constraint in the database either (a deferred check per slice at the rollup's commit): deleting a job
    # through Django (admin, API, querysets, its team's deletion) still deletes its slices (CASCADE in the ORM),
    # and the rollup removes the slices of a job deleted while it ran (job_costs.job_totals_update).
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="day_slices", db_index=False, db_constraint=False, db_comment="Job."
    )
    date = models.DateField(db_comment="UTC day.")
    # The job's team, copied for scoping and grouping; no constraint of its own (the job's holds it), which
    # spares the rollup a deferred check per row.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="job_day_slices", db_index=False, db_constraint=False,
        db_comment="Team of the job (copied from it).",
    )  # fmt: skip
    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    gpu_type = models.CharField(max_length=32, db_comment="GPU model.")
    model_name = models.CharField(max_length=200, blank=True, default="", db_comment="Model name ('' if unnamed).")
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=4, db_comment="GPU-hours held on the day.")
    estimated_usd = models.DecimalField(max_digits=12, decimal_places=2, db_comment="Catalog cost, USD.")
    allocated_usd = models.DecimalField(
        max_digits=12, decimal_places=2, db_comment="Share of the bill, idle kept apart; the estimate with no bill."
    )
    allocated_shared_usd = models.DecimalField(
        max_digits=12, decimal_places=2, db_comment="Share of the bill, idle shared; the estimate with no bill."
    )
    unpriced_gpu_hours = models.DecimalField(max_digits=14, decimal_places=4, db_comment="GPU-hours with no price.")
    price_usd_per_gpu_hour = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True,
        db_comment="Catalog price used (the average when it changed within the day); null when unpriced.",
    )  # fmt: skip
    used_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True,
        db_comment="GPU-hours x the job's utilisation; null when the job is unmeasured.",
    )  # fmt: skip
    unmeasured_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, db_comment="GPU-hours without utilisation (the job's, or 0)."
    )
    measured_gpu_hours = models.DecimalField(
        max_digits=14, decimal_places=4, default=0, db_comment="GPU-hours with utilisation (the job's, or 0)."
    )
    waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Estimated cost x (1 - utilisation), USD; null when the job is unmeasured.",
    )  # fmt: skip
    allocated_waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Allocated (idle kept apart) x (1 - utilisation), USD; null when the job is unmeasured.",
    )  # fmt: skip
    allocated_shared_waste_usd = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        db_comment="Allocated (idle shared) x (1 - utilisation), USD; null when the job is unmeasured.",
    )  # fmt: skip

    objects: DailyQuerySet = DailyQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["job", "date"]
        db_table_comment = "Each job's GPU-hours, estimated cost and bill share per UTC day (from the rollup)."
        constraints = [
            models.UniqueConstraint(fields=["job", "date"], name="costs_jobdayslice_unique_job_day"),
            models.CheckConstraint(
                condition=models.Q(
                    gpu_hours__gte=0,
                    estimated_usd__gte=0,
                    unpriced_gpu_hours__gte=0,
                    allocated_usd__gte=0,
                    allocated_shared_usd__gte=0,
                    unmeasured_gpu_hours__gte=0,
                    measured_gpu_hours__gte=0,
                ),
                name="costs_jobdayslice_non_negative",
            ),
        ]
        indexes = [
            # The rollup replaces a day's slices; top jobs of a range.
            models.Index(fields=["date", "team"], name="costs_jobslice_date_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.date} job {self.job_id}: {self.gpu_hours} GPU-h, ${self.estimated_usd}"


class FxRate(BaseModel):
    """Units of `currency` per USD from `as_of` until the next rate (USD stays canonical in storage)."""

    currency = models.CharField(max_length=3, db_comment="ISO 4217 code, e.g. ZAR.")
    rate_per_usd = models.DecimalField(
        max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))],
        db_comment="Units of the currency for 1 USD.",
    )  # fmt: skip
    as_of = models.DateField(db_comment="First UTC day the rate applies.")

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["currency", "-as_of"]
        db_table_comment = "Exchange rates used to show USD figures in another currency."
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_per_usd__gt=0), name="costs_fxrate_positive"),
            models.UniqueConstraint(fields=["currency", "as_of"], name="costs_fxrate_unique_currency_day"),
        ]

    def __str__(self) -> str:
        return f"1 USD = {self.rate_per_usd} {self.currency} from {self.as_of}"


class RollupBacklog(BaseModel):
    """UTC days [start, end) that a change to jobs made stale and that no rollup has rebuilt yet.

    A change made in a web request (the API, the admin, the member UI) without workers rolls
    up only its latest days in the request; the older ones wait here for the next `rollup`
    without dates (cron) or the hourly `usage.rollup_recent`, which roll them up and delete
    the rows. One row per change, not per day: a job of ten years is one row.
    """

    start = models.DateField(db_comment="First UTC day owed.")
    end = models.DateField(db_comment="Day after the last one owed (exclusive).")

    class Meta:
        ordering = ["start"]
        db_table_comment = "Days whose rollup a change to jobs owes (without workers, past the request's share)."
        constraints = [models.CheckConstraint(condition=models.Q(end__gt=models.F("start")),
                                              name="costs_rollupbacklog_start_before_end")]  # fmt: skip

    def __str__(self) -> str:
        return f"rollup owed for [{self.start}, {self.end})"
