"""Every table of the costs app, one module per domain (as NetBox's dcim/models/ does).

`costs` stays one Django app (one label, one migration history); each domain package
defines its own tables and this module re-exports them, so that Django finds them all.
"""

from costs.billing.models import CostSnapshot
from costs.budgets.models import (
    Budget,
    BudgetAlert,
    WebhookEndpoint,
    # Referenced by name in migrations (0002, 0006): they stay importable from here.
    default_thresholds,
    validate_emails,
    validate_thresholds,
    validate_webhook_urls,
)
from costs.catalog.models import GpuPrice, InstanceType, ModelPrice, PriceRefresh
from costs.dashboard.models import SavedView
from costs.llm.models import PICO, IdempotencyKey, LlmCall, LlmUsageSnapshot
from costs.usage.models import (
    FxRate,
    JobDaySlice,
    LabelMonthSnapshot,
    LabelUsageSnapshot,
    ModelUsageSnapshot,
    RollupBacklog,
    UsageFigures,
    UsageSnapshot,
)

__all__ = [
    "PICO",
    "Budget",
    "BudgetAlert",
    "CostSnapshot",
    "FxRate",
    "GpuPrice",
    "IdempotencyKey",
    "InstanceType",
    "JobDaySlice",
    "LabelMonthSnapshot",
    "LabelUsageSnapshot",
    "LlmCall",
    "LlmUsageSnapshot",
    "ModelPrice",
    "ModelUsageSnapshot",
    "PriceRefresh",
    "RollupBacklog",
    "SavedView",
    "UsageFigures",
    "UsageSnapshot",
    "WebhookEndpoint",
    "default_thresholds",
    "validate_emails",
    "validate_thresholds",
    "validate_webhook_urls",
]
