"""Importing the bill: FOCUS 1.0+ cost and usage CSV (plain or gzip) into daily CostSnapshots.

A line is a GPU line when an InstanceType of the catalog is named in it
(ChargeDescription, ResourceName, SkuPriceDetails or an x_ column), e.g.
"$1.624 per On Demand Linux g5.4xlarge Instance Hour". Its BilledCost is added to
(UTC day of ChargePeriodStart, provider, GPU type) and its GPU-hours are
ConsumedQuantity x the instance's GPU count. Other lines are counted and skipped.
Streaming: memory holds the day cells, not the lines.
"""

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from costs.models import CostSnapshot, InstanceType
from costs.money import ZERO, to_cents
from costs.services.allocation import allocation_refresh
from heliox.errors import InputError
from jobs.models import ImportRecord
from jobs.services.records import ImportOutcome, import_run, open_text

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
HOURS = Decimal("0.0001")
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]")


@dataclass
class Cell:
    cost: Decimal = ZERO
    gpu_hours: Decimal = ZERO
    lines: int = 0


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
        return sum((cell.cost for cell in self.cells.values()), ZERO)

    @property
    def gpu_hours(self) -> Decimal:
        return sum((cell.gpu_hours for cell in self.cells.values()), ZERO)


def _value(row: dict, column: str) -> str:
    value = (row.get(column) or "").strip()
    return "" if value in NULLS else value


def _decimal(row: dict, column: str, path: str, line: int) -> Decimal:
    text = _value(row, column)
    try:
        number = Decimal(text or "0")
    except InvalidOperation:
        raise InputError("not a number", path=path, line=line, field=column, value=text) from None
    if not number.is_finite():
        raise InputError("not a finite number", path=path, line=line, field=column, value=text)
    return number


def _day(row: dict, path: str, line: int) -> date:
    text = _value(row, "ChargePeriodStart")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("not an ISO 8601 date-time", path=path, line=line, field="ChargePeriodStart",
                         value=text) from None  # fmt: skip
    # FOCUS requires a zone; real exports often omit it, meaning UTC.
    return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()


def _instances() -> dict[str, dict[str, InstanceType]]:
    by_provider: dict[str, dict[str, InstanceType]] = defaultdict(dict)
    for instance in InstanceType.objects.all():
        by_provider[instance.provider][instance.name.lower()] = instance
    return by_provider


def billing_parse(path: Path, counts: BillingCounts, progress=None) -> None:
    """Read and validate every line, summing the GPU lines into `counts.cells`."""
    name = str(path)
    instances = _instances()
    reader = csv.DictReader(open_text(path))
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED if column not in header]
    provider_column = next((column for column in PROVIDER_COLUMNS if column in header), None)
    if provider_column is None:
        missing.append("ProviderName")
    if missing:
        raise InputError(f"not a FOCUS file: missing column(s) {', '.join(missing)}", path=name, line=1)
    text_columns = [c for c in header if c in TEXT_COLUMNS or c.startswith("x_")]
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
        provider = PROVIDERS.get(_value(row, provider_column).lower())
        if provider is None:
            counts.skipped += 1
            continue
        counts.covered.add((day, provider))
        instance = None
        known = instances.get(provider, {})
        for column in text_columns:
            instance = next((known[t.lower()] for t in TOKEN.findall(row.get(column) or "") if t.lower() in known),
                            None)  # fmt: skip
            if instance:
                break
        if instance is None:
            counts.skipped += 1
            continue
        quantity = _decimal(row, "ConsumedQuantity", name, line)
        if quantity < 0:
            raise InputError("must not be negative", path=name, line=line, field="ConsumedQuantity",
                             value=_value(row, "ConsumedQuantity"))  # fmt: skip
        cell = counts.cells[(day, provider, instance.gpu_type)]
        cell.cost += cost
        cell.gpu_hours += quantity * instance.gpu_count
        cell.lines += 1
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
    rows = []
    for key, cell in sorted(counts.cells.items()):
        current = existing.get(key)
        cost, hours = cell.cost, cell.gpu_hours
        if current:
            counts.added_to_existing += 1
            cost += current.cost_usd
            hours += current.gpu_hours or ZERO
        if cost < 0:
            raise InputError(f"the GPU charges of {key[0]} {key[1]} {key[2]} add up to a negative amount ({cost})",
                             path=path, field="BilledCost")  # fmt: skip
        hours = hours.quantize(HOURS, rounding=ROUND_HALF_UP)
        rows.append(CostSnapshot(date=key[0], provider=key[1], gpu_type=key[2], cost_usd=to_cents(cost),
                                 gpu_hours=hours))  # fmt: skip
    CostSnapshot.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["date", "provider", "gpu_type"],
        update_fields=["cost_usd", "gpu_hours", "updated_at"],
    )
    allocation_refresh(days={day for day, _ in counts.covered})


def billing_import(
    *, path: Path, fmt: str = "focus", replace: bool = False, dry_run: bool = False, run_by: str = "", progress=None
) -> tuple[ImportOutcome | None, BillingCounts]:
    """Import a FOCUS file all or nothing. Returns (None, counts) when the file was imported before."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=fmt)
    counts = BillingCounts()
    with import_run(kind=ImportRecord.Kind.BILLING, path=path, fmt=fmt, dry_run=dry_run, run_by=run_by) as record:
        if record is None:
            return None, counts
        billing_parse(path, counts, progress)
        billing_write(counts, replace=replace, path=str(path))
        record.rows_read, record.rows_kept, record.rows_skipped = counts.read, counts.kept, counts.skipped
        record.totals = {
            "cost_usd": str(counts.cost_usd),
            "gpu_hours": str(counts.gpu_hours),
            "cells": len(counts.cells),
            "added_to_existing": counts.added_to_existing,
            "replaced": counts.replaced,
        }
    return ImportOutcome(record=record, affected_days=tuple(sorted({d for d, _ in counts.covered}))), counts


def billing_upload(*, path: Path, fmt: str, replace: bool, dry_run: bool, gpu_type: str, run_by: str) -> str:
    """The admin upload form's entry point: import and summarise in one line."""
    outcome, counts = billing_import(path=path, fmt=fmt, replace=replace, dry_run=dry_run, run_by=run_by)
    if outcome is None:
        return f"{path.name} was imported before (same SHA-256): nothing to do."
    return (
        f"{'Would import' if dry_run else 'Imported'} {path.name}: {counts.kept:,} GPU lines of {counts.read:,}, "
        f"${to_cents(counts.cost_usd):,} in {len(counts.cells)} day cells."
    )
