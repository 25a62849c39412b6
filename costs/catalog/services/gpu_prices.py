"""Loading the price catalog: the shipped default files, Heliox CSVs and SkyPilot catalogs."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from costs.catalog.models import GpuPrice, InstanceType, PriceRefresh
from costs.catalog.selectors import catalog_age
from costs.catalog.services.effective_dated import apply_effective_dated
from heliox.dates import how_long
from heliox.errors import InputError
from heliox.reading import CsvReader, csv_header
from heliox.validation import parse_decimal
from jobs.models import Pricing, Provider, gpu_type_validator

CATALOG_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_FILES = (CATALOG_DIR / "gpu_prices.csv", CATALOG_DIR / "instance_types.csv")
PRICE_COLUMNS = ("provider", "gpu_type", "region", "pricing", "usd_per_gpu_hour", "effective_from", "source")
INSTANCE_COLUMNS = ("provider", "name", "gpu_type", "gpu_count")
FORMATS = ("heliox", "skypilot")
# A catalog is held in memory while it is applied: SkyPilot's largest (aws) has ~30,000 rows.
MAX_CATALOG_ROWS = 200_000


@dataclass
class PriceRow:
    provider: str
    gpu_type: str
    region: str
    pricing: str
    usd_per_gpu_hour: Decimal
    effective_from: datetime | None
    source: str
    line: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.provider, self.gpu_type, self.region, self.pricing)


@dataclass
class InstanceRow:
    provider: str
    name: str
    gpu_type: str
    gpu_count: int
    vcpus: int | None
    memory_gib: Decimal | None


@dataclass
class Catalog:
    prices: list[PriceRow] = field(default_factory=list)
    instance_types: list[InstanceRow] = field(default_factory=list)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # '<name> (<reason>)' -> rows not priced


@dataclass
class RefreshResult:
    refresh: PriceRefresh | None
    skipped_reason: str = ""


# --- parsing -------------------------------------------------------------------------


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = CsvReader(path)  # bounded lines, fields and header; plain or gzip
    try:
        fieldnames = reader.fieldnames or []
    except OSError as error:
        raise InputError(f"cannot open the file: {error.strerror}", path=str(path)) from error
    missing = [name for name in required if name not in fieldnames]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), line=1)
    for number, row in enumerate(reader, start=1):
        if number > MAX_CATALOG_ROWS:
            raise InputError(f"more than {MAX_CATALOG_ROWS:,} rows: not a price catalog", path=str(path),
                             line=reader.line_num)  # fmt: skip
        yield reader.line_num, row


def _decimal(value: str, *, path: Path, line: int, column: str) -> Decimal:
    return parse_decimal(value, path=str(path), line=line, field=column, non_negative=True)  # type: ignore[return-value]


def _optional_decimal(value: str, *, path: Path, line: int, column: str) -> Decimal | None:
    return parse_decimal(value, path=str(path), line=line, field=column, default=None, non_negative=True)


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
        for line, row in _rows(path, PRICE_COLUMNS):
            catalog.rows_read += 1
            catalog.prices.append(
                PriceRow(
                    provider=_choice(row["provider"], Provider.values, path=path, line=line, column="provider"),
                    gpu_type=_gpu_type(row["gpu_type"], path=path, line=line, column="gpu_type"),
                    region=(row["region"] or "").strip(),
                    pricing=_choice(row["pricing"], Pricing.values, path=path, line=line, column="pricing"),
                    usd_per_gpu_hour=_decimal(row["usd_per_gpu_hour"], path=path, line=line, column="usd_per_gpu_hour"),
                    effective_from=_instant(row["effective_from"], path=path, line=line, column="effective_from"),
                    source=(row["source"] or "").strip()[:300],
                    line=line,
                )
            )
    elif "gpu_count" in header:
        for line, row in _rows(path, INSTANCE_COLUMNS):
            catalog.rows_read += 1
            count = _decimal(row["gpu_count"], path=path, line=line, column="gpu_count")
            if count != int(count) or count < 1:
                raise InputError("must be a whole number >= 1", path=str(path), line=line, field="gpu_count")
            vcpus = _optional_decimal(row.get("vcpus", ""), path=path, line=line, column="vcpus")
            catalog.instance_types.append(
                InstanceRow(
                    provider=_choice(row["provider"], Provider.values, path=path, line=line, column="provider"),
                    name=(row["name"] or "").strip(),
                    gpu_type=_gpu_type(row["gpu_type"], path=path, line=line, column="gpu_type"),
                    gpu_count=int(count),
                    vcpus=int(vcpus) if vcpus is not None else None,
                    memory_gib=_optional_decimal(row.get("memory_gib", ""), path=path, line=line, column="memory_gib"),
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
    from costs.catalog.services.skypilot import parse_skypilot  # it builds on this module's rows and readers

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
