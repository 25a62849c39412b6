"""The staff dashboard against the previous period of the same length ([start - (end - start), start)).

Each card and each table row gets the same figure over the previous period (`previous`) and the change in %
(`change_pct`), as the member drill-down does (costs.dashboard.drilldown). A figure that is unknown either
time (unpriced, no bill, no exchange rate for the previous period) has no change: None, never a made-up %.
"""

from collections.abc import Callable
from decimal import Decimal

from costs.billing.money import ZERO
from costs.dashboard.drilldown import percent_change
from costs.usage.selectors.shown import shown_amount
from costs.usage.selectors.spend import SpendReport

CENTS_ZERO = Decimal("0.00")  # a group that had nothing before: $0.00 then, shown like any amount
Figure = Callable[[dict], Decimal | None]


def gpu_spend(row: dict) -> Decimal | None:
    """GPU spend: allocated + idle (idle unknown counts as none of it); None when allocated is unknown."""
    if row.get("allocated_usd") is None:
        return None
    return row["allocated_usd"] + (row.get("idle_usd") or ZERO)


def total_spend(row: dict) -> Decimal | None:
    """GPU + LLM spend (kind "all" rows)."""
    return row.get("total_usd")


def llm_spend(row: dict) -> Decimal | None:
    return row.get("llm_usd")


def change(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    """percent_change, None when either side is unknown."""
    return None if now is None or before is None else percent_change(now, before)


def add_change(rows: list[dict], previous: SpendReport | None, keys: tuple[str, ...], figure: Figure) -> list[dict]:
    """The rows with `previous` (0 when the group had nothing before; None when the previous period is unknown)
    and `change_pct`. Rows are matched on `keys` (the grouping)."""
    if previous is None:
        return [{**row, "previous": None, "change_pct": None} for row in rows]
    before = {tuple(row[key] for key in keys): figure(row) for row in previous.rows}
    out = []
    for row in rows:
        prior = before.get(tuple(row[key] for key in keys), CENTS_ZERO)
        out.append({**row, "previous": prior, "change_pct": change(figure(row), prior)})
    return out


def card_changes(*, totals: dict, llm_totals: dict, previous: SpendReport | None) -> dict:
    """Each range card's previous figure and change: GPU spend, LLM, GPU + LLM, GPU-hours, idle, bill, unpriced.

    `previous` is the previous period's kind "all" report (its totals hold the GPU and LLM figures). GPU spend and
    GPU + LLM are unknown (None, and so their change) when 0 with no GPU-hour priced (shown.shown_amount)."""
    now = {
        "spend": _shown(totals, gpu_spend(totals)), "llm": llm_totals["llm_usd"],
        "all": shown_amount(totals, totals["allocated_usd"] + (totals["idle_usd"] or ZERO) + llm_totals["llm_usd"]),
        "gpu_hours": totals["gpu_hours"], "idle": totals["idle_usd"], "billed": totals["billed_usd"],
        "unpriced_gpu_hours": totals["unpriced_gpu_hours"],
    }  # fmt: skip
    if previous is None:
        return {name: {"previous": None, "change_pct": None} for name in now}
    t = previous.totals
    before = {
        "spend": _shown(t, gpu_spend(t)), "llm": t["llm_usd"], "all": _shown(t, t["total_usd"]),
        "gpu_hours": t["gpu_hours"],
        "idle": t["idle_usd"], "billed": t["billed_usd"], "unpriced_gpu_hours": t["unpriced_gpu_hours"],
    }  # fmt: skip
    return {name: {"previous": before[name], "change_pct": change(now[name], before[name])} for name in now}


def _shown(totals: dict, amount: Decimal | None) -> Decimal | None:
    return None if amount is None else shown_amount(totals, amount)


def pivot_change(pivot: dict, previous: dict | None) -> dict:
    """The team x provider pivot with each team's total and the grand total against the previous pivot."""
    if previous is None:
        return {**pivot, "rows": [{**row, "previous": None, "change_pct": None} for row in pivot["rows"]],
                "previous": None, "change_pct": None}  # fmt: skip
    before = {row["team"]: row["total"] for row in previous["rows"]}
    rows = [{**row, "previous": before.get(row["team"], ZERO), "change_pct": change(row["total"],
             before.get(row["team"], ZERO))} for row in pivot["rows"]]  # fmt: skip
    return {**pivot, "rows": rows, "previous": previous["total"], "change_pct": change(pivot["total"],
            previous["total"])}  # fmt: skip
