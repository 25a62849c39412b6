"""Importing the bill: FOCUS 1.0+ cost and usage CSV (plain or gzip) into daily CostSnapshots.

A line is a GPU line when an InstanceType of the catalog is named in it
(ChargeDescription, ResourceName, SkuPriceDetails or an x_ column), e.g.
"$1.624 per On Demand Linux g5.4xlarge Instance Hour", or, on Azure, by its meter
name ("Virtual Machines NCasT4_v3 Series - NC4as T4 v3 - US East" names
Standard_NC4as_T4_v3). Its BilledCost is added to (UTC day of ChargePeriodStart,
provider, GPU type) and, on a usage line, its GPU-hours are ConsumedQuantity x the
instance's GPU count. Credits, adjustments and refunds (negative amounts, negative
quantities of a corrected usage) net into the same cell; a cell that nets below zero
is refused, naming the cell and its lines. Other lines are counted and skipped.
Streaming: memory holds the day cells, not the lines.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from costs.billing.models import CostSnapshot
from costs.billing.money import ZERO, to_cents
from costs.billing.services.bills import bill_changed
from costs.catalog.models import InstanceType
from heliox.errors import InputError
from heliox.reading import CsvReader
from heliox.units import HOURS
from heliox.validation import parse_decimal
from jobs.models import ImportRecord
from jobs.services.changes import AffectedDays
from jobs.services.records import ImportOutcome, import_run, imported_before

FORMATS = ("focus",)
# FOCUS 1.2 renamed ProviderName to ServiceProviderName; either will do.
PROVIDER_COLUMNS = ("ProviderName", "ServiceProviderName")
REQUIRED = ("BilledCost", "BillingCurrency", "ChargePeriodStart", "ConsumedQuantity")
TEXT_COLUMNS = ("ChargeDescription", "ResourceName", "SkuPriceDetails")
NULLS = {"", "NULL", "null", "None"}
PROVIDERS = {
    "aws": "aws", "amazon web services": "aws", "amazon web services, inc.": "aws", "amazon": "aws",
    "google cloud": "gcp", "google": "gcp", "gcp": "gcp", "google cloud platform": "gcp",
    "microsoft": "azure", "microsoft azure": "azure", "azure": "azure",
    "oracle": "oci", "oracle cloud infrastructure": "oci", "oci": "oci",
    "lambda": "lambda", "lambda labs": "lambda", "coreweave": "coreweave",
}  # fmt: skip
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]")
# FOCUS ChargeCategory values whose ConsumedQuantity is no usage (the spec wants it null there;
# some exports fill it, e.g. Oracle's adjustments): they move money, not GPU-hours.
NOT_USAGE = {"credit", "adjustment", "purchase", "tax"}
# Azure names a VM size by its meter ("NC4as T4 v3", "NC4as T4 v3 Low Priority") inside
# descriptions such as "Virtual Machines NCasT4_v3 Series - NC4as T4 v3 - US East".
SEGMENT = re.compile(r"\s+-\s+|[/,;{}\"\[\]|:=]")
METER_SUFFIX = re.compile(r"\s+(?:low priority|spot)\s*$", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9]+")
# GPU names inside Azure sizes and meters (Standard_ND96asr_v4 is metered as "ND96asr A100 v4"): left out of the key.
GPU_WORDS = {"a100", "h100", "h200", "b200", "l40s", "l4", "a10g", "a10", "a6000", "v100", "t4", "m60", "k80", "mi300x"}
LINES_NAMED = 10  # lines an error names per cell
# Memory holds a cell per (day, provider, GPU type): a year of six clouds' GPU types is ~40,000.
MAX_CELLS = 200_000


def meter_key(text: str) -> str:
    """`Standard_NC4as_T4_v3`, `NC4as T4 v3` and `NC4as T4 v3 Spot` -> 'nc4asv3': one key for every spelling."""
    words = WORD.findall(METER_SUFFIX.sub("", text).lower())
    if words and words[0] == "standard":
        words = words[1:]
    return "".join(word for word in words if word not in GPU_WORDS)


@dataclass
class Cell:
    cost: Decimal = ZERO
    gpu_hours: Decimal = ZERO
    lines: int = 0
    credits: int = 0  # lines with a negative amount
    named: list[tuple[int, Decimal]] = field(default_factory=list)  # (line, BilledCost), the first LINES_NAMED

    def add(self, line: int, cost: Decimal, hours: Decimal) -> None:
        self.cost += cost
        self.gpu_hours += hours
        self.lines += 1
        self.credits += cost < 0
        if len(self.named) < LINES_NAMED:
            self.named.append((line, cost))


@dataclass
class BillingCounts:
    read: int = 0
    kept: int = 0
    skipped: int = 0
    cells: dict[tuple[date, str, str], Cell] = field(default_factory=lambda: defaultdict(Cell))
    covered: set[tuple[date, str]] = field(default_factory=set)
    added_to_existing: int = 0
    replaced: int = 0

    @property
    def cost_usd(self) -> Decimal:
        """The file's GPU charges as stored: the sum of the cells, each rounded to cents."""
        return sum((to_cents(cell.cost) for cell in self.cells.values()), ZERO)

    @property
    def raw_cost_usd(self) -> Decimal:
        """The exact sum of the GPU lines' BilledCost, before any rounding."""
        return sum((cell.cost for cell in self.cells.values()), ZERO)

    @property
    def gpu_hours(self) -> Decimal:
        return sum((cell.gpu_hours for cell in self.cells.values()), ZERO)


