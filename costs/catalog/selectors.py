"""Reads of the catalog: which price applies to a job or a call at each instant, and how fresh the catalog is.

GPU prices:

The catalog may hold, for one (provider, GPU type, pricing), an any-region row and
regional rows, each effective-dated. At an instant the exact-region row wins, then
the any-region row; among rows of equal specificity the latest `effective_from`
wins. `price_timeline` flattens this into non-overlapping segments, one list per
region (region '' = the fallback for regions without prices of their own), so that
the rollup can join jobs to prices with plain range conditions.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.utils import timezone

from costs.catalog.models import GpuPrice, ModelPrice, PriceRefresh

# Open-ended prices end here, so that SQL range tests need no NULL handling.
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PriceSegment:
    """A price in force over [valid_from, valid_to) for jobs of one key and region."""

    provider: str
    gpu_type: str
    pricing: str
    region: str
    valid_from: datetime
    valid_to: datetime
    usd_per_gpu_hour: Decimal


def _winner(rows: list[GpuPrice], start: datetime, end: datetime) -> GpuPrice | None:
    """The row covering all of [start, end) with the latest effective_from, if any."""
    covering = [
        row for row in rows if row.effective_from <= start and (row.effective_to is None or row.effective_to >= end)
    ]
    return max(covering, key=lambda row: row.effective_from, default=None)


def _segments(key: tuple[str, str, str], region: str, layers: list[list[GpuPrice]]) -> list[PriceSegment]:
    """Flatten prioritised layers of rows (most specific first) into segments."""
    points = sorted(
        {row.effective_from for layer in layers for row in layer}
        | {row.effective_to or END_OF_TIME for layer in layers for row in layer}
    )
    segments: list[PriceSegment] = []
    for start, end in pairwise(points):
        chosen = next((row for layer in layers if (row := _winner(layer, start, end))), None)
        if chosen is None:
            continue
        last = segments[-1] if segments else None
        if last and last.valid_to == start and last.usd_per_gpu_hour == chosen.usd_per_gpu_hour:
            segments[-1] = PriceSegment(*key, region, last.valid_from, end, chosen.usd_per_gpu_hour)
        else:
            segments.append(PriceSegment(*key, region, start, end, chosen.usd_per_gpu_hour))
    return segments


def price_timeline(prices: Iterable[GpuPrice]) -> list[PriceSegment]:
    """All price segments: per key, one timeline for '' and one per region with prices of its own."""
    by_key: dict[tuple[str, str, str], dict[str, list[GpuPrice]]] = defaultdict(lambda: defaultdict(list))
    for price in prices:
        by_key[(price.provider, price.gpu_type, price.pricing)][price.region].append(price)
    timeline: list[PriceSegment] = []
    for key, by_region in sorted(by_key.items()):
        fallback = by_region.get("", [])
        timeline += _segments(key, "", [fallback])
        for region, rows in sorted(by_region.items()):
            if region:
                timeline += _segments(key, region, [rows, fallback])
    return timeline


class ModelPriceBook:
    """Price lookups for many calls: loads the rows of the models asked for once, then answers in memory."""

    def __init__(self, keys: set[tuple[str, str]]) -> None:
        self.rows: dict[tuple[str, str], list[ModelPrice]] = defaultdict(list)
        if keys:
            providers = {provider for provider, _ in keys}
            for price in ModelPrice.objects.filter(provider__in=providers, model__in={m for _, m in keys}).order_by(
                "effective_from"
            ):
                self.rows[(price.provider, price.model)].append(price)

    def at(self, provider: str, model: str, moment: datetime) -> ModelPrice | None:
        rows = self.rows.get((provider, model), [])
        index = bisect_right([row.effective_from for row in rows], moment) - 1
        while index >= 0:
            row = rows[index]
            if row.effective_to is None or moment < row.effective_to:
                return row
            index -= 1
        return None


def catalog_age(now: datetime | None = None, catalog: str = "gpu") -> timedelta | None:
    """How long ago the (gpu or llm) catalog was last refreshed; None if never."""
    latest = (
        PriceRefresh.objects.filter(catalog=catalog)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if latest is None else (now or timezone.now()) - latest
