"""Merging effective-dated prices (GPU-hour and token prices alike) into the catalog, never rewriting history."""

from collections import defaultdict
from datetime import datetime

from django.utils import timezone

from costs.catalog.models import PriceRefresh
from heliox.errors import InputError


def apply_effective_dated(
    *,
    model,
    key_fields: tuple[str, ...],
    value_fields: tuple[str, ...],
    rows: list,
    now: datetime,
    path: str,
    result: PriceRefresh,
) -> None:
    """Merge effective-dated price rows into `model`, never rewriting history.

    Each row has `key` (values of `key_fields`), the `value_fields`, `effective_from`
    (None: `now`), `source` and `line`. Same key and start: a changed value is a
    correction in place. A later start with a changed value closes the open row there
    and opens a new one; an unchanged value changes nothing. An earlier start than
    the current row is refused.
    """
    seen: set[tuple] = set()
    opened, closed = [], []
    existing: dict[tuple, list] = defaultdict(list)
    for price in model.objects.select_for_update().order_by("effective_from"):
        existing[tuple(getattr(price, f) for f in key_fields)].append(price)
    for row in sorted(rows, key=lambda r: (r.key, r.effective_from or now)):
        start = row.effective_from or now
        if (row.key, start) in seen:
            raise InputError(
                f"duplicate price: {' / '.join(filter(None, row.key))} again, with the same effective_from",
                path=path, line=row.line, key=getattr(row, "entry", ""),
            )  # fmt: skip
        seen.add((row.key, start))
        values = {f: getattr(row, f) for f in value_fields}
        history = existing[row.key]
        if _correct_in_place(history, start, values, row, result):
            continue
        _refuse_earlier(history, start, row, path)
        latest = history[-1] if history else None
        if latest and latest.effective_to is None:
            if all(getattr(latest, f) == v for f, v in values.items()):
                continue  # unchanged: the open row stays
            latest.effective_to = start
            if not latest._state.adding:  # a row opened earlier in this file is inserted closed
                latest.updated_at = timezone.now()
                closed.append(latest)
            result.prices_closed += 1
        created = model(
            **dict(zip(key_fields, row.key, strict=True)), **values, effective_from=start, source=row.source
        )
        history.append(created)
        opened.append(created)
        result.prices_opened += 1
    # One statement per thousand rows rather than one per row: LiteLLM's file opens 3,857 prices.
    model.objects.bulk_update(closed, ["effective_to", "updated_at"], batch_size=1000)
    model.objects.bulk_create(opened, batch_size=1000)


def _correct_in_place(history: list, start: datetime, values: dict, row, result: PriceRefresh) -> bool:
    """A row with the same start as a stored one corrects it (when its values differ); True when it had one."""
    same_start = next((price for price in history if price.effective_from == start), None)
    if same_start is None:
        return False
    if any(getattr(same_start, f) != v for f, v in values.items()):
        for field_name, value in values.items():
            setattr(same_start, field_name, value)
        same_start.source = row.source
        same_start.save(update_fields=[*values, "source", "updated_at"])
        result.prices_corrected += 1
    return True


def _refuse_earlier(history: list, start: datetime, row, path: str) -> None:
    latest = history[-1] if history else None
    if latest and start < latest.effective_from:
        raise InputError(
            f"price starts {start:%Y-%m-%d %H:%M} UTC, before the catalog's current price for "
            f"{' / '.join(filter(None, row.key))} (from {latest.effective_from:%Y-%m-%d %H:%M} UTC): "
            "history is never rewritten",
            path=path,
            line=row.line,
            key=getattr(row, "entry", ""),
            field="effective_from",
        )
