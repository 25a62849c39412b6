"""Spend over a date range: what jobs used, what the catalog says they cost, what the bill was.

All figures come from the rollups (UsageSnapshot, ModelUsageSnapshot) and the bill
(CostSnapshot), never from scanning jobs. Money in USD (Decimal, cents); hours in
GPU-hours; ranges are [start, end) over UTC days.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db.models import CharField, DateField, DecimalField, Sum, Value
from django.db.models.functions import Trunc

from costs.billing.allocation import IDLE_MODES, SEPARATE
from costs.billing.models import CostSnapshot
from costs.billing.money import CENT, ZERO
from costs.llm.models import LlmUsageSnapshot
from costs.usage.selectors.efficiency import with_efficiency
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from costs.usage.selectors.labels import (
    LABEL_PREFIX,
    LABEL_VALUE,
    label_group_problem,
    label_key,
    label_key_parts,
    usage_parts,
)
from heliox.dates import periods_between
from heliox.units import HOURS

GROUP_BY_FIELDS = ("team", "provider", "gpu_type", "model_name")
INTERVALS = ("day", "week", "month")
KINDS = ("gpu", "llm", "all")
NO_GPU = "-"  # the gpu_type of LLM spend


ZERO_USD, ZERO_HOURS = CENT * 0, HOURS * 0


def money_sum(field_name: str) -> Sum:
    return Sum(field_name, output_field=DecimalField(max_digits=16, decimal_places=2), default=ZERO)


def hours_sum(field_name: str) -> Sum:
    return Sum(field_name, output_field=DecimalField(max_digits=18, decimal_places=4), default=ZERO)


def quantized(row: dict) -> dict:
    """Give sums their scale: SQLite returns aggregates of decimals unquantized (4 for 4.0000)."""
    for name, value in row.items():
        if isinstance(value, Decimal):
            row[name] = value.quantize(CENT if name.endswith("_usd") else HOURS)
    return row


IDLE_LABEL = "(idle)"


@dataclass
class SpendReport:
    """Rows grouped by `group_by`, plus totals.

    Each row: the group's keys, gpu_hours, unpriced_gpu_hours, estimated_usd,
    allocated_usd, idle_usd, billed_usd. Grouped by provider and/or GPU type only,
    billed and idle are the bill's; grouped by team or model, the bill is not
    per team, so team rows carry billed_usd None and the idle part of the bill is
    one extra row per provider/GPU type group, labelled "(idle)". With team
    scoping (`team_ids`), bill and idle figures are left out (None): they belong
    to the whole organisation. allocated_usd on days with no bill is the estimate.
    """

    start: date
    end: date
    group_by: tuple[str, ...]
    idle: str
    rows: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)


def group_by_check(names: Sequence[str]) -> list[str]:
    """The fields to group by, each once, in order; ValueError naming the unknown ones (the API, report, selectors).

    `label:<key>` groups by a cost label that the rollup keeps (HELIOX_COST_LABELS).
    """
    unknown = [name for name in names if name not in GROUP_BY_FIELDS and not name.startswith(LABEL_PREFIX)]
    if unknown:
        raise ValueError(f"unknown group_by {', '.join(unknown)}; use {', '.join(GROUP_BY_FIELDS)} or label:<key>")
    problem = label_group_problem(names)
    if problem:
        raise ValueError(problem)
    return list(dict.fromkeys(names))


def group_by_parse(text: str) -> list[str]:
    """'team, provider' -> ['team', 'provider'], checked by group_by_check."""
    return group_by_check([name.strip() for name in text.split(",") if name.strip()])


def _validate(start: date, end: date, group_by: Sequence[str], idle: str, interval: str | None = None) -> tuple:
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}; use {', '.join(INTERVALS)}")
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    group_by_check(group_by)
    if idle not in IDLE_MODES:
        raise ValueError(f"unknown idle mode {idle!r}; use {' or '.join(IDLE_MODES)}")
    return tuple(dict.fromkeys(group_by))


@dataclass(frozen=True)
class _Spend:
    """One spend_summary request, as every part of it reads it."""

    start: date
    end: date
    group_by: tuple[str, ...]  # with "period" first when grouped by interval
    idle: str
    team_ids: Collection[UUID] | None
    interval: str | None
    kind: str
    filters: SpendFilter = NO_FILTER

    @property
    def scoped(self) -> bool:
        """A team's view, or narrowed by model or label: the organisation's bill is not shown."""
        return self.filters.hides_the_bill(self.team_ids)

    @property
    def period(self) -> dict:
        return {"period": Trunc("date", self.interval, output_field=DateField())} if self.interval else {}

    @property
    def bill_dims(self) -> list[str]:
        return [name for name in self.group_by if name in BILL_DIMENSIONS]

    @property
    def by_bill_only(self) -> bool:
        return set(self.group_by) <= set(BILL_DIMENSIONS)


BILL_DIMENSIONS = ("period", "provider", "gpu_type")
BLANK = {
    "gpu_hours": ZERO_HOURS,
    "unpriced_gpu_hours": ZERO_HOURS,
    "estimated_usd": ZERO_USD,
    "allocated_usd": ZERO_USD,
    "used_gpu_hours": ZERO_HOURS,
    "unmeasured_gpu_hours": ZERO_HOURS,
    "measured_gpu_hours": ZERO_HOURS,
    "waste_usd": ZERO_USD,
    "allocated_waste_usd": ZERO_USD,
}


def spend_summary(
    *,
    start: date,
    end: date,
    group_by: Sequence[str] = ("team",),
    idle: str = SEPARATE,
    team_ids: Collection[UUID] | None = None,
    interval: str | None = None,
    kind: str = "gpu",
    filters: SpendFilter = NO_FILTER,
) -> SpendReport:
    """GPU-hours, estimated, allocated, idle and billed USD over [start, end), grouped. Two or three queries.

    With `interval` (day, week, month), rows are also grouped by `period`: the
    first day of the day, ISO week (Monday) or month. `filters` narrows every figure
    (costs.usage.selectors.filters); narrowed by model or label, bill and idle are None.
    """
    names = _validate(start, end, group_by, idle, interval)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use {', '.join(KINDS)}")
    if kind != "gpu" and label_key(names):
        raise ValueError("group_by label:<key> is for GPU spend (kind=gpu): LLM calls carry no labels")
    query = _Spend(start, end, ("period", *names) if interval else names, idle, team_ids, interval, kind, filters)
    bills = _bills(query)
    # Idle is part of a bill: unknown (None) where no bill is known, never 0.00. Team and model rows carry
    # none of it (it is the "(idle)" rows'), so theirs is 0 once the range has a bill; None in a team's own
    # view or one narrowed by model or label, which never shows the bill (README: bill and idle null).
    row_idle = _row_idle(query, bills)
    rows = _usage_rows(query, row_idle)
    _add_bills(rows, query, bills)
    if kind != "gpu":
        _add_llm(rows, start=start, end=end, group_by=query.group_by, team_ids=team_ids, interval=interval,
                 blank=BLANK, idle=row_idle, filters=filters)  # fmt: skip
    report = SpendReport(start=start, end=end, group_by=query.group_by, idle=idle)
    report.rows = by_spend(rows.values(), kind=kind)
    report.totals = _totals(report.rows, {} if query.scoped else bills, kind)
    for record in [*report.rows, report.totals]:
        with_efficiency(record)
    return report


def _row_idle(query: _Spend, bills: dict) -> Decimal | None:
    """The idle figure of a usage row (see spend_summary)."""
    return None if query.scoped or query.by_bill_only or not bills else ZERO_USD


def label_summaries(*, start: date, end: date, keys: Sequence[str], team_ids: Collection[UUID]) -> dict:
    """{key: spend_summary(group_by=["label:<key>"], team_ids=team_ids)} for each key, the same rows and totals,
    read once for all the keys (one query per part of the range: its whole months, the days around them)."""
    for key in keys:
        _validate(start, end, [LABEL_PREFIX + key], SEPARATE)
    found: dict[str, dict[tuple, dict]] = {key: {} for key in keys}
    row_idle = _row_idle(_Spend(start, end, (), SEPARATE, team_ids, None, "gpu"), {})  # a team's view: no bill
    for usage, names in label_key_parts(start=start, end=end, keys=keys, team_ids=team_ids):
        sums = {name: (money_sum if name.endswith("_usd") else hours_sum)(names[name]) for name in BLANK}
        for row in usage.order_by().values("key", LABEL_VALUE).annotate(**sums):
            row, rows = quantized(row), found[row["key"]]
            if (row[LABEL_VALUE],) in rows:  # months and days of the same value
                for name in BLANK:
                    rows[(row[LABEL_VALUE],)][name] += row[name]
                continue
            rows[(row[LABEL_VALUE],)] = {LABEL_PREFIX + row["key"]: row[LABEL_VALUE],
                                         **{name: row[name] for name in BLANK}, "idle_usd": row_idle,
                                         "billed_usd": None}  # fmt: skip
    reports = {}
    for key in keys:
        report = SpendReport(start=start, end=end, group_by=(LABEL_PREFIX + key,), idle=SEPARATE)
        report.rows = by_spend(found[key].values(), kind="gpu")
        report.totals = _totals(report.rows, {}, "gpu")
        for record in [*report.rows, report.totals]:
            with_efficiency(record)
        reports[key] = report
    return reports


def by_spend(rows: Iterable[dict], *, kind: str, suffix: str = "_usd") -> list[dict]:
    """Rows largest spend first (GPU allocated + idle, or the GPU + LLM total), ties in a stable order.

    `suffix` names the money columns (`_zar` for spend_summary_in's renamed ones).
    """
    if kind != "gpu":
        return sorted(rows, key=lambda r: (-r[f"total{suffix}"], str(r)))
    return sorted(rows, key=lambda r: (-(r[f"allocated{suffix}"] + (r[f"idle{suffix}"] or 0)), str(r)))


def _usage_rows(query: _Spend, row_idle: Decimal | None) -> dict[tuple, dict]:
    """The rollup's sums per group (none for kind=llm), keyed by the group's values."""
    if query.kind == "llm":
        return {}
    shared = "" if query.idle == SEPARATE else "_shared"
    rows: dict[tuple, dict] = {}
    for usage, names, dims in usage_parts(
        start=query.start,
        end=query.end,
        group_by=query.group_by,
        team_ids=query.team_ids,
        monthly=query.interval in (None, "month"),
        filters=query.filters,
    ):
        usage = usage.annotate(**query.period)
        column = {**{name: name for name in BLANK}, "allocated_usd": f"allocated{shared}_usd",
                  "allocated_waste_usd": f"allocated{shared}_waste_usd"}  # fmt: skip
        sums = {name: (money_sum if name.endswith("_usd") else hours_sum)(names[column[name]]) for name in BLANK}
        if dims:
            found = usage.order_by().values(*dims).annotate(**sums)
        else:  # one total row; .values() without fields would group by every column
            found = [usage.aggregate(**sums)] if usage.exists() else []
        for row in found:
            row = quantized(row)
            key = tuple(row[dim] for dim in dims)
            if key in rows:  # the same group in another part of the range (label rows: months and days)
                for name in BLANK:
                    rows[key][name] += row[name]
                continue
            rows[key] = {**dict(zip(query.group_by, key, strict=True)), **{name: row[name] for name in BLANK},
                         "idle_usd": row_idle, "billed_usd": None}  # fmt: skip
    return rows


def _bills(query: _Spend) -> dict[tuple, dict]:
    """The bill and its idle part per (period, provider, GPU type) group in the range; none for a team's view."""
    if query.scoped or query.kind == "llm":
        return {}
    idle_field = "idle_usd" if query.idle == SEPARATE else "idle_shared_usd"
    bill_dims = query.bill_dims
    bill_rows = CostSnapshot.objects.between(query.start, query.end).filter(query.filters.rollup_q())
    found = bill_rows.order_by().annotate(**query.period)
    sums = {"billed_usd": money_sum("cost_usd"), "idle_usd": money_sum(idle_field)}
    if bill_dims:
        found = found.values(*bill_dims).annotate(**sums)
    else:
        found = [found.aggregate(**sums)] if found.exists() else []
    return {tuple(row[name] for name in bill_dims): quantized(row) for row in found}


def _add_bills(rows: dict[tuple, dict], query: _Spend, bills: dict[tuple, dict]) -> None:
    """Grouped by the bill's own dimensions, rows carry the bill; otherwise its idle part is an "(idle)" row."""
    group_by, bill_dims = query.group_by, query.bill_dims
    for bill_key, bill in bills.items():
        if query.by_bill_only:
            target = rows.setdefault(
                bill_key, {**dict(zip(group_by, bill_key, strict=True)), **BLANK, "idle_usd": ZERO_USD}
            )
            target["billed_usd"], target["idle_usd"] = bill["billed_usd"], bill["idle_usd"]
        elif bill["idle_usd"]:
            idle_key = tuple(bill_key[bill_dims.index(n)] if n in bill_dims else IDLE_LABEL for n in group_by)
            rows[idle_key] = {**dict(zip(group_by, idle_key, strict=True)), **BLANK, "idle_usd": bill["idle_usd"],
                              "billed_usd": None}  # fmt: skip


def _totals(rows: list[dict], bills: dict[tuple, dict], kind: str) -> dict:
    """The totals row; no bill in the range (or a team's view): billed and idle are unknown, not 0.00."""
    totals = {name: sum((r[name] for r in rows), ZERO_HOURS if name.endswith("hours") else ZERO_USD) for name in BLANK}
    totals["idle_usd"] = sum((b["idle_usd"] for b in bills.values()), ZERO_USD) if bills else None
    totals["billed_usd"] = sum((b["billed_usd"] for b in bills.values()), ZERO_USD) if bills else None
    if kind != "gpu":
        for name in ("llm_usd", "total_usd"):
            totals[name] = sum((r[name] for r in rows), ZERO_USD)
        totals["llm_calls"] = sum(r["llm_calls"] for r in rows)
        totals["llm_unpriced_calls"] = sum(r["llm_unpriced_calls"] for r in rows)
    return totals


def _add_llm(rows: dict, *, start, end, group_by, team_ids, interval, blank, idle, filters=NO_FILTER) -> None:
    """Add LLM spend (LlmUsageSnapshot) to the rows, side by side: llm_usd, llm_calls and total_usd.

    Narrowed by a GPU type or a label, there is none (LLM calls have no GPU and carry no labels)."""
    narrowed = SpendFilter(provider=filters.provider, model=filters.model)  # LLM rows have no GPU type, no labels
    llm = (
        LlmUsageSnapshot.objects.between(start, end).for_teams(team_ids).filter(narrowed.rollup_q(model_field="model"))
    )
    if filters.label is not None or filters.gpu_type not in ("", NO_GPU):
        llm = llm.none()
    if interval:
        llm = llm.annotate(period=Trunc("date", interval, output_field=DateField()))
    names = {"team": "team__name", "model_name": "model", "gpu_type": "gpu_type_none"}
    llm = llm.annotate(gpu_type_none=Value(NO_GPU, output_field=CharField()))
    dims = [names.get(name, name) for name in group_by]
    sums = {"llm_usd": money_sum("cost_usd"), "llm_calls": Sum("calls"), "llm_unpriced_calls": Sum("unpriced_calls")}
    llm_rows = llm.order_by().values(*dims).annotate(**sums) if dims else (
        [llm.aggregate(**sums)] if llm.exists() else [])  # fmt: skip
    for row in rows.values():
        row.update(llm_usd=ZERO_USD, llm_calls=0, llm_unpriced_calls=0)
    for row in llm_rows:
        key = tuple(row[dim] for dim in dims)
        target = rows.setdefault(key, {**dict(zip(group_by, key, strict=True)), **blank, "idle_usd": idle,
                                       "billed_usd": None, "llm_usd": ZERO_USD, "llm_calls": 0,
                                       "llm_unpriced_calls": 0})  # fmt: skip
        target["llm_usd"] += quantized({"llm_usd": row["llm_usd"]})["llm_usd"]
        target["llm_calls"] += row["llm_calls"]
        target["llm_unpriced_calls"] += row["llm_unpriced_calls"]
    for row in rows.values():
        row["total_usd"] = row["allocated_usd"] + (row["idle_usd"] or ZERO_USD) + row["llm_usd"]


def team_spend(*, team_id: UUID, start: date, end: date, idle: str = SEPARATE, top: int = 10) -> dict:
    """A team's totals, daily series and top models by allocated cost over [start, end). Three selector calls."""
    totals = spend_summary(start=start, end=end, group_by=(), idle=idle, team_ids=[team_id]).totals
    daily = spend_summary(start=start, end=end, group_by=(), idle=idle, team_ids=[team_id], interval="day")
    models = spend_summary(start=start, end=end, group_by=("model_name",), idle=idle, team_ids=[team_id])
    by_day = {row["period"]: row for row in daily.rows}
    return {
        "totals": totals,
        "daily": [
            {
                "date": day,
                "gpu_hours": by_day.get(day, {}).get("gpu_hours", ZERO_HOURS),
                "unpriced_gpu_hours": by_day.get(day, {}).get("unpriced_gpu_hours", ZERO_HOURS),
                "estimated_usd": by_day.get(day, {}).get("estimated_usd", ZERO_USD),
                "allocated_usd": by_day.get(day, {}).get("allocated_usd", ZERO_USD),
            }
            for day in periods_between(start, end, "day")
        ],
        "top_models": [
            {
                key: row[key]
                for key in (
                    "model_name",
                    "gpu_hours",
                    "unpriced_gpu_hours",
                    "estimated_usd",
                    "allocated_usd",
                    "unmeasured_gpu_hours",
                    "efficiency_pct",
                    "waste_usd",
                    "allocated_waste_usd",
                )
            }
            for row in models.rows[:top]
        ],
    }
