"""Writing exchange rates: how many units of a currency one USD buys from a day on."""

import re
from datetime import date
from decimal import Decimal

from django.db import transaction

from costs.usage.models import FxRate
from heliox.errors import InputError

CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")
RATE_PLACES = 8
MAX_RATE = Decimal(1_000_000_000)  # under the column's 10^10, with room for SQLite's float to round into


@transaction.atomic
def fx_rate_set(*, currency: str, rate_per_usd: Decimal, as_of: date) -> tuple[FxRate, bool]:
    """Set the rate of `currency` (ISO 4217, not USD) from `as_of` on; True when it is new, False when replaced."""
    if not CURRENCY_CODE.fullmatch(currency) or currency.upper() == "USD":
        raise InputError("a three-letter ISO 4217 code other than USD", field="currency", value=currency)
    if not rate_per_usd.is_finite() or rate_per_usd <= 0:
        raise InputError("must be a positive number", field="rate", value=str(rate_per_usd))
    if rate_per_usd.as_tuple().exponent < -RATE_PLACES:  # type: ignore[operator]  # finite: an int
        raise InputError(f"at most {RATE_PLACES} decimal places", field="rate", value=str(rate_per_usd))
    if rate_per_usd > MAX_RATE:
        raise InputError(f"at most {MAX_RATE:,}", field="rate", value=str(rate_per_usd))
    return FxRate.objects.update_or_create(
        currency=currency.upper(), as_of=as_of, defaults={"rate_per_usd": rate_per_usd}
    )
