"""The LLM price catalog: per-token prices from the shipped file, a Heliox CSV or LiteLLM's JSON."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import overload

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from costs.catalog.models import ModelPrice, PriceRefresh
from costs.catalog.selectors import catalog_age
from costs.catalog.services.catalog_rows import (
    CATALOG_DIR,
    MAX_CATALOG_ROWS,
    RefreshResult,
)
from costs.catalog.services.effective_dated import apply_effective_dated
from costs.catalog.services.litellm import heliox_provider, model_name, rank
from heliox.dates import how_long
from heliox.errors import InputError
from heliox.reading import CsvReader, json_object_items
from heliox.validation import REQUIRED, parse_decimal

DEFAULT_FILE = CATALOG_DIR / "model_prices.csv"
MAX_JSON_CATALOG_BYTES = 32 << 20  # LiteLLM's file is ~1.5 MB
FORMATS = ("heliox", "litellm")
COLUMNS = ("provider", "model", "input_usd_per_mtok", "output_usd_per_mtok", "effective_from")
MILLION = Decimal(1_000_000)
VALUE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok", "cached_input_usd_per_mtok")


@dataclass
class ModelPriceRow:
    provider: str
    model: str
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal | None
    effective_from: datetime | None
    source: str
    line: int | None
    entry: str = ""  # the key of a JSON file's entry, to name it in errors

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.model)


def _number(value, *, path: str, line: int | None, field: str, optional: bool = False, key: str = "") -> Decimal | None:
    default = None if optional else REQUIRED
    return parse_decimal(value, path=path, line=line, field=field, key=key, default=default, non_negative=True)


def _price(value, *, path: str, line: int | None, field: str) -> Decimal:
    return _number(value, path=path, line=line, field=field)  # type: ignore[return-value]  # required: never None


@overload
def per_million(value: Decimal) -> Decimal: ...
@overload
def per_million(value: None) -> None: ...
def per_million(value: Decimal | None) -> Decimal | None:
    """The catalog keeps USD per 1M tokens to 6 decimals, rounded half-up (token x price is exact in pico-USD)."""
    return None if value is None else value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def parse_heliox_models(path: Path) -> list[ModelPriceRow]:
    name, rows = str(path), list[ModelPriceRow]()
    reader = CsvReader(path)  # bounded lines, fields and header; plain or gzip
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=name, line=1)
    for row in reader:
        line = reader.line_num
        if len(rows) == MAX_CATALOG_ROWS:
            raise InputError(f"more than {MAX_CATALOG_ROWS:,} rows: not a price catalog", path=name, line=line)
        try:
            start = datetime.fromisoformat(row["effective_from"].strip())
        except ValueError:
            raise InputError("not an ISO date", path=name, line=line, field="effective_from",
                             value=row["effective_from"]) from None  # fmt: skip
        if not row["provider"].strip() or not row["model"].strip():
            raise InputError("provider and model are required", path=name, line=line, field="model")
        rows.append(ModelPriceRow(
            provider=row["provider"].strip(), model=row["model"].strip(),
            input_usd_per_mtok=per_million(_price(row["input_usd_per_mtok"], path=name, line=line,
                                                  field="input_usd_per_mtok")),
            output_usd_per_mtok=per_million(_price(row["output_usd_per_mtok"], path=name, line=line,
                                                   field="output_usd_per_mtok")),
            cached_input_usd_per_mtok=per_million(_number(row.get("cached_input_usd_per_mtok"), path=name,
                                                          line=line, field="cached_input_usd_per_mtok",
                                                          optional=True)),
            effective_from=start.replace(tzinfo=UTC) if start.tzinfo is None else start,
            source=(row.get("source") or "").strip()[:300], line=line,
        ))  # fmt: skip
    return rows


# Modes without output tokens: an entry with an input price alone is complete (output costs 0).
NO_OUTPUT_MODES = frozenset({"embedding", "rerank", "moderation"})
ALIAS_HOPS = 5
MODEL_LENGTH: int = ModelPrice._meta.get_field("model").max_length  # type: ignore[union-attr,assignment]
PROVIDER_LENGTH: int = ModelPrice._meta.get_field("provider").max_length  # type: ignore[union-attr,assignment]
PER_TOKEN = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")


@dataclass
class ParsedModels:
    rows: list[ModelPriceRow]
    entries: int
    skipped: Counter[str] = field(default_factory=Counter)  # '<name> (<reason>)' -> entries not loaded


def _resolve_alias(data: dict, key: str, spec) -> tuple[str, object]:
    """The entry an alias (`{"alias_of": "<key>"}`) points to, followed up to ALIAS_HOPS times."""
    for _ in range(ALIAS_HOPS):
        if not (isinstance(spec, dict) and "alias_of" in spec):
            break
        key = str(spec["alias_of"])
        spec = data.get(key)
    return key, spec


def _litellm_row(path: Path, key: str, source_key: str, spec: dict) -> tuple[ModelPriceRow | None, str]:
    """One entry as a row under Heliox's provider and model name, or None and why it is not loaded."""
    per_token = {name: _number(spec.get(name), path=str(path), line=None, key=source_key, optional=True, field=name)
                 for name in PER_TOKEN}  # fmt: skip
    mode = str(spec.get("mode") or "chat")
    price_in, price_out = per_token["input_cost_per_token"], per_token["output_cost_per_token"]
    if price_in is not None and price_out is None and mode in NO_OUTPUT_MODES:
        price_out = Decimal(0)
    if price_in is None or price_out is None:
        return None, f"mode {mode} (no price per input and per output token)"
    litellm_provider = str(spec.get("litellm_provider") or "")
    if not litellm_provider:
        return None, f"{key} (no litellm_provider)"
    model, _ = model_name(key, litellm_provider)
    provider = heliox_provider(litellm_provider)
    if len(model) > MODEL_LENGTH or len(provider) > PROVIDER_LENGTH:
        return None, f"{key[:MODEL_LENGTH]} (a name longer than the catalog holds)"
    cached = per_token["cache_read_input_token_cost"]
    return ModelPriceRow(
        provider=provider, model=model,
        input_usd_per_mtok=per_million(price_in * MILLION), output_usd_per_mtok=per_million(price_out * MILLION),
        cached_input_usd_per_mtok=None if cached is None else per_million(cached * MILLION), effective_from=None,
        source=f"LiteLLM {path.name}: {key} ({litellm_provider}, {mode})"[:300], line=None, entry=key,
    ), ""  # fmt: skip


