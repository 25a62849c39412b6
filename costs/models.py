"""The price catalog, the bill and the daily rollups of usage."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator, validate_email
from django.db import models
from django.utils import timezone

from heliox.models import BaseModel
from heliox.net import UnsafeURLError, check_url
from jobs.models import Pricing, Provider, gpu_type_validator
from teams.models import Team

NON_NEGATIVE = "must not be negative"


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

    class Meta:
        ordering = ["provider", "name"]
        db_table_comment = "GPU instance types of each provider."
        constraints = [
            models.CheckConstraint(condition=models.Q(gpu_count__gte=1), name="costs_instancetype_gpu_count_positive"),
            models.UniqueConstraint(fields=["provider", "name"], name="costs_instancetype_unique_provider_name"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.name} ({self.gpu_count} x {self.gpu_type})"


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

    class Meta:
        abstract = True

    @staticmethod
    def figure_constraints(prefix: str) -> list[models.BaseConstraint]:
        return [
            models.CheckConstraint(condition=models.Q(gpu_hours__gte=0), name=f"{prefix}_hours_non_negative"),
            models.CheckConstraint(condition=models.Q(estimated_cost_usd__gte=0), name=f"{prefix}_cost_non_negative"),
            models.CheckConstraint(
                condition=models.Q(unpriced_gpu_hours__gte=0), name=f"{prefix}_unpriced_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(allocated_usd__gte=0, allocated_shared_usd__gte=0),
                name=f"{prefix}_allocated_non_negative",
            ),
        ]


class UsageSnapshot(UsageFigures):
    """The rollup of jobs for one UTC day, team, provider and GPU type.

    Built by `manage.py rollup` as the sum of the team's ModelUsageSnapshot rows.
    `estimated_cost_usd` covers the priced part of `gpu_hours`; `unpriced_gpu_hours`
    had no catalog price (reported, never $0). Provider-level usage is the sum over teams.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="usage_snapshots", db_comment="Team.")

    class Meta:
        ordering = ["-date", "team__name", "provider", "gpu_type"]
        db_table_comment = "Daily rollup of job usage, estimated cost and bill share per team, provider and GPU type."
        constraints = [
            *UsageFigures.figure_constraints("costs_usagesnapshot"),
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

    class Meta:
        ordering = ["-date", "team__name", "provider", "gpu_type", "model_name"]
        db_table_comment = "Daily rollup of job usage per team, provider, GPU type and model."
        constraints = [
            *UsageFigures.figure_constraints("costs_modelusagesnapshot"),
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


def default_thresholds() -> list[int]:
    return [50, 80, 100]


# Bounds of a budget's settings: each alert is a message (or a POST), so their number is capped;
# the run-rate window cannot be longer than the period it forecasts.
MAX_THRESHOLDS, MAX_THRESHOLD_PERCENT = 10, 1000
MAX_EMAILS, MAX_WEBHOOKS = 10, 5
MAX_TARGET_LENGTH = 500  # BudgetAlert.target: one URL, or the recipients joined by commas
MAX_AMOUNT_USD = Decimal("9999999999.99")  # numeric(12, 2)


def validate_thresholds(value) -> None:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_THRESHOLDS
        or not all(type(t) is int and 1 <= t <= MAX_THRESHOLD_PERCENT for t in value)
    ):
        raise ValidationError(
            f"A list of 1 to {MAX_THRESHOLDS} whole percentages between 1 and {MAX_THRESHOLD_PERCENT}, "
            "e.g. [50, 80, 100].",
            code="thresholds",
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each threshold once.", code="thresholds")


def validate_emails(value) -> None:
    if not isinstance(value, list) or len(value) > MAX_EMAILS:
        raise ValidationError(f"A list of at most {MAX_EMAILS} e-mail addresses.", code="emails")
    for address in value:
        if not isinstance(address, str):
            raise ValidationError(f"Not an e-mail address: {address!r}.", code="emails")
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"Not valid: {address!r}.", code="emails") from None
    if len(",".join(value)) > MAX_TARGET_LENGTH:
        raise ValidationError(f"At most {MAX_TARGET_LENGTH} characters together.", code="emails")


def validate_webhook_urls_format(value) -> None:
    """The URLs' form only (stored budgets are checked with this; saving also resolves them)."""
    check = URLValidator(schemes=["http", "https"])
    if not isinstance(value, list) or len(value) > MAX_WEBHOOKS:
        raise ValidationError(f"A list of at most {MAX_WEBHOOKS} http(s) URLs.", code="webhook_urls")
    for url in value:
        if not isinstance(url, str) or len(url) > MAX_TARGET_LENGTH:
            raise ValidationError(f"Not an http(s) URL of at most {MAX_TARGET_LENGTH} characters.",
                                  code="webhook_urls")  # fmt: skip
        try:
            check(url)
        except ValidationError:
            raise ValidationError(f"Not valid: {url!r}.", code="webhook_urls") from None


def validate_webhook_urls(value) -> None:
    """Well-formed, and every address the host resolves to is public (or allowed by a setting)."""
    validate_webhook_urls_format(value)
    for url in value:
        try:
            check_url(url)
        except UnsafeURLError as error:
            raise ValidationError(f"{url}: {error}", code="webhook_urls") from None


class Budget(BaseModel):
    """A team's GPU budget for each month or quarter, with the thresholds (percent) that alert.

    Spend against it is the team's allocated cost (idle kept apart), which on days
    without a bill yet is the catalog estimate.
    """

    class Period(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"

    # The longest run-rate window of each period: its longest month or quarter, in days.
    MAX_RUN_RATE_DAYS = {Period.MONTHLY: 31, Period.QUARTERLY: 92}

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budgets", db_comment="Team budgeted.")
    amount_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_AMOUNT_USD)],
        db_comment="Budget per period, USD.",
    )
    period = models.CharField(
        max_length=16, choices=Period.choices, default=Period.MONTHLY, db_comment="monthly or quarterly."
    )
    thresholds = models.JSONField(
        default=default_thresholds,
        validators=[validate_thresholds],
        db_comment=f"Percentages of the budget that send an alert, e.g. [50, 80, 100]; 1 to {MAX_THRESHOLDS} "
        f"of them, each 1-{MAX_THRESHOLD_PERCENT}.",
    )
    emails = models.JSONField(
        default=list, blank=True, validators=[validate_emails], db_comment="E-mail addresses alerted (a secret)."
    )
    webhook_urls = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_webhook_urls],
        db_comment="URLs POSTed a Slack-style JSON alert (a secret); public addresses only.",
    )
    run_rate_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(max(MAX_RUN_RATE_DAYS.values()))],
        db_comment="Days of recent spend the forecast uses: 1 to the period's length (31 or 92).",
    )
    active = models.BooleanField(default=True, db_comment="Only active budgets are checked.")

    class Meta:
        ordering = ["team__name", "period"]
        db_table_comment = "Team GPU budgets per month or quarter."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_usd__gt=0, amount_usd__lte=MAX_AMOUNT_USD),
                name="costs_budget_amount_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(period__in=["monthly", "quarterly"]), name="costs_budget_period_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(run_rate_days__gte=1)
                & (
                    models.Q(period="monthly", run_rate_days__lte=31)
                    | models.Q(period="quarterly", run_rate_days__lte=92)
                ),
                name="costs_budget_run_rate_days",
            ),
            models.UniqueConstraint(fields=["team", "period"], name="costs_budget_unique_team_period"),
        ]

    def __str__(self) -> str:
        return f"{self.team}: ${self.amount_usd} {self.period}"

    def clean(self) -> None:
        longest = self.MAX_RUN_RATE_DAYS.get(self.period)
        if longest and isinstance(self.run_rate_days, int) and self.run_rate_days > longest:
            raise ValidationError(
                {"run_rate_days": f"At most {longest} days for a {self.period} budget (the period's length)."}
            )

    def stored_problem(self) -> str:
        """What is wrong with this row as stored ('' when nothing): a row written before the bounds, or by hand.

        Checks what a save checks except the webhook hosts' addresses (checked again at delivery).
        """
        longest = self.MAX_RUN_RATE_DAYS.get(self.period)
        if longest is None:
            return f"period: unknown ({self.period!r})."
        if not (isinstance(self.amount_usd, Decimal) and Decimal("0.01") <= self.amount_usd <= MAX_AMOUNT_USD):
            return f"amount_usd: not between 0.01 and {MAX_AMOUNT_USD:,} ({self.amount_usd!r})."
        if not (type(self.run_rate_days) is int and 1 <= self.run_rate_days <= longest):
            return f"run_rate_days: not between 1 and {longest} ({self.run_rate_days!r})."
        for name, check in (("thresholds", validate_thresholds), ("emails", validate_emails),
                            ("webhook_urls", validate_webhook_urls_format)):  # fmt: skip
            try:
                check(getattr(self, name))
            except ValidationError as error:
                return f"{name}: {' '.join(error.messages)}"
        return ""


