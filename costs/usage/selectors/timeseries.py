"""Spend as time series: one series per group, a point per day, week or month (zeros included).

Built on `spend_summary` (USD) and `spend_summary_in` (another currency), so that a
series adds up to the summary of the same range.
"""

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from costs.billing.allocation import SEPARATE
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.fx import spend_summary_in
from costs.usage.selectors.labels import usage_source
from costs.usage.selectors.spend import ZERO_HOURS, ZERO_USD, _validate, spend_summary
from heliox.dates import periods_between

# A time series is zero-filled: every group gets a point for every period. 3 years of days by
# every field was a 40 MB answer and ~900 MB in the worker; the API refuses more points than this.
MAX_TIMESERIES_POINTS = 20_000


class TooManyPoints(ValueError):
    """The series would hold more than `limit` points (periods x groups); says how to narrow it."""

    def __init__(self, *, periods: int, groups: int, interval: str, limit: int) -> None:
        self.points = periods * groups
        super().__init__(
            f"This time series would have {self.points:,} points ({periods:,} {interval}s x {groups:,} groups); "
            f"the limit is {limit:,}. Narrow it: a shorter range (start, end), a longer interval (week or month), "
            f"or fewer group_by fields."
        )


def _usage_groups(*, start: date, end: date, group_by: Sequence[str], team_ids, kind: str, filters=NO_FILTER) -> int:
    """How many groups the rollups hold in [start, end): a lower bound of the series' groups (one COUNT)."""
    if kind == "llm":
        return 0
    if not group_by:
        return 1
    usage, _, dims = usage_source(start=start, end=end, group_by=group_by, team_ids=team_ids, filters=filters)
    return usage.order_by().values(*dims).distinct().count()


def _refuse_too_many_points(*, max_points: int, start, end, group_by, idle, team_ids, interval, kind,
                            filters=NO_FILTER) -> None:  # fmt: skip
    """TooManyPoints when the rollups alone already hold more groups than the series may show: one COUNT."""
    _validate(start, end, group_by, idle, interval)
    periods = len(periods_between(start, end, interval))
    groups = _usage_groups(start=start, end=end, group_by=group_by, team_ids=team_ids, kind=kind, filters=filters)
    if periods * groups > max_points:
        raise TooManyPoints(periods=periods, groups=groups, interval=interval, limit=max_points)


def _empty_point(*, kind: str, currency: str, bill_shown: bool) -> dict:
    """A period with nothing used: zeros, and unknown (None) bill and efficiency; money keys in `currency`.

    Idle is None too where the bill is not shown (a team's view, narrowed by model or label)."""
    empty = {"gpu_hours": ZERO_HOURS, "unpriced_gpu_hours": ZERO_HOURS, "estimated_usd": ZERO_USD,
             "allocated_usd": ZERO_USD, "idle_usd": ZERO_USD if bill_shown else None, "billed_usd": None,
             "used_gpu_hours": ZERO_HOURS, "unmeasured_gpu_hours": ZERO_HOURS, "measured_gpu_hours": ZERO_HOURS,
             "waste_usd": ZERO_USD, "allocated_waste_usd": ZERO_USD, "efficiency_pct": None}  # fmt: skip
    if kind != "gpu":
        empty.update(llm_usd=ZERO_USD, total_usd=ZERO_USD)
    if currency != "USD":
        empty = {(k[:-4] + "_" + currency.lower() if k.endswith("_usd") else k): v for k, v in empty.items()}
    return empty


def spend_timeseries(
    *,
    start: date,
    end: date,
    interval: str = "day",
    group_by: Sequence[str] = (),
    idle: str = SEPARATE,
    team_ids: Collection[UUID] | None = None,
    kind: str = "gpu",
    currency: str = "USD",
    max_points: int | None = None,
    filters: SpendFilter = NO_FILTER,
) -> dict:
    """One series per group: a point per period (zeros where nothing was used), plus totals.

    Points carry gpu_hours, unpriced_gpu_hours, estimated_usd, allocated_usd, idle_usd, billed_usd,
    used_gpu_hours, unmeasured_gpu_hours, waste_usd, allocated_waste_usd and efficiency_pct (None where nothing is
    measured) with the meaning they have in `spend_summary` rows (the API shows them through
    costs.usage.selectors.shown); in another currency the money keys end in its code
    (allocated_zar) and `fx_rates` lists the rates used. With
    `max_points`, raises TooManyPoints before building more points than that (periods x
    groups), counting the groups first so that a large request costs one COUNT.
    """
    arguments: dict[str, Any] = {"start": start, "end": end, "group_by": group_by, "idle": idle, "team_ids": team_ids,
                 "interval": interval, "kind": kind, "filters": filters}  # fmt: skip
    if max_points is not None:
        _refuse_too_many_points(max_points=max_points, **arguments)
    used: list = []
    if currency == "USD":
        report = spend_summary(**arguments)
    else:
        report, used = spend_summary_in(currency=currency, **arguments)
    names = report.group_by[1:]
    periods = periods_between(start, end, interval)
    empty = _empty_point(kind=kind, currency=currency, bill_shown=not filters.hides_the_bill(team_ids))
    series: dict[tuple, dict[date, dict]] = defaultdict(dict)
    for row in report.rows:
        point = {key: row.get(key, value) for key, value in empty.items()}
        series[tuple(row[name] for name in names)][row["period"]] = point
    # Exact now (idle and LLM groups included), before the zero-filling builds every point.
    if max_points is not None and len(periods) * len(series) > max_points:
        raise TooManyPoints(periods=len(periods), groups=len(series), interval=interval, limit=max_points)
    return {
        "interval": interval,
        "currency": currency,
        "fx_rates": [{"currency": r.currency, "rate_per_usd": r.rate_per_usd, "as_of": r.as_of} for r in used],
        "periods": periods,
        "series": [
            {
                "group": dict(zip(names, key, strict=True)),
                "points": [{"period": period, **points.get(period, empty)} for period in periods],
            }
            for key, points in sorted(series.items(), key=lambda item: [str(part) for part in item[0]])
        ],
        "totals": report.totals,
    }
