"""How a spend row (or a totals row) is shown: what cannot be known is None, never 0 (README: unknown is unknown).

Every interface shows rows through these, so that one row reads the same everywhere: None is
`null` in the API's JSON, an empty cell in a CSV, "-" in `report`'s table and "unpriced" or
"unmeasured" on the pages.

- Nothing measured (efficiency_pct None): used GPU-hours, waste and allocated waste are sums
  over no measured job, so unknown. A totals row is unknown only when nothing in it was measured.
- Every GPU-hour unpriced (no catalog price): the estimate is unknown, and so is the allocated
  share when it is 0, the estimate it follows (idle kept apart, or a day without a bill); a share
  of a bill split by GPU-hours (idle shared) is known. A partly priced row keeps its figures,
  with its unpriced GPU-hours beside them. Waste and allocated waste stay as stored: hours without
  a price have no cost to waste (but a share of a bill split by GPU-hours, which they may waste).
- A sum shown on its own (a card's spend in range: allocated + idle): unknown when it is 0 and its
  row is wholly unpriced (shown_amount), as a row's total.
"""

import re
from datetime import date
from decimal import Decimal

# A money column in USD or renamed to another currency (estimated_zar): the figure, then a 3-letter code. A job's
# day slice has its share with idle shared beside it (allocated_shared_usd): a share like the other.
_MONEY = re.compile(r"(estimated|allocated_waste|allocated|total|waste)(?:_shared)?_[a-z]{3}")


def _money_columns(row: dict, figure: str) -> list[str]:
    return [column for column in row if (match := _MONEY.fullmatch(column)) and match[1] == figure]


def unknown_when_unmeasured(row: dict) -> dict:
    """The row with used GPU-hours and waste None when none of its GPU-hours is measured (efficiency unknown)."""
    if "efficiency_pct" not in row or row["efficiency_pct"] is not None:
        return row
    unknown = ["used_gpu_hours", *_money_columns(row, "waste"), *_money_columns(row, "allocated_waste")]
    return {**row, **{column: None for column in unknown if column in row}}


def wholly_unpriced(row: dict) -> bool:
    """Whether the row has GPU-hours and none of them has a price (a row without GPU-hours is a known 0)."""
    return bool(row.get("gpu_hours")) and (row.get("unpriced_gpu_hours") or 0) >= row["gpu_hours"]


def unknown_when_unpriced(row: dict) -> dict:
    """The row with its estimate None when all its GPU-hours lack a price, and its allocated share when 0.

    Its GPU + LLM total is None too when nothing known adds to it (with LLM spend, the total is that known part).
    """
    if not wholly_unpriced(row):
        return row
    unknown = dict.fromkeys(_money_columns(row, "estimated"))
    zero = [column for figure in ("allocated", "total") for column in _money_columns(row, figure) if row[column] == 0]
    unknown.update(dict.fromkeys(zero))
    return {**row, **unknown}


def shown_amount(row: dict, amount: Decimal) -> Decimal | None:
    """A sum of the row's money shown on its own (allocated + idle): None when 0 and the row is wholly unpriced."""
    return None if amount == 0 and wholly_unpriced(row) else amount


def chart_value(row: dict, amount: Decimal, *, day: date, today: date) -> float | None:
    """The row's `amount` as a daily chart draws it: None (a gap) when unknown (shown_amount) or on a day still to
    come, never a bar of $0; a float otherwise (for drawing only: tables show the exact Decimal)."""
    shown = shown_amount(row, amount)
    return None if shown is None or day > today else float(shown)


def shown_row(row: dict) -> dict:
    """The row as every interface shows it: unknown figures (unmeasured, unpriced) None. A new dict."""
    return unknown_when_unpriced(unknown_when_unmeasured(row))


def shown_rows(rows) -> list[dict]:
    return [shown_row(row) for row in rows]
