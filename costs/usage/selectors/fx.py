"""Showing USD figures in another currency, at the rate valid on each day. Storage stays USD."""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from costs.billing.money import to_cents
from costs.usage.models import FxRate
from costs.usage.selectors.efficiency import with_efficiency
from costs.usage.selectors.spend import SpendReport, by_spend, spend_summary
from heliox.dates import period_start


def fx_rates(currency: str, start: date, end: date) -> dict[date, FxRate]:
    """The rate in force on each day of [start, end): the latest set on or before that day."""
    rows = list(FxRate.objects.filter(currency=currency, as_of__lt=end).order_by("as_of"))
    if not rows:
        raise ValueError(f"unknown currency {currency!r}: set a rate first (manage.py set_fx_rate {currency} RATE)")
    if rows[0].as_of > start:
        raise ValueError(f"no {currency} rate on or before {start} (the first is from {rows[0].as_of})")
    rates, index, day = {}, 0, start
    while day < end:
        while index + 1 < len(rows) and rows[index + 1].as_of <= day:
            index += 1
        rates[day] = rows[index]
        day += timedelta(days=1)
    return rates


def spend_summary_in(
    *,
    currency: str,
    start: date,
    end: date,
    group_by: Sequence[str],
    interval: str | None = None,
    rename: bool = True,
    **kwargs,
) -> tuple[SpendReport, list[FxRate]]:
    """spend_summary with money in `currency`: each day converted at its own rate, rounded once per row.

    Money columns are renamed from *_usd to *_<currency> (e.g. allocated_zar), unless
    `rename` is False (the dashboard labels the currency itself). Returns the report and
    the rates used.
    """
    rate_rows = fx_rates(currency, start, end)
    rates = {day: rate.rate_per_usd for day, rate in rate_rows.items()}
    suffix = f"_{currency.lower()}" if rename else "_usd"
    daily = spend_summary(start=start, end=end, group_by=group_by, interval="day", **kwargs)
    names = [name for name in daily.group_by if name != "period"]
    rows = _converted_rows(daily.rows, names, rates, suffix, interval)
    # Totals from the organisation's daily totals, so that the bill and idle (which are not
    # per team) are converted at each day's rate too.
    org_daily = spend_summary(start=start, end=end, group_by=(), interval="day", **kwargs)
    totals = _converted_totals(daily.totals, org_daily.rows, rates, suffix)
    for record in [*rows, totals]:
        with_efficiency(record)
        for field, value in record.items():
            if field.endswith(suffix) and value is not None:
                record[field] = to_cents(value)
    if daily.totals.get("billed_usd") is None:  # team-scoped: the bill is not shown
        totals[f"billed{suffix}"] = totals[f"idle{suffix}"] = None
    report = SpendReport(start=start, end=end, group_by=(("period",) if interval else ()) + tuple(names),
                         idle=daily.idle)  # fmt: skip
    # Largest spend first, as in USD (tables and charts keep their order when the currency changes).
    report.rows = by_spend(rows, kind=kwargs.get("kind", "gpu"), suffix=suffix)
    report.totals = totals
    used = sorted({rate.pk: rate for rate in rate_rows.values()}.values(), key=lambda rate: rate.as_of)
    return report, used


def _renamed(field: str, suffix: str) -> str:
    return field[:-4] + suffix if field.endswith("_usd") else field


def _converted_rows(daily: list[dict], names: list[str], rates: dict, suffix: str, interval: str | None) -> list[dict]:
    """Daily rows in USD -> rows per group (and period) in the currency, each day at its rate; not rounded yet."""
    rows: dict[tuple, dict] = {}
    for row in daily:
        rate = rates[row["period"]]
        period = period_start(row["period"], interval) if interval else None
        key = (period, *(row[name] for name in names))
        target = rows.setdefault(key, {**({"period": period} if interval else {}), **{n: row[n] for n in names}})
        for field, value in row.items():
            if field in names or field in ("period", "efficiency_pct"):  # a ratio: set again from the sums
                continue
            if not field.endswith("_usd"):
                target[field] = target.get(field, 0) + value
            elif value is None:
                target.setdefault(_renamed(field, suffix), None)
            else:
                target[_renamed(field, suffix)] = (target.get(_renamed(field, suffix)) or Decimal(0)) + value * rate
    return list(rows.values())


def _converted_totals(usd_totals: dict, org_daily: list[dict], rates: dict, suffix: str) -> dict:
    """The same keys as the USD report's totals (even when nothing was spent), summed day by day at each rate."""
    totals: dict = {
        _renamed(field, suffix): (None if value is None else 0 * value) for field, value in usd_totals.items()
    }
    for row in org_daily:
        rate = rates[row["period"]]
        for field, value in row.items():
            if field not in ("period", "efficiency_pct") and value is not None:
                name = _renamed(field, suffix)
                totals[name] = (totals.get(name) or 0) + (value * rate if field.endswith("_usd") else value)
    return totals
