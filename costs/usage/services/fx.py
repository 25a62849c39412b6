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


def currency_problem(currency: str) -> str:
    """Why `currency` cannot have a rate ('' when it can)."""
    if not CURRENCY_CODE.fullmatch(currency) or currency.upper() == "USD":
        return "a three-letter ISO 4217 code other than USD"
    return ""


def rate_problem(rate_per_usd: Decimal) -> str:
    """Why a rate cannot be stored ('' when it can): the bounds that every database reads back exactly."""
    if not rate_per_usd.is_finite() or rate_per_usd <= 0:
        return "must be a positive number"
    if rate_per_usd.as_tuple().exponent < -RATE_PLACES:  # type: ignore[operator]  # finite: an int
        return f"at most {RATE_PLACES} decimal places"
    if rate_per_usd > MAX_RATE:
        return f"at most {MAX_RATE:,}"
    return ""


@transaction.atomic
def fx_rate_set(*, currency: str, rate_per_usd: Decimal, as_of: date) -> tuple[FxRate, bool]:
    """Set the rate of `currency` (ISO 4217, not USD) from `as_of` on; True when it is new, False when replaced.

    The admin's form checks with the same currency_problem and rate_problem."""
    if currency_problem(currency):
        raise InputError(currency_problem(currency), field="currency", value=currency)
    if rate_problem(rate_per_usd):
        raise InputError(rate_problem(rate_per_usd), field="rate", value=str(rate_per_usd))
    return FxRate.objects.update_or_create(
        currency=currency.upper(), as_of=as_of, defaults={"rate_per_usd": rate_per_usd}
    )