def parse_litellm(path: Path) -> ParsedModels:
    """LiteLLM's model_prices_and_context_window.json: per-token prices become per-million, under Heliox's names.

    Providers, model names and the choice among duplicates follow costs/services/litellm.py.
    Entries without a price per input and per output token (images, audio seconds,
    searches), `sample_spec` (the format's description) and aliases of missing keys
    are counted in `skipped`; an alias takes the prices of the entry it names.
    """
    name = str(path)
    data: dict[
        str, object
    ] = {}  # aliases name other entries, so the catalog is held whole: bounded in entries and bytes
    for key, entry in json_object_items(path, max_bytes=MAX_JSON_CATALOG_BYTES):
        if len(data) == MAX_CATALOG_ROWS:
            raise InputError(f"more than {MAX_CATALOG_ROWS:,} entries: not a price catalog", path=name)
        data[key] = entry
    parsed = ParsedModels(rows=[], entries=len(data))
    candidates: dict[tuple[str, str], list[tuple[tuple, ModelPriceRow]]] = defaultdict(list)
    for key, entry in data.items():
        if key == "sample_spec":
            parsed.skipped["sample_spec (LiteLLM's description of the format)"] += 1
            continue
        source_key, spec = _resolve_alias(data, key, entry)
        if not isinstance(spec, dict) or "alias_of" in spec:
            parsed.skipped[f"{key} (an alias of no priced entry)"] += 1
            continue
        row, reason = _litellm_row(path, key, source_key, spec)
        if row is None:
            parsed.skipped[reason] += 1
            continue
        _, prefixed = model_name(key, str(spec["litellm_provider"]))
        order = rank(key=key, litellm_provider=str(spec["litellm_provider"]), prefixed=prefixed,
                     alias=source_key != key)  # fmt: skip
        candidates[row.key].append((order, row))
    for group in candidates.values():
        group.sort(key=lambda item: item[0])
        kept = group[0][1]
        parsed.rows.append(kept)
        for _, row in group[1:]:
            if all(getattr(row, f) == getattr(kept, f) for f in VALUE_FIELDS):
                parsed.skipped["(duplicates of a kept key, same prices)"] += 1
            else:
                parsed.skipped[f"{row.entry} (a duplicate of {kept.entry}, kept; prices differ)"] += 1
    return parsed


def model_prices_refresh(
    *, path: Path | None = None, fmt: str = "heliox", if_stale: bool = False, now: datetime | None = None
) -> RefreshResult:
    """Load the LLM price catalog in one transaction; a changed price closes the old row and opens a new one."""
    now = now or timezone.now()
    if fmt not in FORMATS:
        raise InputError(f"unknown format; use one of {', '.join(FORMATS)}", field="--format", value=fmt)
    if if_stale:
        age, limit = catalog_age(now, "llm"), timedelta(seconds=settings.MODEL_PRICE_STALENESS_SECONDS)
        if age is not None and age < limit:
            return RefreshResult(None, f"the catalog was refreshed {how_long(age)} ago, within "
                                       f"MODEL_PRICE_STALENESS_SECONDS ({how_long(limit)})")  # fmt: skip
    path = path or DEFAULT_FILE
    if not path.is_file():
        raise InputError("no such file", path=str(path))
    if fmt == "litellm":
        parsed = parse_litellm(path)
    else:
        rows = parse_heliox_models(path)
        parsed = ParsedModels(rows=rows, entries=len(rows))
    source = "default model catalog" if path == DEFAULT_FILE else str(path)
    with transaction.atomic():
        refresh = PriceRefresh(
            source=source[:500],
            format=fmt,
            catalog="llm",
            rows_read=parsed.entries,
            rows_skipped=parsed.skipped.total(),
            skipped=dict(sorted(parsed.skipped.items())),
        )
        apply_effective_dated(model=ModelPrice, key_fields=("provider", "model"), value_fields=VALUE_FIELDS,
                              rows=parsed.rows, now=now, path=source, result=refresh)  # fmt: skip
        refresh.save()
    return RefreshResult(refresh)
