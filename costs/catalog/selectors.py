"""Price resolution: which catalog price applies to a job at each instant.

The catalog may hold, for one (provider, GPU type, pricing), an any-region row and
regional rows, each effective-dated. At an instant the exact-region row wins, then
the any-region row; among rows of equal specificity the latest `effective_from`
wins. `price_timeline` flattens this into non-overlapping segments, one list per
region (region '' = the fallback for regions without prices of their own), so that
the rollup can join jobs to prices with plain range conditions.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

from costs.models import GpuPrice

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


def price_at(
    timeline: Iterable[PriceSegment], *, provider: str, gpu_type: str, pricing: str, region: str, at: datetime
) -> Decimal | None:
    """USD per GPU-hour for one job key at one instant, or None when unpriced."""
    candidates = [s for s in timeline if (s.provider, s.gpu_type, s.pricing) == (provider, gpu_type, pricing)]
    own_region = region and any(s.region == region for s in candidates)
    wanted = region if own_region else ""
    for segment in candidates:
        if segment.region == wanted and segment.valid_from <= at < segment.valid_to:
            return segment.usd_per_gpu_hour
    return None
