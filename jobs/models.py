"""GPU workloads: what ran, where, on how many GPUs, and for how long."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from heliox.audit import BulkTableHistory
from heliox.models import BaseModel
from heliox.units import SECONDS_PER_HOUR, to_hours
from jobs.labels import label_problem
from jobs.querysets import JobQuerySet
from jobs.times import job_times_problem
from jobs.totals import INDEXED_TOTALS, SORTABLE_TOTALS, JobTotals, total_property

__all__ = ["INDEXED_TOTALS", "SORTABLE_TOTALS", "JobTotals"]  # the totals' names, re-exported for the job lists
from teams.models import Team


class Provider(models.TextChoices):
    """Where GPUs come from. `on-prem` covers Slurm clusters (region = cluster name)."""

    AWS = "aws", "AWS"
    GCP = "gcp", "Google Cloud"
    AZURE = "azure", "Azure"
    OCI = "oci", "Oracle Cloud"
    LAMBDA = "lambda", "Lambda"
    COREWEAVE = "coreweave", "CoreWeave"
    ON_PREM = "on-prem", "On-premises"


class Pricing(models.TextChoices):
    ON_DEMAND = "on_demand", "On-demand"
    SPOT = "spot", "Spot"
    RESERVED = "reserved", "Reserved"


# GPU type names are the catalog's canonical spelling: H100, A100-80GB, L40S... Vendors name some
# accelerators with words (AMD "Radeon Pro V520", Habana "Gaudi HL-205" in AWS's catalog), so single
# spaces between characters are allowed; leading, trailing and doubled spaces are not.
gpu_type_validator = RegexValidator(
    r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]| (?=[A-Za-z0-9]))*$",
    "GPU type is a name such as H100, A100-80GB or Radeon Pro V520 (letters, digits, '-', '.', single spaces).",
)


def to_second(moment: datetime | None) -> datetime | None:
    """Job times are kept to the second (as schedulers report them), so GPU-seconds are exact integers."""
    return moment.replace(microsecond=0) if moment else moment


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class UtilSource(models.TextChoices):
    """Where a job's GPU utilisation came from ('' = nowhere: the job is unmeasured)."""

    IMPORT = "import", "Imported file (CSV/JSON)"
    API = "api", "API"
    SLURM = "slurm", "Slurm TRES usage (sacct)"
    DCGM = "dcgm", "DCGM exporter (Prometheus)"


# Utilisation is a percentage to 2 decimals; peak GPU memory GiB to 3 (a MiB is 0.001 GiB, near enough).
UTIL_MAX = Decimal(100)
GPU_MEM_MAX_GIB = Decimal(100_000)  # above any GPU made: 100 TB of memory on one job's GPU is a unit error


