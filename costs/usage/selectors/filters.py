"""Narrowing spend to a provider, GPU type, model or cost label value: the dashboard's and member UI's filter bar.

Team scoping stays `team_ids` (the selectors' own argument). The bill is per (day, provider,
GPU type): narrowed by provider or GPU type it is still known; narrowed by model or label it
cannot be split, so bill and idle are left out (None), as for a team's view.
"""

from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db.models import Q

from jobs.labels import UNLABELLED

LABEL_SEPARATOR = "="


@dataclass(frozen=True)
class SpendFilter:
    """What spend is narrowed to; empty fields narrow nothing. `model` '' is the unnamed model."""

    provider: str = ""
    gpu_type: str = ""
    model: str | None = None
    label: tuple[str, str] | None = None  # (key, value), key one of HELIOX_COST_LABELS

    @property
    def splits_the_bill(self) -> bool:
        """True when the bill cannot be narrowed the same way (by model or label): bill and idle are unknown."""
        return self.model is not None or self.label is not None

    def hides_the_bill(self, team_ids: Collection[UUID] | None) -> bool:
        """True for a view whose bill and idle are not shown: a team's (team_ids) or one that splits the bill."""
        return team_ids is not None or self.splits_the_bill

    def rollup_q(self, *, model_field: str = "model_name") -> Q:
        """The provider, GPU type and model conditions on a rollup or slice table (not the label's)."""
        q = Q()
        if self.provider:
            q &= Q(provider=self.provider)
        if self.gpu_type:
            q &= Q(gpu_type=self.gpu_type)
        if self.model is not None:
            q &= Q(**{model_field: self.model})
        return q

    def jobs_q(self, team_ids: Collection[UUID] | None = None) -> Q:
        """The same narrowing on Job rows (the running-jobs card)."""
        q = self.rollup_q()
        if self.label is not None:
            key, value = self.label
            q &= ~Q(labels__has_key=key) if value == UNLABELLED else Q(**{f"labels__{key}": value})
        if team_ids is not None:
            q &= Q(team_id__in=team_ids)
        return q


NO_FILTER = SpendFilter()


def label_filter_parse(text: str) -> tuple[str, str]:
    """'project=alpha' -> ('project', 'alpha'); ValueError naming the problem (no '=', a key not rolled up)."""
    key, separator, value = text.partition(LABEL_SEPARATOR)
    key, value = key.strip(), value.strip()
    if not separator or not key or not value:
        raise ValueError(f"write a label filter as key=value (e.g. project=alpha), not {text!r}")
    if key not in settings.HELIOX_COST_LABELS:
        rolled_up = ", ".join(settings.HELIOX_COST_LABELS) or "none"
        raise ValueError(f"unknown label key {key!r}; the rolled-up keys are {rolled_up} (setting HELIOX_COST_LABELS)")
    return key, value
