import argparse
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from costs.usage.services.fx import CURRENCY_CODE, fx_rate_set
from heliox.commands import HelioxCommand, iso_date, user_errors


def currency(value: str) -> str:
    if not CURRENCY_CODE.fullmatch(value) or value.upper() == "USD":
        raise argparse.ArgumentTypeError(f"a three-letter ISO 4217 code other than USD, got {value!r}")
    return value.upper()


def rate(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value!r}")
    return number


class Command(HelioxCommand):
    help = "Set how many units of a currency one USD buys from a day on (reports convert at each day's rate)."

    def add_arguments(self, parser):
        parser.add_argument("currency", type=currency, help="ISO 4217 code, e.g. ZAR.")
        parser.add_argument("rate", type=rate, help="Units of the currency per USD, e.g. 18.20.")
        parser.add_argument("--date", type=iso_date, help="First day it applies (default: today, UTC).")

    def handle(self, *args, currency, rate, date, **options):
        as_of = date or timezone.now().date()
        with user_errors():
            _, created = fx_rate_set(currency=currency, rate_per_usd=rate, as_of=as_of)
        self.say(self.style.SUCCESS(
            f"{'Set' if created else 'Updated'}: 1 USD = {rate} {currency} from {as_of}."
        ))  # fmt: skip