class Job(BaseModel):
    """One GPU workload (a training run, an inference deployment, a Slurm job).

    It holds `gpu_count` GPUs of `gpu_type` from `start_time` until `end_time`
    (null while it runs). Cost is derived from these and the price catalog.
    """

    Status = JobStatus
    UtilSource = UtilSource
    FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    # No index of its own: jobs_job_team_status_idx starts with team_id and serves every lookup
    # by team, and a bulk import pays for each index it maintains.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="jobs", db_index=False, db_comment="Team that pays."
    )
    model_name = models.CharField(
        max_length=200, blank=True, default="", db_comment="Model trained or served, e.g. llama-3-70b."
    )
    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    gpu_type = models.CharField(max_length=32, validators=[gpu_type_validator], db_comment="GPU model, e.g. H100.")
    gpu_count = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], db_comment="GPUs held for the whole job (>= 1)."
    )
    region = models.CharField(
        max_length=64, blank=True, default="", db_comment="Cloud region or on-prem cluster; '' if unknown."
    )
    pricing = models.CharField(
        max_length=16, choices=Pricing.choices, default=Pricing.ON_DEMAND, db_comment="Purchase option."
    )
    start_time = models.DateTimeField(
        null=True, blank=True, db_comment="When the GPUs were allocated (UTC); null while pending."
    )
    end_time = models.DateTimeField(
        null=True, blank=True, db_comment="When the GPUs were released (UTC); null while running."
    )
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_comment="Lifecycle state."
    )
    # NULL when unknown: a UNIQUE constraint treats NULLs as distinct on every database,
    # and a plain (not partial) unique index is what upserts can target.
    external_id = models.CharField(
        max_length=128, null=True, blank=True, db_comment="Scheduler's job id; unique per provider; null if unknown."
    )
    metadata = models.JSONField(default=dict, blank=True, db_comment="Free-form data from the scheduler.")
    # db_default too: set-based writers (the PostgreSQL import, benchmarks) insert jobs in SQL.
    labels = models.JSONField(
        default=dict,
        db_default={},
        blank=True,
        db_comment="Cost labels: string keys and values (project, user, slurm.qos...).",
    )
    # Totals of the job's daily slices, kept by the rollup in a narrow table of their own (jobs.totals).
    gpu_hours = total_property("gpu_hours")
    estimated_usd = total_property("estimated_usd")
    allocated_usd = total_property("allocated_usd")
    unpriced_gpu_hours = total_property("unpriced_gpu_hours")
    used_gpu_hours = total_property("used_gpu_hours")
    waste_usd = total_property("waste_usd")
    allocated_waste_usd = total_property("allocated_waste_usd")
    gpu_util_avg = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        db_comment="Time-weighted average GPU utilisation in percent (0-100); null = unmeasured, never 0 or 100.",
    )  # fmt: skip
    gpu_mem_peak_gib = models.DecimalField(
        max_digits=9, decimal_places=3, null=True, blank=True,
        db_comment="Peak GPU memory used on one GPU, GiB; null when not measured.",
    )  # fmt: skip
    gpu_util_source = models.CharField(
        max_length=16, choices=UtilSource.choices, blank=True, default="",
        db_comment="Where gpu_util_avg came from: import, api, slurm, dcgm; '' when unmeasured.",
    )  # fmt: skip

    objects = JobQuerySet.as_manager()

    history = BulkTableHistory()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["-start_time"]
        db_table_comment = "GPU workloads; the source of usage and estimated cost."
        constraints = [
            models.CheckConstraint(condition=models.Q(gpu_count__gte=1), name="jobs_job_gpu_count_positive"),
            models.CheckConstraint(
                condition=models.Q(end_time__isnull=True)
                | models.Q(start_time__isnull=True)
                | models.Q(end_time__gte=models.F("start_time")),
                name="jobs_job_end_after_start",
            ),
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="jobs_job_status_valid"),
            models.CheckConstraint(condition=models.Q(pricing__in=Pricing.values), name="jobs_job_pricing_valid"),
            models.UniqueConstraint(fields=["provider", "external_id"], name="jobs_job_unique_provider_external_id"),
            models.CheckConstraint(
                condition=models.Q(gpu_util_avg__isnull=True)
                | models.Q(gpu_util_avg__gte=0, gpu_util_avg__lte=UTIL_MAX),
                name="jobs_job_gpu_util_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(gpu_mem_peak_gib__isnull=True) | models.Q(gpu_mem_peak_gib__gte=0),
                name="jobs_job_gpu_mem_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(gpu_util_source__in=["", *UtilSource.values]), name="jobs_job_util_source_valid"
            ),
        ]
        indexes = [
            # Team job lists and "running jobs of team X" in the API and admin.
            models.Index(fields=["team", "status"], name="jobs_job_team_status_idx"),
            # Price lookups and per-provider/GPU filters.
            models.Index(fields=["provider", "gpu_type"], name="jobs_job_provider_gpu_idx"),
            # The changelist's default ordering and date_hierarchy; the rollup's
            # "started before the end of the day" half of the overlap test.
            models.Index(fields=["start_time"], name="jobs_job_start_time_idx"),
            # The rollup's "ended after the start of the day (or still running)" half.
            models.Index(fields=["end_time"], name="jobs_job_end_time_idx"),
            # Cursor pagination of /api/v1/jobs/ (newest first).
            models.Index(fields=["created_at"], name="jobs_job_created_at_idx"),
            # A team's jobs that held GPUs in a range (end_time after its start, or running) and the largest jobs
            # started in it (end_time >= start_time >= the range's start), read from the index alone (PostgreSQL):
            # the team page's "largest jobs" without reading the rows. The jobs with a label value add
            # jobs_job_labels_gin, PostgreSQL only (migration 0014).
            models.Index(
                fields=["team", "end_time"], include=["start_time", "gpu_count", "id"], name="jobs_job_team_end_idx"
            ),
        ]

    def clean(self) -> None:
        found = label_problem(self.labels)
        if found:
            raise ValidationError({"labels": f"{found[0]}: {found[1]}"})
        problem = job_times_problem(self.start_time, self.end_time)
        if problem:
            raise ValidationError({problem[0]: problem[1]})

    def save(self, *args, **kwargs) -> None:
        self.start_time, self.end_time = to_second(self.start_time), to_second(self.end_time)
        self.external_id = self.external_id or None
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        label = self.model_name or self.external_id or str(self.pk)[:8]
        return f"{label} ({self.gpu_count} x {self.gpu_type} on {self.provider})"

    def duration_hours(self, now: datetime | None = None) -> Decimal | None:
        """Wall-clock hours from start to end (or to `now` while running); None if not started."""
        if self.start_time is None:
            return None
        end = self.end_time or now or timezone.now()
        return Decimal((end - self.start_time).total_seconds()) / SECONDS_PER_HOUR

    def held_gpu_hours(self, now: datetime | None = None) -> Decimal | None:
        """GPU-hours = gpu_count x whole seconds held (to `now` while running), to 4 decimals; None if not started.

        The API shows this live figure; the rollup keeps the per-day sums in the `gpu_hours` column.
        """
        if self.start_time is None:
            return None
        end = self.end_time or now or timezone.now()
        return to_hours(int((end - self.start_time).total_seconds()) * self.gpu_count)


