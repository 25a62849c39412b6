"""The LLM price catalog: per-token prices from the shipped file, a Heliox CSV or LiteLLM's JSON."""

import csv
import json
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from costs.models import PICO, ModelPrice, PriceRefresh
from costs.services.prices import CATALOG_DIR, RefreshResult, apply_effective_dated, catalog_age
from heliox.errors import InputError

DEFAULT_FILE = CATALOG_DIR / "model_prices.csv"
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
    line: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.model)


def _number(value, *, path: str, line: int, field: str, optional: bool = False) -> Decimal | None:
    text = "" if value is None else str(value).strip()
    if not text and optional:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError("not a number", path=path, line=line, field=field, value=text) from None
    if not number.is_finite() or number < 0:
        raise InputError("must be a number >= 0", path=path, line=line, field=field, value=text)
    return number


def per_million(value: Decimal | None) -> Decimal | None:
    """The catalog keeps USD per 1M tokens to 6 decimals (so that token x price is exact in pico-USD)."""
    return None if value is None else value.quantize(Decimal("0.000001"))


def parse_heliox_models(path: Path) -> list[ModelPriceRow]:
    name, rows = str(path), []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", path=name, line=1)
        for row in reader:
            line = reader.line_num
            try:
                start = datetime.fromisoformat(row["effective_from"].strip())
            except ValueError:
                raise InputError("not an ISO date", path=name, line=line, field="effective_from",
                                 value=row["effective_from"]) from None  # fmt: skip
            if not row["provider"].strip() or not row["model"].strip():
                raise InputError("provider and model are required", path=name, line=line, field="model")
            rows.append(ModelPriceRow(
                provider=row["provider"].strip(), model=row["model"].strip(),
                input_usd_per_mtok=per_million(_number(row["input_usd_per_mtok"], path=name, line=line,
                                                       field="input_usd_per_mtok")),
                output_usd_per_mtok=per_million(_number(row["output_usd_per_mtok"], path=name, line=line,
                                                        field="output_usd_per_mtok")),
                cached_input_usd_per_mtok=per_million(_number(row.get("cached_input_usd_per_mtok"), path=name,
                                                              line=line, field="cached_input_usd_per_mtok",
                                                              optional=True)),
                effective_from=start.replace(tzinfo=UTC) if start.tzinfo is None else start,
                source=(row.get("source") or "").strip()[:300], line=line,
            ))  # fmt: skip
    return rows


def parse_litellm(path: Path) -> list[ModelPriceRow]:
    """LiteLLM's model_prices_and_context_window.json: per-token prices become per-million."""
    name = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"not valid JSON ({error})", path=name) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object of model name -> prices", path=name)
    rows = []
    for model, spec in data.items():
        if model == "sample_spec" or not isinstance(spec, dict) or "input_cost_per_token" not in spec:
            continue
        where = {"path": name, "line": None}
        per_token = {
            key: _number(spec.get(key), **where, field=f"{model}.{key}", optional=True)
            for key in ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")
        }
        provider = str(spec.get("litellm_provider") or "unknown")
        short = model.split("/", 1)[1] if model.startswith(f"{provider}/") else model
        rows.append(ModelPriceRow(
            provider=provider, model=short,
            input_usd_per_mtok=per_million((per_token["input_cost_per_token"] or Decimal(0)) * MILLION),
            output_usd_per_mtok=per_million((per_token["output_cost_per_token"] or Decimal(0)) * MILLION),
            cached_input_usd_per_mtok=None if per_token["cache_read_input_token_cost"] is None
            else per_million(per_token["cache_read_input_token_cost"] * MILLION),
            effective_from=None, source=f"LiteLLM {path.name} ({spec.get('mode', 'chat')})"[:300], line=0,
        ))  # fmt: skip
    return rows


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
            return RefreshResult(None, f"the catalog was refreshed {age} ago, within MODEL_PRICE_STALENESS_SECONDS "
                                       f"({limit})")  # fmt: skip
    path = path or DEFAULT_FILE
    if not path.is_file():
        raise InputError("no such file", path=str(path))
    rows = parse_litellm(path) if fmt == "litellm" else parse_heliox_models(path)
    source = "default model catalog" if path == DEFAULT_FILE else str(path)
    with transaction.atomic():
        refresh = PriceRefresh(source=source[:500], format=fmt, catalog="llm", rows_read=len(rows))
        apply_effective_dated(model=ModelPrice, key_fields=("provider", "model"), value_fields=VALUE_FIELDS,
                              rows=rows, now=now, path=source, result=refresh)  # fmt: skip
        refresh.save()
    return RefreshResult(refresh)


class ModelPriceBook:
    """Price lookups for many calls: loads the rows of the models asked for once, then answers in memory."""

    def __init__(self, keys: set[tuple[str, str]]) -> None:
        self.rows: dict[tuple[str, str], list[ModelPrice]] = defaultdict(list)
        if keys:
            providers = {provider for provider, _ in keys}
            for price in ModelPrice.objects.filter(provider__in=providers, model__in={m for _, m in keys}).order_by(
                "effective_from"
            ):
                self.rows[(price.provider, price.model)].append(price)

    def at(self, provider: str, model: str, moment: datetime) -> ModelPrice | None:
        rows = self.rows.get((provider, model), [])
        index = bisect_right([row.effective_from for row in rows], moment) - 1
        while index >= 0:
            row = rows[index]
            if row.effective_to is None or moment < row.effective_to:
                return row
            index -= 1
        return None


def call_cost_picousd(price: ModelPrice, *, input_tokens: int, output_tokens: int, cached_input_tokens: int) -> int:
    """Exact cost in pico-USD: tokens x USD per 1M tokens x 10^6 (prices have 6 decimals, so this is an integer).

    Cached input tokens are part of input_tokens and billed at the cached price when the model has one.
    """
    cached = min(cached_input_tokens, input_tokens)
    cached_price = price.cached_input_usd_per_mtok if price.cached_input_usd_per_mtok is not None else (
        price.input_usd_per_mtok)  # fmt: skip
    usd_times_million = (
        (input_tokens - cached) * price.input_usd_per_mtok
        + cached * cached_price
        + output_tokens * price.output_usd_per_mtok
    )
    return int(usd_times_million * (PICO // 1_000_000))
