"""Storing the bill's allocation on the rollup rows and the idle part on the bill.

The allocation of a day depends only on that day's CostSnapshots and usage rollups,
so it is recomputed whenever either changes (rollup, billing import, an edit of a
CostSnapshot) and stored; aggregates over years then read sums, not recompute.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from costs.billing.allocation import SEPARATE, SHARE, allocate_cell, split_within
from costs.billing.models import CostSnapshot
from costs.billing.money import ZERO, to_cents
from costs.usage.models import ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.job_costs import create_job_table, drop_job_tables, job_slices_reallocate
from costs.usage.services.job_totals import job_totals_update


def allocation_apply(
    *, day: date, team_rows: list[UsageSnapshot], model_rows: list[ModelUsageSnapshot]
) -> list[CostSnapshot]:
    """Set allocated_usd / allocated_shared_usd and the allocated waste on the day's rows (in memory) and idle on
    its bills (saved).

    `team_rows` must be the whole day's team rollup and `model_rows` the whole
    day's model rollup. Returns the day's CostSnapshots.
    """
    bills = {(bill.provider, bill.gpu_type): bill for bill in CostSnapshot.objects.filter(date=day)}
    cells: dict[tuple[str, str], list[UsageSnapshot]] = defaultdict(list)
    for row in team_rows:
        cells[(row.provider, row.gpu_type)].append(row)
    models_of: dict[tuple, list[ModelUsageSnapshot]] = defaultdict(list)
    for child in model_rows:
        models_of[(child.team_id, child.provider, child.gpu_type)].append(child)

    for cell in sorted(set(cells) | set(bills)):
        rows = cells.get(cell, [])
        bill = bills.get(cell)
        billed = bill.cost_usd if bill else None
        estimates = {row.team_id: row.estimated_cost_usd for row in rows}
        hours = {row.team_id: row.gpu_hours for row in rows}
        for mode, field in ((SEPARATE, "allocated_usd"), (SHARE, "allocated_shared_usd")):
            result = allocate_cell(billed=billed, estimates=estimates, hours=hours, mode=mode)
            for row in rows:
                setattr(row, field, result.allocated[row.team_id])
                children = models_of[(row.team_id, row.provider, row.gpu_type)]
                by_cost = {child.pk: child.estimated_cost_usd for child in children}
                by_hours = {child.pk: child.gpu_hours for child in children}
                if billed is None:
                    shares = by_cost
                elif mode == SEPARATE:
                    shares = split_within(result.allocated[row.team_id], by_cost, by_hours)
                else:
                    shares = split_within(result.allocated[row.team_id], by_hours, by_cost)
                for child in children:
                    setattr(child, field, shares[child.pk])
            if bill:
                setattr(bill, "idle_usd" if mode == SEPARATE else "idle_shared_usd", result.idle)
    _allocated_waste(team_rows, models_of, billed_cells=set(bills))
    changed = list(bills.values())
    if changed:
        CostSnapshot.objects.bulk_update(changed, ["idle_usd", "idle_shared_usd"])
    return changed


def allocated_waste(row, billed: bool) -> tuple[Decimal, Decimal]:
    """A model row's allocated waste, idle kept apart and idle shared, from its stored figures (rounded once).

    Its slices share its allocation by estimate (kept apart; also shared with no bill) or by GPU-hours (shared,
    billed), so the sum over its measured slices of allocated x (1 - utilisation) is allocated x waste / estimate,
    or allocated x (measured - used) / all GPU-hours: exact, without the slices.
    """
    estimate, hours = row.estimated_cost_usd, row.gpu_hours
    apart = to_cents(row.allocated_usd * row.waste_usd / estimate) if estimate > 0 else ZERO
    if not billed:
        shared = to_cents(row.allocated_shared_usd * row.waste_usd / estimate) if estimate > 0 else ZERO
    else:
        idle = row.measured_gpu_hours - row.used_gpu_hours
        shared = to_cents(row.allocated_shared_usd * idle / hours) if hours > 0 else ZERO
    return apart, shared


def _allocated_waste(team_rows: list[UsageSnapshot], models_of: dict[tuple, list], billed_cells: set) -> None:
    """Set the allocated waste of the model rows, and of the team rows as their sums (so that they add up)."""
    for row in team_rows:
        row.allocated_waste_usd = row.allocated_shared_waste_usd = ZERO
        for child in models_of[(row.team_id, row.provider, row.gpu_type)]:
            apart, shared = allocated_waste(child, (child.provider, child.gpu_type) in billed_cells)
            child.allocated_waste_usd, child.allocated_shared_waste_usd = apart, shared
            row.allocated_waste_usd += apart
            row.allocated_shared_waste_usd += shared


def allocation_refresh(*, days: Iterable[date]) -> None:
    """Recompute and store the allocation of stored rollups for `days` (after the bill changed).

    The job slices, label rows and job totals of those days follow.
    """
    fields = ["allocated_usd", "allocated_shared_usd", "allocated_waste_usd", "allocated_shared_waste_usd"]
    now = timezone.now()
    with transaction.atomic():
        create_job_table()
        try:
            for day in sorted(set(days)):
                team_rows = list(UsageSnapshot.objects.filter(date=day))
                model_rows = list(ModelUsageSnapshot.objects.filter(date=day))
                allocation_apply(day=day, team_rows=team_rows, model_rows=model_rows)
                UsageSnapshot.objects.bulk_update(team_rows, fields, batch_size=1000)
                ModelUsageSnapshot.objects.bulk_update(model_rows, fields, batch_size=1000)
                job_slices_reallocate(day=day, now=now)
            job_totals_update()
        finally:
            drop_job_tables()
