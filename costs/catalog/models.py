"""The price catalog: GPU-hour prices, instance types, LLM token prices and the log of their loads."""

from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from heliox.models import BaseModel
from jobs.models import Pricing, Provider, gpu_type_validator


class GpuPrice(BaseModel):
    """The catalog price of one GPU-hour, valid over [effective_from, effective_to).

    A lookup takes the row valid at the instant, exact region first, then the
    any-region row (region = ''). A changed price closes the old row and opens a
    new one, so history is never rewritten.
    """

    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    gpu_type = models.CharField(max_length=32, validators=[gpu_type_validator], db_comment="GPU model, e.g. H100.")
    region = models.CharField(max_length=64, blank=True, default="", db_comment="Region; '' means any region.")
    pricing = models.CharField(
        max_length=16, choices=Pricing.choices, default=Pricing.ON_DEMAND, db_comment="Purchase option."
    )
    usd_per_gpu_hour = models.DecimalField(
        max_digits=10, decimal_places=4, validators=[MinValueValidator(0)], db_comment="USD per GPU-hour."
    )
    effective_from = models.DateTimeField(db_comment="First instant this price applies (UTC, inclusive).")
    effective_to = models.DateTimeField(
        null=True, blank=True, db_comment="Instant this price stops applying (UTC, exclusive); null = open."
    )
    source = models.CharField(
        max_length=300, blank=True, default="", db_comment="Where the price comes from (URL or file) and when."
    )

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["provider", "gpu_type", "region", "pricing", "-effective_from"]
        db_table_comment = "Price catalog: USD per GPU-hour, effective-dated."
        constraints = [
            models.CheckConstraint(condition=models.Q(usd_per_gpu_hour__gte=0), name="costs_gpuprice_usd_non_negative"),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=models.F("effective_from")),
                name="costs_gpuprice_effective_range",
            ),
            models.CheckConstraint(condition=models.Q(pricing__in=Pricing.values), name="costs_gpuprice_pricing_valid"),
            models.UniqueConstraint(
                fields=["provider", "gpu_type", "region", "pricing", "effective_from"],
                name="costs_gpuprice_unique_key",
            ),
        ]
        indexes = [
            # Price lookup: rows for (provider, gpu_type, pricing) valid at an instant.
            models.Index(
                fields=["provider", "gpu_type", "pricing", "effective_from"], name="costs_gpuprice_lookup_idx"
            ),
        ]

    def __str__(self) -> str:
        region = self.region or "any region"
        return f"{self.provider} {self.gpu_type} {self.pricing} ({region}): ${self.usd_per_gpu_hour}/GPU-h"


class InstanceType(BaseModel):
    """A cloud instance type and the GPUs it carries (aws p5.48xlarge = 8 x H100).

    Used to recognise GPU lines in a bill and to turn instance-hours into GPU-hours.
    """

    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    name = models.CharField(max_length=100, db_comment="Provider's instance type name, e.g. p5.48xlarge.")
    gpu_type = models.CharField(max_length=32, validators=[gpu_type_validator], db_comment="GPU model on board.")
    gpu_count = models.PositiveIntegerField(validators=[MinValueValidator(1)], db_comment="GPUs per instance (>= 1).")
    vcpus = models.PositiveIntegerField(null=True, blank=True, db_comment="vCPUs per instance, if known.")
    memory_gib = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, db_comment="Memory per instance in GiB, if known."
    )

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["provider", "name"]
        db_table_comment = "GPU instance types of each provider."
        constraints = [
            models.CheckConstraint(condition=models.Q(gpu_count__gte=1), name="costs_instancetype_gpu_count_positive"),
            models.UniqueConstraint(fields=["provider", "name"], name="costs_instancetype_unique_provider_name"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.name} ({self.gpu_count} x {self.gpu_type})"


class PriceRefresh(BaseModel):
    """One load of the price catalog; the newest row says how fresh the catalog is."""

    source = models.CharField(max_length=500, db_comment="File loaded (path or 'default catalog').")
    catalog = models.CharField(max_length=8, default="gpu", db_comment="gpu (GPU-hour prices) or llm (token prices).")
    format = models.CharField(max_length=16, db_comment="heliox, skypilot or litellm.")
    rows_read = models.PositiveIntegerField(default=0, db_comment="Data rows in the file.")
    prices_opened = models.PositiveIntegerField(default=0, db_comment="New price rows.")
    prices_closed = models.PositiveIntegerField(default=0, db_comment="Rows closed because the price changed.")
    prices_corrected = models.PositiveIntegerField(default=0, db_comment="Rows corrected in place (same start).")
    instance_types_saved = models.PositiveIntegerField(default=0, db_comment="Instance types created or updated.")
    rows_skipped = models.PositiveIntegerField(
        default=0, db_comment="Rows or entries not loaded because Heliox does not price them (see skipped)."
    )
    skipped = models.JSONField(
        default=dict, blank=True, db_comment="What was not loaded and why: {'<name>: <reason>': rows}."
    )

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Log of price catalog refreshes."

    def __str__(self) -> str:
        return f"{self.format} catalog from {self.source} at {self.created_at:%Y-%m-%d %H:%M} UTC"


class ModelPrice(BaseModel):
    """Per-token price of a hosted model (USD per million tokens), valid over [effective_from, effective_to)."""

    provider = models.CharField(max_length=64, db_comment="Model provider, e.g. openai, anthropic, google.")
    model = models.CharField(max_length=200, db_comment="Model name as the provider spells it.")
    input_usd_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(0)], db_comment="USD per 1M input tokens."
    )
    output_usd_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(0)], db_comment="USD per 1M output tokens."
    )
    cached_input_usd_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        db_comment="USD per 1M cached input tokens; null = billed as input.",
    )
    effective_from = models.DateTimeField(db_comment="First instant this price applies (UTC).")
    effective_to = models.DateTimeField(null=True, blank=True, db_comment="Instant it stops applying; null = open.")
    source = models.CharField(max_length=300, blank=True, default="", db_comment="Where the price comes from.")

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["provider", "model", "-effective_from"]
        db_table_comment = "Per-token model price catalog, effective-dated."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(input_usd_per_mtok__gte=0, output_usd_per_mtok__gte=0)
                & (models.Q(cached_input_usd_per_mtok__isnull=True) | models.Q(cached_input_usd_per_mtok__gte=0)),
                name="costs_modelprice_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=models.F("effective_from")),
                name="costs_modelprice_effective_range",
            ),
            models.UniqueConstraint(fields=["provider", "model", "effective_from"], name="costs_modelprice_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}: ${self.input_usd_per_mtok} in, ${self.output_usd_per_mtok} out per 1M"
