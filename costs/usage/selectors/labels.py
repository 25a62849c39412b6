"""Grouping spend by a cost label: `group_by=label:<key>` for the keys the rollup keeps (HELIOX_COST_LABELS).

Label rows (LabelUsageSnapshot) answer label:<key> with team, provider and GPU type; with
model_name too, the job slices are grouped instead (they carry the model, the label rows do not).
A range's whole months are read from the label rollup's month rows (LabelMonthSnapshot, their sums).
"""

from collections.abc import Collection, Sequence
from datetime import date
from uuid import UUID

from django.conf import settings
from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot, ModelUsageSnapshot, UsageSnapshot
from costs.usage.selectors.filters import NO_FILTER, SpendFilter
from heliox.dates import add_months, month_start
from jobs.labels import UNLABELLED

LABEL_PREFIX = "label:"
LABEL_VALUE = "label_value"  # the annotation that holds a label group's value
ROLLUP_FIGURES = {"gpu_hours": "gpu_hours", "unpriced_gpu_hours": "unpriced_gpu_hours",
                  "estimated_usd": "estimated_cost_usd", "allocated_usd": "allocated_usd",
                  "allocated_shared_usd": "allocated_shared_usd", "used_gpu_hours": "used_gpu_hours",
                  "unmeasured_gpu_hours": "unmeasured_gpu_hours", "measured_gpu_hours": "measured_gpu_hours",
                  "waste_usd": "waste_usd", "allocated_waste_usd": "allocated_waste_usd",
                  "allocated_shared_waste_usd": "allocated_shared_waste_usd"}  # fmt: skip
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
    *,
    start: date,
    end: date,
    group_by: Sequence[str],
    team_ids: Collection[UUID] | None,
    filters: SpendFilter = NO_FILTER,
) -> tuple[QuerySet, dict[str, str], list[str]]:
    """The rollup rows that hold these groups over [start, end), narrowed by `filters`, their names of the
    figures, and the dims to group. Figures are named as in spend rows (estimated_usd...) -> the column.

    The smallest table that has every dimension asked for (grouped or filtered): the team rollup, the model
    rollup, the label rollup (one key), else the job slices (a label with a model, or two label keys).
    """
    key = label_key(group_by)
    label = filters.label
    dims = [{"team": "team__name"}.get(name, LABEL_VALUE if name.startswith(LABEL_PREFIX) else name)
            for name in group_by]  # fmt: skip
    wants_model = "model_name" in group_by or filters.model is not None
    keys = {k for k in (key, label[0] if label else None) if k}
    if keys and (wants_model or len(keys) > 1):
        slices = JobDaySlice.objects.between(start, end).for_teams(team_ids).filter(filters.rollup_q())
        if key:
            slices = slices.annotate(**{LABEL_VALUE: job_label(key)})
        if label:
            slices = slices.annotate(label_filter=job_label(label[0])).filter(label_filter=label[1])
        return slices, SLICE_FIGURES, dims
    if keys:
        labels = LabelUsageSnapshot.objects.between(start, end).for_teams(team_ids).filter(key=keys.pop())
        if label:
            labels = labels.filter(value=label[1])
        return labels.filter(filters.rollup_q()).annotate(**{LABEL_VALUE: F("value")}), ROLLUP_FIGURES, dims
    model = ModelUsageSnapshot if wants_model else UsageSnapshot
    return model.objects.between(start, end).for_teams(team_ids).filter(filters.rollup_q()), ROLLUP_FIGURES, dims


def usage_parts(
    *,
    start: date,
    end: date,
    group_by: Sequence[str],
    team_ids: Collection[UUID] | None,
    monthly: bool,
    filters: SpendFilter = NO_FILTER,
) -> list[tuple[QuerySet, dict[str, str], list[str]]]:
    """usage_source's rows as parts whose sums add up to its own: by a label (without model_name, and no
    filter on a model or another label key) and with `monthly` (no step finer than a month), the whole months
    of [start, end) from the month rows and the days before and after them from the day rows; otherwise
    usage_source alone. A year is 12 months' rows."""
    whole = usage_source(start=start, end=end, group_by=group_by, team_ids=team_ids, filters=filters)
    key, names, dims = label_key(group_by), whole[1], whole[2]
    first = start if start.day == 1 else add_months(month_start(start), 1)
    last = month_start(end)
    same_key = filters.label is None or filters.label[0] == key
    if not (monthly and key and same_key and filters.model is None and "model_name" not in group_by and first < last):
        return [whole]
    months = LabelMonthSnapshot.objects.between(first, last).for_teams(team_ids).filter(key=key)
    if filters.label is not None:
        months = months.filter(value=filters.label[1])
    parts = [(months.filter(filters.rollup_q()).annotate(**{LABEL_VALUE: F("value")}), names, dims)]
    for part_start, part_end in ((start, first), (last, end)):
        if part_start < part_end:
            parts.append(usage_source(start=part_start, end=part_end, group_by=group_by, team_ids=team_ids,
                                      filters=filters))  # fmt: skip
    return parts


def label_key_parts(
    *, start: date, end: date, keys: Collection[str], team_ids: Collection[UUID]
) -> list[tuple[QuerySet, dict[str, str]]]:
    """The label rows of every key in `keys` over [start, end), as usage_parts reads one key's with no step finer
    than a month and no filter: the whole months from the month rows, the days before and after them (or the whole
    range, without a whole month) from the day rows, each part one query for all the keys. Rows keep `key`."""
    first = start if start.day == 1 else add_months(month_start(start), 1)
    last = month_start(end)
    days = LabelUsageSnapshot.objects.for_teams(team_ids).filter(key__in=keys)
    if first >= last:
        return [(days.between(start, end).annotate(**{LABEL_VALUE: F("value")}), ROLLUP_FIGURES)]
    months = LabelMonthSnapshot.objects.between(first, last).for_teams(team_ids).filter(key__in=keys)
    parts = [(months.annotate(**{LABEL_VALUE: F("value")}), ROLLUP_FIGURES)]
    edges = Q(date__gte=start, date__lt=first) | Q(date__gte=last, date__lt=end)
    if start < first or last < end:
        parts.append((days.filter(edges).annotate(**{LABEL_VALUE: F("value")}), ROLLUP_FIGURES))
    return parts
