"""Reads and aggregates of the costs app: the API, the dashboard and the commands all call these."""

from costs.selectors.spend import (
    GROUP_BY_FIELDS,
    INTERVALS,
    AllocationCell,
    SpendReport,
    allocation_cells,
    spend_summary,
    spend_timeseries,
    team_spend,
)

__all__ = [
    "GROUP_BY_FIELDS",
    "INTERVALS",
    "AllocationCell",
    "SpendReport",
    "allocation_cells",
    "spend_summary",
    "spend_timeseries",
    "team_spend",
]