class BudgetAlert(BaseModel):
    """One alert of one budget in one period through one channel: sent once, retried while it fails."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold crossed"
        PROJECTED = "projected", "Projected overrun"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (retried next run)"

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts", db_comment="Budget.")
    period_start = models.DateField(db_comment="First day of the budget period alerted.")
    kind = models.CharField(max_length=16, choices=Kind.choices, db_comment="threshold or projected overrun.")
    threshold = models.PositiveIntegerField(db_comment="Percent crossed (100 for a projected overrun).")
    channel = models.CharField(max_length=16, db_comment="email or webhook.")
    target = models.CharField(max_length=500, db_comment="Recipients (e-mail) or the webhook URL.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_comment="pending, sent or failed.")
    attempts = models.PositiveIntegerField(default=0, db_comment="Delivery attempts so far.")
    sent_at = models.DateTimeField(null=True, blank=True, db_comment="When it was delivered (UTC).")
    error = models.TextField(blank=True, default="", db_comment="Why the last attempt failed.")
    spend_usd = models.DecimalField(max_digits=12, decimal_places=2, db_comment="Spend when it was raised, USD.")

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Budget alerts: one per budget, period, threshold and channel."
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "kind", "threshold", "channel", "target"],
                name="costs_budgetalert_once_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=["pending", "sent", "failed"]), name="costs_budgetalert_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.budget} {self.period_start} {self.kind} {self.threshold}% via {self.channel}: {self.outcome}"


class WebhookEndpoint(BaseModel):
    """The delivery record of one webhook URL across runs: a URL that fails is left alone for a while.

    After n consecutive failures the URL is not tried before `next_attempt_at` =
    failure time + BUDGET_WEBHOOK_RETRY_AFTER x 2^(n - 1) (at most BUDGET_WEBHOOK_RETRY_MAX).
    """

    url = models.CharField(max_length=MAX_TARGET_LENGTH, unique=True, db_comment="The webhook URL.")
    failures = models.PositiveIntegerField(default=0, db_comment="Consecutive failed deliveries.")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, db_comment="Not tried again before this instant (UTC); null = any time."
    )
    last_error = models.TextField(blank=True, default="", db_comment="Why the last delivery failed.")
    last_success_at = models.DateTimeField(null=True, blank=True, db_comment="Last successful delivery (UTC).")

    class Meta:
        ordering = ["url"]
        db_table_comment = "Webhook URLs' delivery health: consecutive failures and back-off across runs."

    def __str__(self) -> str:
        return f"{self.url} ({self.failures} failures)"


PICO = 10**12  # LlmCall costs are stored in pico-USD: exact integers that SQL sums exactly on every database


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


class FxRate(BaseModel):
    """Units of `currency` per USD from `as_of` until the next rate (USD stays canonical in storage)."""

    currency = models.CharField(max_length=3, db_comment="ISO 4217 code, e.g. ZAR.")
    rate_per_usd = models.DecimalField(
        max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))],
        db_comment="Units of the currency for 1 USD.",
    )  # fmt: skip
    as_of = models.DateField(db_comment="First UTC day the rate applies.")

    class Meta:
        ordering = ["currency", "-as_of"]
        db_table_comment = "Exchange rates used to show USD figures in another currency."
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_per_usd__gt=0), name="costs_fxrate_positive"),
            models.UniqueConstraint(fields=["currency", "as_of"], name="costs_fxrate_unique_currency_day"),
        ]

    def __str__(self) -> str:
        return f"1 USD = {self.rate_per_usd} {self.currency} from {self.as_of}"


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
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, db_comment="Who sent it (keys are per user).")
    response = models.JSONField(db_comment="The response body of the first request.")
    status_code = models.PositiveIntegerField(db_comment="Its HTTP status.")

    class Meta:
        db_table_comment = "Idempotency keys of the LLM call ingest endpoint."
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="costs_idempotencykey_unique")]

    def __str__(self) -> str:
        return f"{self.user}: {self.key}"
