"""The daily LLM rollup: the day's calls per team, provider and model."""

from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from costs.billing.money import to_cents
from costs.llm.models import PICO, LlmCall, LlmUsageSnapshot
from heliox.dates import utc_day_bounds


def llm_rollup_day(*, day: date) -> list[LlmUsageSnapshot]:
    """Rebuild the day's LlmUsageSnapshot rows (call it in a transaction): one GROUP BY; pico-USD sums are exact."""
    day_start, day_end = utc_day_bounds(day)
    rows = (
        LlmCall.objects.filter(created_at__gte=day_start, created_at__lt=day_end)
        .values("team_id", "provider", "model")
        .annotate(
            calls=Count("pk"),
            input=Sum(Coalesce("input_tokens", 0)),
            output=Sum(Coalesce("output_tokens", 0)),
            cost=Sum("cost_picousd"),
            unpriced=Count("pk", filter=Q(cost_picousd__isnull=True)),
        )
        .order_by()
    )
    snapshots = [
        LlmUsageSnapshot(
            date=day, team_id=row["team_id"], provider=row["provider"], model=row["model"], calls=row["calls"],
            input_tokens=row["input"], output_tokens=row["output"], unpriced_calls=row["unpriced"],
            cost_usd=to_cents(Decimal(row["cost"] or 0) / PICO),
        )
        for row in rows
    ]  # fmt: skip
    LlmUsageSnapshot.objects.filter(date=day).delete()
    LlmUsageSnapshot.objects.bulk_create(snapshots, batch_size=1000)
    return snapshots
