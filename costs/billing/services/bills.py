"""Telling the domains above billing that the bill of some days changed.

The bill's allocation is stored on the usage rollups, which sit above billing: billing
cannot write them itself. Every writer of CostSnapshots (the FOCUS import, the admin,
the API) calls `bill_changed` inside its transaction, and the handlers that other
domains register (usage registers `allocation_refresh`, see costs.apps) bring what they
derive from the bill up to date, in the same transaction.
"""

from collections.abc import Callable, Iterable
from datetime import date

# Called with the UTC days whose bill changed, inside the writer's transaction.
BILL_HANDLERS: list[Callable[..., None]] = []


def bill_changed(*, days: Iterable[date | None]) -> None:
    """Run every registered handler for these days (None values, e.g. a day before creation, are left out)."""
    changed = {day for day in days if day is not None}
    if not changed:
        return
    for handler in BILL_HANDLERS:
        handler(days=changed)
