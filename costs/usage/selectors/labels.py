"""Grouping spend by a cost label: `group_by=label:<key>` for the keys the rollup keeps (HELIOX_COST_LABELS).

Label rows (LabelUsageSnapshot) answer label:<key> with team, provider and GPU type; with
model_name too, the job slices are grouped instead (they carry the model, the label rows do not).
A range's whole months are read from the label rollup's month rows (LabelMonthSnapshot, their sums).
"""

from collections.abc import Collection, Sequence
from datetime import date
from uuid import UUID

from django.conf import settings
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot, ModelUsageSnapshot, UsageSnapshot
from heliox.dates import add_months, month_start
from jobs.labels import UNLABELLED

LABEL_PREFIX = "label:"
LABEL_VALUE = "label_value"  # the annotation that holds a label group's value
ROLLUP_FIGURES = {"gpu_hours": "gpu_hours", "unpriced_gpu_hours": "unpriced_gpu_hours",
                  "estimated_usd": "estimated_cost_usd", "allocated_usd": "allocated_usd",
                  "allocated_shared_usd": "allocated_shared_usd", "used_gpu_hours": "used_gpu_hours",
                  "unmeasured_gpu_hours": "unmeasured_gpu_hours", "measured_gpu_hours": "measured_gpu_hours",
                  "waste_usd": "waste_usd"}  # fmt: skip
SLICE_FIGURES = {name: name for name in ROLLUP_FIGURES}


def label_key(names: Sequence[str]) -> str | None:
    """The label key of a group_by list (label:project -> project), None when it groups by no label."""
    keys = [name[len(LABEL_PREFIX) :] for name in names if name.startswith(LABEL_PREFIX)]
    return keys[0] if keys else None


def label_group_problem(names: Sequence[str]) -> str:
    """Why the label part of a group_by list is refused ('' when it is fine)."""
    keys = [name[len(LABEL_PREFIX) :] for name in names if name.startswith(LABEL_PREFIX)]
    rolled_up = ", ".join(settings.HELIOX_COST_LABELS) or "none"
    unknown = [key for key in keys if key not in settings.HELIOX_COST_LABELS]
    if unknown:
        return (f"unknown label key {unknown[0]!r} in group_by {LABEL_PREFIX}{unknown[0]}; the rolled-up keys are "
                f"{rolled_up} (setting HELIOX_COST_LABELS)")  # fmt: skip
    if len(set(keys)) > 1:
        return "group_by takes one label key at a time"
    return ""


def job_label(key: str, labels: str = "job__labels") -> Coalesce:
    """A job's value of the label `key` in SQL, "(unlabelled)" when it has none: what the label rollup counts."""
    return Coalesce(KeyTextTransform(key, labels), Value(UNLABELLED), output_field=CharField())


def usage_source(
    *, start: date, end: date, group_by: Sequence[str], team_ids: Collection[UUID] | None
) -> tuple[QuerySet, dict[str, str], list[str]]:
    """The rollup rows that hold these groups over [start, end), their names of the figures, and the dims to group.

    Figures are named as in spend rows (estimated_usd...) -> the column that holds them.
    """
    key = label_key(group_by)
    dims = [{"team": "team__name"}.get(name, LABEL_VALUE if name.startswith(LABEL_PREFIX) else name)
            for name in group_by]  # fmt: skip
    if key and "model_name" in group_by:
        slices = JobDaySlice.objects.between(start, end).for_teams(team_ids).annotate(**{LABEL_VALUE: job_label(key)})
        return slices, SLICE_FIGURES, dims
    if key:
        labels = LabelUsageSnapshot.objects.between(start, end).for_teams(team_ids).filter(key=key)
        return labels.annotate(**{LABEL_VALUE: F("value")}), ROLLUP_FIGURES, dims
    model = ModelUsageSnapshot if "model_name" in group_by else UsageSnapshot
    return model.objects.between(start, end).for_teams(team_ids), ROLLUP_FIGURES, dims


def usage_parts(
    *, start: date, end: date, group_by: Sequence[str], team_ids: Collection[UUID] | None, monthly: bool
) -> list[tuple[QuerySet, dict[str, str], list[str]]]:
    """usage_source's rows as parts whose sums add up to its own: by a label (without model_name) and with
    `monthly` (no step finer than a month), the whole months of [start, end) from the month rows and the days
    before and after them from the day rows; otherwise usage_source alone. A year is 12 months' rows."""
    whole = usage_source(start=start, end=end, group_by=group_by, team_ids=team_ids)
    key, names, dims = label_key(group_by), whole[1], whole[2]
    first = start if start.day == 1 else add_months(month_start(start), 1)
    last = month_start(end)
    if not (monthly and key and "model_name" not in group_by and first < last):
        return [whole]
    months = LabelMonthSnapshot.objects.between(first, last).for_teams(team_ids).filter(key=key)
    parts = [(months.annotate(**{LABEL_VALUE: F("value")}), names, dims)]
    for part_start, part_end in ((start, first), (last, end)):
        if part_start < part_end:
            parts.append(usage_source(start=part_start, end=part_end, group_by=group_by, team_ids=team_ids))
    return parts
