"""Units every app shares: GPU-hours, kept to 4 decimals and computed from whole GPU-seconds, rounded once."""

from decimal import ROUND_HALF_UP, Decimal

HOURS = Decimal("0.0001")  # GPU-hours are stored and shown to 4 decimals
SECONDS_PER_HOUR = Decimal(3600)


def to_hours(seconds: int | Decimal) -> Decimal:
    """GPU-seconds (exact) as GPU-hours, rounded half-up to 4 decimals: the one rounding of an hour figure."""
    return (Decimal(seconds) / SECONDS_PER_HOUR).quantize(HOURS, rounding=ROUND_HALF_UP)