class ImportStatus(models.TextChoices):
    """Where an import run is: queued or running (an upload on a worker), then how it ended."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DRY_RUN = "dry_run", "Dry run"
    DUPLICATE = "duplicate", "Already imported"


class ImportRecord(BaseModel):
    """One run of an import (jobs, billing or LLM calls): what file, what it did, how it ended.

    A file whose SHA-256 was already imported successfully with the same options is
    not imported again.
    """

    class Kind(models.TextChoices):
        JOBS = "jobs", "Jobs"
        BILLING = "billing", "Billing"
        LLM_CALLS = "llm_calls", "LLM calls"
        PROMETHEUS = "prometheus", "Prometheus sync"

    Status = ImportStatus
    UNFINISHED = (ImportStatus.QUEUED, ImportStatus.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices, db_comment="jobs, billing, llm_calls or prometheus.")
    file_name = models.CharField(max_length=500, db_comment="Name of the imported file.")
    sha256 = models.CharField(max_length=64, db_comment="SHA-256 of the file's bytes, hex.")
    format = models.CharField(max_length=16, db_comment="csv, json, sacct, focus, jsonl or prometheus.")
    options = models.JSONField(
        default=dict, blank=True, db_comment="Options that change what the file imports as (--gpu-type...)."
    )
    options_sha256 = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_comment="SHA-256 of the options; '' when none. Part of the duplicate check.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, db_comment="How the run ended.")
    rows_read = models.PositiveIntegerField(default=0, db_comment="Data rows read.")
    rows_kept = models.PositiveIntegerField(default=0, db_comment="Rows imported (GPU lines, GPU jobs).")
    rows_skipped = models.PositiveIntegerField(default=0, db_comment="Rows skipped (non-GPU lines, jobs without GPUs).")
    totals = models.JSONField(default=dict, blank=True, db_comment="What changed: created/updated counts, USD...")
    error = models.TextField(blank=True, default="", db_comment="Why the run failed (file, line, column).")
    duration_ms = models.PositiveIntegerField(default=0, db_comment="Wall-clock duration in milliseconds.")
    run_by = models.CharField(max_length=150, blank=True, default="", db_comment="User or OS account that ran it.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_comment="User who uploaded the file (admin or API); null for a command's run.",
    )
    stored_file = models.CharField(
        max_length=500,
        blank=True,
        default="",
        db_comment="Name of the uploaded file in Django's default storage until its import finishes; '' after.",
    )
    parameters = models.JSONField(
        default=dict, blank=True, db_comment="What a queued import was asked: format, options, allowed teams."
    )
    progress_total = models.PositiveIntegerField(
        null=True, blank=True, db_comment="Rows the file holds (estimated from its lines); null when unknown."
    )
    summary = models.TextField(blank=True, default="", db_comment="What the import did, in one sentence.")

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Log of job and billing imports; a checksum already imported is a no-op."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values),
                name="jobs_importrecord_status_valid",
            ),
        ]
        indexes = [
            # "Was this file imported already?" on every import.
            models.Index(fields=["kind", "sha256", "status"], name="jobs_import_checksum_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} import of {self.file_name} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status not in self.UNFINISHED

    @property
    def progress_percent(self) -> float | None:
        """Percent of the file's rows read (100 once finished); None while the total is unknown."""
        if self.finished:
            return 100.0
        if not self.progress_total:
            return None
        return round(min(99.0, 100.0 * self.rows_read / self.progress_total), 1)
