"""Allocation of one bill cell (a day, provider and GPU type) to its consumers: pure arithmetic.

Idle kept apart (default): alloc_k = e_k x min(1, B / E); idle = B - sum(alloc).
Idle shared: alloc_k = B x h_k / H; idle = 0 (all of B when H = 0).
Cents are distributed by largest remainder, so sum(alloc) + idle == B exactly.
A cell with no bill (B is None) allocates the estimates and reports idle as None.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from costs.billing.money import ZERO, split_cents

K = TypeVar("K", bound=Hashable)
SEPARATE, SHARE = "separate", "share"
IDLE_MODES = (SEPARATE, SHARE)


@dataclass(frozen=True)
class CellAllocation(Generic[K]):
    allocated: dict[K, Decimal]
    idle: Decimal | None


def allocate_cell(
    *, billed: Decimal | None, estimates: Mapping[K, Decimal], hours: Mapping[K, Decimal], mode: str = SEPARATE
) -> CellAllocation[K]:
    """Split the bill `billed` (USD, cents) of one cell over consumers with estimates (USD) and GPU-hours."""
    if mode not in IDLE_MODES:
        raise ValueError(f"unknown idle mode {mode!r}")
    if billed is None:
        return CellAllocation(dict(estimates), None)
    if mode == SEPARATE:
        estimated = sum(estimates.values(), ZERO)
        total = min(billed, estimated)
        allocated = split_cents(total, estimates) if total else dict.fromkeys(estimates, ZERO)
    else:
        used = sum(hours.values(), ZERO)
        total = billed if used > 0 else ZERO
        allocated = split_cents(total, hours) if total else dict.fromkeys(hours, ZERO)
    return CellAllocation(allocated, billed - total)


def split_within(total: Decimal, weights: Mapping[K, Decimal], fallback: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Split a consumer's allocation further (a team's over its models), by `weights`, else `fallback`.

    Used so that model-level figures add up exactly to the team-level ones.
    """
    if not total:
        return dict.fromkeys(weights, ZERO)
    if sum(weights.values(), ZERO) > 0:
        return split_cents(total, weights)
    return split_cents(total, fallback)