def _value(row: dict, column: str) -> str:
    value = (row.get(column) or "").strip()
    return "" if value in NULLS else value


def _decimal(row: dict, column: str, path: str, line: int) -> Decimal:
    """A money or quantity column: empty (or a NULL literal) is 0; credits are negative."""
    return parse_decimal(_value(row, column), path=path, line=line, field=column, default=ZERO)  # type: ignore[return-value]


def _day(row: dict, path: str, line: int) -> date:
    text = _value(row, "ChargePeriodStart")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("not an ISO 8601 date-time", path=path, line=line, field="ChargePeriodStart",
                         value=text) from None  # fmt: skip
    # FOCUS requires a zone; real exports often omit it, meaning UTC.
    try:
        return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    except OverflowError:
        raise InputError("out of range (year 1 to 9999, in UTC)", path=path, line=line, field="ChargePeriodStart",
                         value=text) from None  # fmt: skip


class Instances:
    """The catalog's instance types by provider: by lower-case name, and Azure's also by meter key."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, InstanceType]] = defaultdict(dict)
        self.by_meter: dict[str, InstanceType | None] = {}
        for instance in InstanceType.objects.order_by("name"):
            self.by_name[instance.provider][instance.name.lower()] = instance
            if instance.provider == "azure":
                key = meter_key(instance.name)
                other = self.by_meter.get(key)
                # Two sizes with one key but different GPUs would be a guess: neither is matched by meter.
                ambiguous = key in self.by_meter and (
                    other is None or (other.gpu_type, other.gpu_count) != (instance.gpu_type, instance.gpu_count)
                )
                self.by_meter[key] = None if ambiguous else instance

    def find(self, provider: str, texts: list[str]) -> InstanceType | None:
        known = self.by_name.get(provider, {})
        for text in texts:
            for token in TOKEN.findall(text):
                if token.lower() in known:
                    return known[token.lower()]
        if provider == "azure":
            for text in texts:
                for segment in SEGMENT.split(text):
                    instance = self.by_meter.get(meter_key(segment)) if segment.strip() else None
                    if instance is not None:
                        return instance
        return None


def billing_parse(path: Path, counts: BillingCounts, progress=None) -> None:
    """Read and validate every line, summing the GPU lines into `counts.cells`."""
    name = str(path)
    instances = Instances()
    reader = CsvReader(path)  # bounded lines, fields and header; plain or gzip
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED if column not in header]
    provider_column = next((column for column in PROVIDER_COLUMNS if column in header), None)
    if provider_column is None:
        missing.append("ProviderName")
    if missing:
        raise InputError(f"not a FOCUS file: missing column(s) {', '.join(missing)}", path=name, line=1)
    text_columns = [c for c in header if c in TEXT_COLUMNS or c.startswith("x_")]
    category_column = "ChargeCategory" if "ChargeCategory" in header else None
    for row in reader:
        line = reader.line_num
        counts.read += 1
        if progress:
            progress(1)
        currency = _value(row, "BillingCurrency")
        if currency and currency != "USD":
            raise InputError("only USD bills are supported for now (Heliox stores USD)", path=name, line=line,
                             field="BillingCurrency", value=currency)  # fmt: skip
        cost = _decimal(row, "BilledCost", name, line)
        day = _day(row, name, line)
        provider = PROVIDERS.get(_value(row, provider_column).lower())  # type: ignore[arg-type]  # checked above
        if provider is None:
            counts.skipped += 1
            continue
        counts.covered.add((day, provider))
        if len(counts.covered) > MAX_CELLS:
            raise InputError(f"covers more than {MAX_CELLS:,} (day, provider) pairs: split the file", path=name,
                             line=line, field="ChargePeriodStart")  # fmt: skip
        instance = instances.find(provider, [row.get(column) or "" for column in text_columns])
        if instance is None:
            counts.skipped += 1
            continue
        usage = not category_column or _value(row, category_column).lower() not in NOT_USAGE
        # A corrected usage line (Azure's refunds) has a negative quantity: it takes its GPU-hours back.
        quantity = _decimal(row, "ConsumedQuantity", name, line) if usage else ZERO
        counts.cells[(day, provider, instance.gpu_type)].add(line, cost, quantity * instance.gpu_count)
        if len(counts.cells) > MAX_CELLS:
            raise InputError(f"more than {MAX_CELLS:,} (day, provider, GPU type) cells: split the file", path=name,
                             line=line, field="ChargePeriodStart")  # fmt: skip
        counts.kept += 1


def billing_write(counts: BillingCounts, *, replace: bool, path: str) -> None:
    """Store the day cells: added to what is there, or replacing the file's days and providers."""
    if replace and counts.covered:
        days = {day for day, _ in counts.covered}
        doomed = [
            snapshot.pk
            for snapshot in CostSnapshot.objects.filter(date__in=days)
            if (snapshot.date, snapshot.provider) in counts.covered
        ]
        counts.replaced = CostSnapshot.objects.filter(pk__in=doomed).delete()[0]
    existing = {
        (s.date, s.provider, s.gpu_type): s
        for s in CostSnapshot.objects.filter(date__in={day for day, _, _ in counts.cells})
    }
    rows, negative = [], []
    for key, cell in sorted(counts.cells.items()):
        current = existing.get(key)
        cost, hours = to_cents(cell.cost), cell.gpu_hours
        if current:
            counts.added_to_existing += 1
            cost += current.cost_usd
            hours += current.gpu_hours or ZERO
        hours = hours.quantize(HOURS, rounding=ROUND_HALF_UP)
        if cost < 0 or hours < 0:
            negative.append((key, cell, current, cost, hours))
            continue
        rows.append(CostSnapshot(date=key[0], provider=key[1], gpu_type=key[2], cost_usd=cost, gpu_hours=hours))
    if negative:
        raise InputError(_negative_cells_message(negative), path=path, field="BilledCost")
    CostSnapshot.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["date", "provider", "gpu_type"],
        update_fields=["cost_usd", "gpu_hours", "updated_at"],
    )
    bill_changed(days={day for day, _ in counts.covered})


