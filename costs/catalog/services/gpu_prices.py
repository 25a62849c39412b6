"""Loading the price catalog: the shipped default files, Heliox CSVs and SkyPilot catalogs."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from costs.catalog.models import GpuPrice, InstanceType, PriceRefresh
from costs.catalog.selectors import catalog_age
from costs.catalog.services.catalog_rows import (
    CATALOG_DIR,
    Catalog,
    InstanceRow,
    PriceRow,
    RefreshResult,
    catalog_rows,
    optional_decimal,
    required_decimal,
)
from costs.catalog.services.effective_dated import apply_effective_dated
from costs.catalog.services.skypilot import parse_skypilot
from heliox.dates import how_long
from heliox.errors import InputError
from heliox.reading import csv_header
from jobs.models import Pricing, Provider, gpu_type_validator

DEFAULT_FILES = (CATALOG_DIR / "gpu_prices.csv", CATALOG_DIR / "instance_types.csv")
PRICE_COLUMNS = ("provider", "gpu_type", "region", "pricing", "usd_per_gpu_hour", "effective_from", "source")
INSTANCE_COLUMNS = ("provider", "name", "gpu_type", "gpu_count")
FORMATS = ("heliox", "skypilot")


# --- parsing -------------------------------------------------------------------------


def _choice(value: str, choices: list[str], *, path: Path, line: int, column: str) -> str:
    value = (value or "").strip()
    if value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}", path=str(path), line=line, field=column, value=value)
    return value


def _gpu_type(value: str, *, path: Path, line: int, column: str) -> str:
    value = (value or "").strip()
    try:
        gpu_type_validator(value)
    except Exception:  # noqa: BLE001 - a ValidationError; reported as an InputError
        raise InputError("not a GPU type name", path=str(path), line=line, field=column, value=value) from None
    return value


def _instant(value: str, *, path: Path, line: int, column: str) -> datetime:
    value = (value or "").strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError("not an ISO date or date-time", path=str(path), line=line, field=column, value=value) from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise InputError("out of range (year 1 to 9999, in UTC)", path=str(path), line=line, field=column,
                         value=value) from None  # fmt: skip


def parse_heliox(path: Path) -> Catalog:
    """A Heliox CSV: prices (PRICE_COLUMNS) or instance types (INSTANCE_COLUMNS), told apart by header."""
    header = csv_header(path)
    catalog = Catalog()
    if "usd_per_gpu_hour" in header:
        for line, row in catalog_rows(path, PRICE_COLUMNS):
            catalog.rows_read += 1
            catalog.prices.append(
                PriceRow(
                    provider=_choice(row["provider"], Provider.values, path=path, line=line, column="provider"),
                    gpu_type=_gpu_type(row["gpu_type"], path=path, line=line, column="gpu_type"),
                    region=(row["region"] or "").strip(),
                    pricing=_choice(row["pricing"], Pricing.values, path=path, line=line, column="pricing"),
                    usd_per_gpu_hour=required_decimal(
                        row["usd_per_gpu_hour"], path=path, line=line, column="usd_per_gpu_hour"
                    ),
                    effective_from=_instant(row["effective_from"], path=path, line=line, column="effective_from"),
                    source=(row["source"] or "").strip()[:300],
                    line=line,
                )
            )
    elif "gpu_count" in header:
        for line, row in catalog_rows(path, INSTANCE_COLUMNS):
            catalog.rows_read += 1
            count = required_decimal(row["gpu_count"], path=path, line=line, column="gpu_count")
            if count != int(count) or count < 1:
                raise InputError("must be a whole number >= 1", path=str(path), line=line, field="gpu_count")
            vcpus = optional_decimal(row.get("vcpus", ""), path=path, line=line, column="vcpus")
            catalog.instance_types.append(
                InstanceRow(
                    provider=_choice(row["provider"], Provider.values, path=path, line=line, column="provider"),
                    name=(row["name"] or "").strip(),
                    gpu_type=_gpu_type(row["gpu_type"], path=path, line=line, column="gpu_type"),
                    gpu_count=int(count),
                    vcpus=int(vcpus) if vcpus is not None else None,
                    memory_gib=optional_decimal(row.get("memory_gib", ""), path=path, line=line, column="memory_gib"),
                )
            )
    elif {"InstanceType", "AcceleratorName", "Price"} <= set(header):
        raise InputError(
            "this is a SkyPilot catalog (InstanceType, AcceleratorName, Price columns), not a Heliox CSV: "
            "load it with --format skypilot",
            path=str(path),
            line=1,
        )
    else:
        raise InputError(
            "not a Heliox catalog: the header has neither usd_per_gpu_hour (prices) nor gpu_count (instance types)",
            path=str(path),
            line=1,
        )
    return catalog


# --- applying ------------------------------------------------------------------------


def _apply_instance_types(rows: list[InstanceRow], result: PriceRefresh) -> None:
    if not rows:
        return
    InstanceType.objects.bulk_create(
        [
            InstanceType(
                provider=row.provider,
                name=row.name,
                gpu_type=row.gpu_type,
                gpu_count=row.gpu_count,
                vcpus=row.vcpus,
                memory_gib=row.memory_gib,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["provider", "name"],
        update_fields=["gpu_type", "gpu_count", "vcpus", "memory_gib", "updated_at"],
    )
    result.instance_types_saved += len(rows)


def prices_refresh(
    *,
    paths: list[Path] | None = None,
    fmt: str = "heliox",
    provider: str | None = None,
    if_stale: bool = False,
    now: datetime | None = None,
) -> RefreshResult:
    """Load catalog files (the shipped defaults when `paths` is None) in one transaction.

    Prices are effective-dated: a changed price closes the open row at the new
    row's effective_from (SkyPilot rows, which carry no date, take `now`) and opens
    a new one; reloading the same file changes nothing.
    """
    now = now or timezone.now()
    if fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=fmt)
    if if_stale:
        age = catalog_age(now)
        limit = timedelta(seconds=settings.PRICE_STALENESS_SECONDS)
        if age is not None and age < limit:
            return RefreshResult(None, f"the catalog was refreshed {how_long(age)} ago, within PRICE_STALENESS_SECONDS "
                                       f"({how_long(limit)})")  # fmt: skip
    paths = list(paths) if paths else list(DEFAULT_FILES)
    catalog = Catalog()
    for path in paths:
        if not path.is_file():
            raise InputError("no such file", path=str(path))
        parsed = parse_skypilot(path, provider=provider) if fmt == "skypilot" else parse_heliox(path)
        catalog.prices += parsed.prices
        catalog.instance_types += parsed.instance_types
        catalog.rows_read += parsed.rows_read
        catalog.skipped += parsed.skipped
    source = "default catalog" if paths == list(DEFAULT_FILES) else ", ".join(str(path) for path in paths)
    with transaction.atomic():
        refresh = PriceRefresh(
            source=source[:500], format=fmt, rows_read=catalog.rows_read,
            rows_skipped=catalog.skipped.total(), skipped=dict(sorted(catalog.skipped.items())),
        )  # fmt: skip
        apply_effective_dated(
            model=GpuPrice, key_fields=("provider", "gpu_type", "region", "pricing"),
            value_fields=("usd_per_gpu_hour",), rows=catalog.prices, now=now, path=source, result=refresh,
        )  # fmt: skip
        _apply_instance_types(catalog.instance_types, refresh)
        refresh.save()
    return RefreshResult(refresh)
