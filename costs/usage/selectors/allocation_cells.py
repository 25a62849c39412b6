"""The bill of each (day, provider, GPU type) cell allocated per team: what finance reconciles to the cent."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from costs.billing.allocation import SEPARATE
from costs.billing.models import CostSnapshot
from costs.billing.money import ZERO
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.spend import _validate


@dataclass
class AllocationCell:
    """One (day, provider, GPU type): the bill, per-team allocation and idle. USD, GPU-hours."""

    date: date
    provider: str
    gpu_type: str
    billed_usd: Decimal | None
    estimated_usd: Decimal
    gpu_hours: Decimal
    idle_usd: Decimal | None
    teams: list[dict] = field(default_factory=list)


def allocation_cells(
    *, start: date, end: date, idle: str = SEPARATE, team_ids: Collection[UUID] | None = None
) -> list[AllocationCell]:
    """The bill of each cell in [start, end), allocated per team. Two queries.

    sum(team allocated) + idle == billed for every billed cell; a cell with no
    bill has billed and idle None and allocates the estimates. With `team_ids`,
    only those teams' allocations are listed and bill and idle are None.
    """
    _validate(start, end, (), idle)
    allocated_field = "allocated_usd" if idle == SEPARATE else "allocated_shared_usd"
    idle_field = "idle_usd" if idle == SEPARATE else "idle_shared_usd"
    usage = UsageSnapshot.objects.between(start, end).for_teams(team_ids)
    teams_of: dict[tuple, list[dict]] = defaultdict(list)
    for row in usage.order_by("date", "provider", "gpu_type", "team__name").values(
        "date", "provider", "gpu_type", "team_id", "team__name", "gpu_hours", "estimated_cost_usd", allocated_field
    ):
        teams_of[(row["date"], row["provider"], row["gpu_type"])].append(
            {
                "team_id": row["team_id"],
                "team": row["team__name"],
                "gpu_hours": row["gpu_hours"],
                "estimated_usd": row["estimated_cost_usd"],
                "allocated_usd": row[allocated_field],
            }
        )
    bills = {}
    if team_ids is None:
        bills = {
            (bill["date"], bill["provider"], bill["gpu_type"]): bill
            for bill in CostSnapshot.objects.between(start, end).values(
                "date", "provider", "gpu_type", "cost_usd", idle_field
            )
        }
    cells = []
    for key in sorted(set(teams_of) | set(bills)):
        teams = teams_of.get(key, [])
        bill = bills.get(key)
        cells.append(
            AllocationCell(
                date=key[0],
                provider=key[1],
                gpu_type=key[2],
                billed_usd=bill["cost_usd"] if bill else None,
                estimated_usd=sum((t["estimated_usd"] for t in teams), ZERO),
                gpu_hours=sum((t["gpu_hours"] for t in teams), ZERO),
                idle_usd=bill[idle_field] if bill else None,
                teams=teams,
            )
        )
    return cells
