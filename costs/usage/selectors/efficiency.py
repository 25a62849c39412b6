"""GPU efficiency of a spend row: used / measured GPU-hours (README: Kubernetes and GPU efficiency).

Unmeasured GPU-hours (jobs without utilisation) are kept apart: a row with none measured has
efficiency None (unknown), never 0 or 100 %.
"""

from decimal import ROUND_HALF_UP, Decimal

PERCENT = Decimal("0.1")


def efficiency_pct(*, used_gpu_hours: Decimal | None, measured_gpu_hours: Decimal) -> Decimal | None:
    """Used / measured GPU-hours in percent (0.1); None when no GPU-hour is measured (unknown, never 0 or 100 %)."""
    if used_gpu_hours is None or measured_gpu_hours <= 0:
        return None
    return (100 * used_gpu_hours / measured_gpu_hours).quantize(PERCENT, rounding=ROUND_HALF_UP)


def with_efficiency(record: dict) -> dict:
    """Set a spend row's (or totals') efficiency_pct from its used and measured GPU-hours."""
    record["efficiency_pct"] = efficiency_pct(used_gpu_hours=record["used_gpu_hours"],
                                              measured_gpu_hours=record["measured_gpu_hours"])  # fmt: skip
    return record
