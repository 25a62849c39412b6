"""What every price catalog reader shares: the rows a catalog file becomes, and reading its CSV with bounds.

The Heliox reader (gpu_prices), the SkyPilot reader (skypilot) and the model price book (model_prices) build on
these; the readers never import one another.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from costs.catalog.models import PriceRefresh
from heliox.errors import InputError
from heliox.reading import CsvReader
from heliox.validation import parse_decimal

CATALOG_DIR = Path(__file__).resolve().parent.parent / "data"
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


def catalog_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
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


def required_decimal(value: str, *, path: Path, line: int, column: str) -> Decimal:
    return parse_decimal(value, path=str(path), line=line, field=column, non_negative=True)  # type: ignore[return-value]


def optional_decimal(value: str, *, path: Path, line: int, column: str) -> Decimal | None:
    return parse_decimal(value, path=str(path), line=line, field=column, default=None, non_negative=True)
