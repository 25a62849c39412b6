"""How much of a range the bill covers: the days with GPU usage of a provider whose bill has not arrived.

Within a range where a provider's bill exists for some days only, its billed figure is the
billed days' and its allocated figure is the estimate on the others (allocation without a bill),
so allocated + idle is not the bill. The dashboard says so, per provider, rather than let the
missing days read as $0 of bill.
"""

from datetime import date

from django.db.models import Exists, OuterRef

from costs.billing.models import CostSnapshot
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.filters import NO_FILTER, SpendFilter


def unbilled_days(*, start: date, end: date, filters: SpendFilter = NO_FILTER) -> dict[str, dict]:
    """{provider: {"days": days of [start, end) with usage and no bill, "of": days with usage, "first": the first
    such day}} for the providers that have a bill on some day of their usage in the range and miss it on others (a
    provider never billed then, e.g. on-prem, is simply "no bill"). A day counts as unbilled when a GPU type used
    that day has no bill for it. One query; at most (providers x days x 2) rows."""
    usage = UsageSnapshot.objects.filter(date__gte=start, date__lt=end).filter(filters.rollup_q())
    bill = CostSnapshot.objects.filter(date=OuterRef("date"), provider=OuterRef("provider"),
                                       gpu_type=OuterRef("gpu_type"))  # fmt: skip
    days = usage.annotate(has_bill=Exists(bill)).values_list("provider", "date", "has_bill").distinct()
    used: dict[str, set] = {}
    missing: dict[str, set] = {}
    billed: set[str] = set()
    for provider, day, has_bill in days:
        used.setdefault(provider, set()).add(day)
        if has_bill:
            billed.add(provider)
        else:
            missing.setdefault(provider, set()).add(day)
    return {provider: {"days": len(missing[provider]), "of": len(used[provider]), "first": min(missing[provider])}
            for provider in sorted(missing) if provider in billed}  # fmt: skip
