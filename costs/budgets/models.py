"""Team budgets, the alerts they sent and the health of the webhook URLs they post to."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator, validate_email
from django.db import models
from simple_history.models import HistoricalRecords

from heliox.models import BaseModel
from heliox.net import UnsafeURLError, check_url
from teams.models import Team


def default_thresholds() -> list[int]:
    return [50, 80, 100]


# Bounds of a budget's settings: each alert is a message (or a POST), so their number is capped;
# the run-rate window cannot be longer than the period it forecasts.
MAX_THRESHOLDS, MAX_THRESHOLD_PERCENT = 10, 1000
MAX_EMAILS, MAX_WEBHOOKS = 10, 5
MAX_TARGET_LENGTH = 500  # BudgetAlert.target: one URL, or the recipients joined by commas
MAX_AMOUNT_USD = Decimal("9999999999.99")  # numeric(12, 2)
MAX_EFFICIENCY_DAYS = 31


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


class BudgetPeriod(models.TextChoices):
    """How long a budget's period is."""

    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


class Budget(BaseModel):
    """A team's GPU budget for each month or quarter, with the thresholds (percent) that alert.

    Spend against it is the team's allocated cost (idle kept apart), which on days
    without a bill yet is the catalog estimate.
    """

    Period = BudgetPeriod

    # The longest run-rate window of each period: its longest month or quarter, in days.
    MAX_RUN_RATE_DAYS: dict[str, int] = {Period.MONTHLY: 31, Period.QUARTERLY: 92}

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
    # The efficiency alert (README: Kubernetes and GPU efficiency): off while min_efficiency_pct is null.
    min_efficiency_pct = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)],
        db_comment="Alert when the team's GPU efficiency over the window is under this percent (1-100); null = off.",
    )  # fmt: skip
    efficiency_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(MAX_EFFICIENCY_DAYS)],
        db_comment=f"Full days (1-{MAX_EFFICIENCY_DAYS}) before the check whose efficiency is compared.",
    )  # fmt: skip
    active = models.BooleanField(default=True, db_comment="Only active budgets are checked.")

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["team__name", "period"]
        db_table_comment = "Team GPU budgets per month or quarter."
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_usd__gt=0, amount_usd__lte=MAX_AMOUNT_USD),
                name="costs_budget_amount_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(period__in=BudgetPeriod.values), name="costs_budget_period_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(run_rate_days__gte=1)
                & (
                    models.Q(period=BudgetPeriod.MONTHLY, run_rate_days__lte=31)
                    | models.Q(period=BudgetPeriod.QUARTERLY, run_rate_days__lte=92)
                ),
                name="costs_budget_run_rate_days",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(min_efficiency_pct__isnull=True)
                    | models.Q(min_efficiency_pct__gte=1, min_efficiency_pct__lte=100)
                )
                & models.Q(efficiency_days__gte=1, efficiency_days__lte=MAX_EFFICIENCY_DAYS),
                name="costs_budget_efficiency_bounds",
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
        pct = self.min_efficiency_pct
        if not (pct is None or (type(pct) is int and 1 <= pct <= 100)):
            return f"min_efficiency_pct: not between 1 and 100 ({pct!r})."
        if not (type(self.efficiency_days) is int and 1 <= self.efficiency_days <= MAX_EFFICIENCY_DAYS):
            return f"efficiency_days: not between 1 and {MAX_EFFICIENCY_DAYS} ({self.efficiency_days!r})."
        for name, check in (("thresholds", validate_thresholds), ("emails", validate_emails),
                            ("webhook_urls", validate_webhook_urls_format)):  # fmt: skip
            try:
                check(getattr(self, name))
            except ValidationError as error:
                return f"{name}: {' '.join(error.messages)}"
        return ""


class AlertOutcome(models.TextChoices):
    """Where an alert's delivery stands."""

    PENDING = "pending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (retried next run)"


class BudgetAlert(BaseModel):
    """One alert of one budget in one period through one channel: sent once, retried while it fails."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold crossed"
        PROJECTED = "projected", "Projected overrun"
        EFFICIENCY = "efficiency", "GPU efficiency under threshold"

    Outcome = AlertOutcome

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts", db_comment="Budget.")
    period_start = models.DateField(
        db_comment="First day of the budget period alerted (of the efficiency window, for an efficiency alert)."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, db_comment="threshold, projected or efficiency.")
    threshold = models.PositiveIntegerField(
        db_comment="Percent crossed (100 for a projected overrun; the threshold of an efficiency alert)."
    )
    channel = models.CharField(max_length=16, db_comment="email or webhook.")
    target = models.CharField(max_length=500, db_comment="Recipients (e-mail) or the webhook URL.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_comment="pending, sent or failed.")
    attempts = models.PositiveIntegerField(default=0, db_comment="Delivery attempts so far.")
    sent_at = models.DateTimeField(null=True, blank=True, db_comment="When it was delivered (UTC).")
    error = models.TextField(blank=True, default="", db_comment="Why the last attempt failed.")
    spend_usd = models.DecimalField(
        max_digits=12, decimal_places=2, db_comment="Spend when raised (an efficiency alert: waste in its window), USD."
    )

    class Meta:
        ordering = ["-created_at"]
        db_table_comment = "Budget alerts: one per budget, period, threshold and channel."
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "kind", "threshold", "channel", "target"],
                name="costs_budgetalert_once_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=AlertOutcome.values), name="costs_budgetalert_outcome_valid"
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
