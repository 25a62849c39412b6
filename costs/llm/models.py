"""LLM API calls, their daily rollup and the idempotency keys of the ingest endpoint."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from costs.llm.querysets import LlmUsageQuerySet
from heliox.models import BaseModel
from teams.models import Team

PICO = 10**12  # LlmCall costs are stored in pico-USD: exact integers that SQL sums exactly on every database


class LlmCall(BaseModel):
    """One call to a hosted model: who made it, tokens, latency, and its cost at the price valid then."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="llm_calls", db_comment="Team that pays.")
    provider = models.CharField(max_length=64, db_comment="Model provider, e.g. openai.")
    model = models.CharField(max_length=200, db_comment="Model name.")
    session_id = models.CharField(max_length=200, blank=True, default="", db_comment="Session or trace id.")
    node_name = models.CharField(max_length=200, blank=True, default="", db_comment="Step or node of the app.")
    input_tokens = models.BigIntegerField(null=True, blank=True, db_comment="Input tokens (cached included).")
    output_tokens = models.BigIntegerField(null=True, blank=True, db_comment="Output tokens.")
    cached_input_tokens = models.BigIntegerField(null=True, blank=True, db_comment="Input tokens read from cache.")
    latency_ms = models.BigIntegerField(null=True, blank=True, db_comment="Latency in milliseconds.")
    created_at = models.DateTimeField(default=timezone.now, db_comment="When the call was made (UTC).")
    cost_picousd = models.BigIntegerField(
        null=True, blank=True, db_comment="Cost in USD x 10^12 (exact); null when the model had no price."
    )
    metadata = models.JSONField(default=dict, blank=True, db_comment="Free-form labels.")

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Log of LLM API calls and their cost."
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(input_tokens__isnull=True) | models.Q(input_tokens__gte=0))
                & (models.Q(output_tokens__isnull=True) | models.Q(output_tokens__gte=0))
                & (models.Q(cached_input_tokens__isnull=True) | models.Q(cached_input_tokens__gte=0))
                & (models.Q(latency_ms__isnull=True) | models.Q(latency_ms__gte=0)),
                name="costs_llmcall_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(cost_picousd__isnull=True) | models.Q(cost_picousd__gte=0),
                name="costs_llmcall_cost_non_negative",
            ),
        ]
        indexes = [
            # A team's calls over time; the daily LLM rollup.
            models.Index(fields=["team", "created_at"], name="costs_llmcall_team_time_idx"),
            # All calls of one session or trace.
            models.Index(fields=["session_id"], name="costs_llmcall_session_idx"),
            # The rollup's day range over every team.
            models.Index(fields=["created_at"], name="costs_llmcall_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def cost_usd(self) -> Decimal | None:
        return None if self.cost_picousd is None else Decimal(self.cost_picousd) / PICO


class LlmUsageSnapshot(BaseModel):
    """Daily LLM spend per team, provider and model (built by `manage.py rollup`)."""

    date = models.DateField(db_comment="UTC day.")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="llm_usage_snapshots", db_comment="Team.")
    provider = models.CharField(max_length=64, db_comment="Model provider.")
    model = models.CharField(max_length=200, db_comment="Model name.")
    calls = models.PositiveIntegerField(db_comment="Calls made.")
    input_tokens = models.BigIntegerField(db_comment="Input tokens.")
    output_tokens = models.BigIntegerField(db_comment="Output tokens.")
    cost_usd = models.DecimalField(max_digits=12, decimal_places=2, db_comment="Cost of the priced calls, USD.")
    unpriced_calls = models.PositiveIntegerField(default=0, db_comment="Calls with no price (not counted as $0).")

    objects = LlmUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "team__name", "provider", "model"]
        db_table_comment = "Daily rollup of LLM calls per team, provider and model."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cost_usd__gte=0, input_tokens__gte=0, output_tokens__gte=0),
                name="costs_llmusage_non_negative",
            ),
            models.UniqueConstraint(fields=["date", "team", "provider", "model"], name="costs_llmusage_unique_key"),
        ]
        indexes = [models.Index(fields=["team", "date"], name="costs_llmusage_team_date_idx")]

    def __str__(self) -> str:
        return f"{self.date} {self.team} {self.provider}/{self.model}: ${self.cost_usd}"


class IdempotencyKey(BaseModel):
    """An `Idempotency-Key` already used: a retried request gets the first response instead of a second write."""

    key = models.CharField(max_length=200, db_comment="The client's Idempotency-Key header.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_comment="Who sent it (keys are per user)."
    )
    response = models.JSONField(db_comment="The response body of the first request.")
    status_code = models.PositiveIntegerField(db_comment="Its HTTP status.")

    class Meta:
        db_table_comment = "Idempotency keys of the LLM call ingest endpoint."
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="costs_idempotencykey_unique")]

    def __str__(self) -> str:
        return f"{self.user}: {self.key}"
