"""The bill: what each provider charged per UTC day and GPU type."""

from django.core.validators import MinValueValidator
from django.db import models

from costs.billing.querysets import BillQuerySet
from heliox.audit import BulkTableHistory
from heliox.models import BaseModel
from jobs.models import Provider, gpu_type_validator


class CostSnapshot(BaseModel):
    """The bill: what a provider charged for one GPU type on one UTC day (USD)."""

    date = models.DateField(db_comment="UTC day the charge is for.")
    provider = models.CharField(max_length=32, choices=Provider.choices, db_comment="GPU provider slug.")
    gpu_type = models.CharField(max_length=32, validators=[gpu_type_validator], db_comment="GPU model.")
    cost_usd = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(0)], db_comment="Billed cost, USD."
    )
    gpu_hours = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        db_comment="Billed GPU-hours, if the bill says.",
    )
    idle_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        editable=False,
        db_comment="Part of the bill no job used, idle kept apart (derived by the allocation).",
    )
    idle_shared_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        editable=False,
        db_comment="Idle when idle is shared across teams: the whole bill if no job ran, else 0 (derived).",
    )

    objects = BillQuerySet.as_manager()  # type: ignore[django-manager-missing]  # mypy loses it via heliox.audit

    history = BulkTableHistory()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["-date", "provider", "gpu_type"]
        db_table_comment = "Daily GPU bill per provider and GPU type (from billing imports or by hand)."
        constraints = [
            models.CheckConstraint(condition=models.Q(cost_usd__gte=0), name="costs_costsnapshot_cost_non_negative"),
            models.CheckConstraint(
                condition=models.Q(idle_usd__gte=0, idle_shared_usd__gte=0), name="costs_costsnapshot_idle_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(gpu_hours__isnull=True) | models.Q(gpu_hours__gte=0),
                name="costs_costsnapshot_hours_non_negative",
            ),
            models.UniqueConstraint(
                fields=["date", "provider", "gpu_type"], name="costs_costsnapshot_unique_day_provider_gpu"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.provider} {self.gpu_type}: ${self.cost_usd}"