def _negative_cells_message(negative: list) -> str:
    """One sentence per cell that nets below zero, naming its lines and amounts."""
    parts = []
    for (day, provider, gpu_type), cell, current, cost, hours in negative[:LINES_NAMED]:
        lines = ", ".join(f"{line} ({amount.normalize():f})" for line, amount in cell.named)
        more = f" and {cell.lines - len(cell.named)} more" if cell.lines > len(cell.named) else ""
        stored = f" with the ${current.cost_usd} already stored" if current else ""
        figure = f"${cost}" if cost < 0 else f"{hours} GPU-hours"
        parts.append(f"{day} {provider} {gpu_type} nets to {figure}{stored}: lines {lines}{more}")
    more = f"; and {len(negative) - LINES_NAMED} more cell(s)" if len(negative) > LINES_NAMED else ""
    return (
        "credits or refunds exceed the GPU charges they correct (import the charges first, or with them): "
        + "; ".join(parts)
        + more
    )


def billing_import(
    *,
    path: Path,
    fmt: str = "focus",
    replace: bool = False,
    dry_run: bool = False,
    validate: bool = False,
    run_by: str = "",
    progress=None,
    record: ImportRecord | None = None,
) -> tuple[ImportOutcome | None, BillingCounts]:
    """Import a FOCUS file all or nothing. Returns (None, counts) when the file was imported before.

    With `validate`, focus-validator checks the file against the FOCUS spec first and a
    failed check refuses it (an optional extra: requirements-focus.txt).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=fmt)
    counts = BillingCounts()
    with import_run(
        kind=ImportRecord.Kind.BILLING, path=path, fmt=fmt, dry_run=dry_run, run_by=run_by, record=record
    ) as record:
        if record is None:
            return None, counts
        if validate:
            from costs.billing.services.focus_validation import focus_validate_or_refuse  # pandas: only when asked

            focus_validate_or_refuse(path)
        billing_parse(path, counts, progress)
        billing_write(counts, replace=replace, path=str(path))
        record.rows_read, record.rows_kept, record.rows_skipped = counts.read, counts.kept, counts.skipped
        record.totals = {
            "cost_usd": str(counts.cost_usd),
            "raw_cost_usd": str(counts.raw_cost_usd),
            "gpu_hours": str(counts.gpu_hours),
            "cells": len(counts.cells),
            "added_to_existing": counts.added_to_existing,
            "replaced": counts.replaced,
        }
    days = AffectedDays()
    for day, _ in counts.covered:
        days.add_span(day, day)
    return ImportOutcome(record=record, affected_days=days), counts


def billing_upload(
    *, path: Path, parameters: dict, run_by: str, record: ImportRecord | None = None, progress=None
) -> str:
    """An upload's import (admin form, API, `import_billing --async`): import and summarise in one line.

    `parameters`: "format", "replace", "dry_run". The allocation of the days follows in the import's transaction.
    """
    dry_run = bool(parameters.get("dry_run"))
    outcome, counts = billing_import(
        path=path, fmt=parameters.get("format") or "focus", replace=bool(parameters.get("replace")),
        dry_run=dry_run, run_by=run_by, progress=progress, record=record,
    )  # fmt: skip
    if outcome is None:
        return imported_before(path.name)
    return (
        f"{'Would import' if dry_run else 'Imported'} {path.name}: {counts.kept:,} GPU lines of {counts.read:,}, "
        f"${counts.cost_usd:,} in {len(counts.cells)} day cells."
    )
