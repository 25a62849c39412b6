"""Helpers shared by the management commands of every app."""

import argparse
import sys
from contextlib import contextmanager
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from heliox.audit import running_command
from heliox.errors import InputError


class HelioxCommand(BaseCommand):
    """A Heliox command. At `--verbosity 0` it prints only what it was asked to produce (a report's rows, a
    token, a password it generated) and its errors: summaries and notes go through `say`, shown from 1 on."""

    verbosity = 1

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        # The audit trail names the command as the author of what it changes (heliox.audit).
        token = running_command.set(self.__module__.rsplit(".", 1)[-1])
        try:
            return super().execute(*args, **options)
        finally:
            running_command.reset(token)

    def say(self, message: str) -> None:
        """A summary, a note or a warning: not at --verbosity 0."""
        if self.verbosity >= 1:
            self.stdout.write(message)


def iso_date(value: str) -> date:
    """argparse type for ISO dates (YYYY-MM-DD), with a message that names the value."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


FIRST_CALENDAR_DAY, LAST_CALENDAR_DAY = date(1900, 1, 1), date(9998, 12, 31)  # as the API's ranges


def calendar_day(value: str) -> date:
    """iso_date for a day a command reaches past (a period's end, a run-rate window): the years 1900 to 9998,
    as the API's ranges, so that no date arithmetic leaves the calendar with a traceback."""
    day = iso_date(value)
    if not FIRST_CALENDAR_DAY <= day <= LAST_CALENDAR_DAY:
        raise argparse.ArgumentTypeError(f"must be a day of the years 1900 to 9998 (YYYY-MM-DD), got {value!r}")
    return day


def progress_bar(*, total: int | None, desc: str, unit: str, enabled: bool = True) -> tqdm:
    """A progress bar on stderr; silent when disabled or when stderr is not a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled or not sys.stderr.isatty())


@contextmanager
def user_errors():
    """Turn a service's InputError or ValueError into a CommandError: a message and exit 1, no traceback."""
    try:
        yield
    except (InputError, ValueError) as error:
        raise CommandError(str(error)) from error


def counts_listed(counts: dict[str, int], *, verbosity: int, limit: int = 12) -> str:
    """'label: n; label: n' with the largest counts first; past `limit` labels only at verbosity 2 or more."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ordered if verbosity >= 2 else ordered[:limit]
    text = "; ".join(f"{label}: {count}" for label, count in shown)
    if len(shown) < len(ordered):
        text += f"; and {len(ordered) - len(shown)} more (-v 2 lists them all)"
    return text
