"""Exact money arithmetic: one rounding rule and the largest-remainder split."""

from collections.abc import Hashable, Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_cents(amount: Decimal) -> Decimal:
    """Round to cents, half-up: the one rounding Heliox applies, once, when a figure is stored or shown."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def split_cents(total: Decimal, weights: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Split `total` (whole cents) in proportion to `weights`, exactly.

    Each share is floored to the cent; the cents left over go one each to the
    largest remainders (ties broken by key order, so the result is
    deterministic). The shares always add up to `total`. All-zero weights give
    all-zero shares only when `total` is zero.
    """
    if total != to_cents(total):
        raise ValueError(f"total must be whole cents, got {total}")
    weight_sum = sum(weights.values(), ZERO)
    if not weights:
        if total:
            raise ValueError("cannot split a non-zero total over no weights")
        return {}
    if weight_sum <= 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return dict.fromkeys(weights, ZERO)
    exact = {key: total * weight / weight_sum for key, weight in weights.items()}
    shares = {key: value.quantize(CENT, rounding=ROUND_DOWN) for key, value in exact.items()}
    leftover = int((total - sum(shares.values(), ZERO)) / CENT)
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - shares[key]), str(key)))
    for key in by_remainder[:leftover]:
        shares[key] += CENT
    return shares
