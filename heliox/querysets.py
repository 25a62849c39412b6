"""Chainable filters that tables of several apps share."""

from collections.abc import Collection
from datetime import date
from typing import Self

from django.db import models


class DailyQuerySet(models.QuerySet):
    """Rows of one UTC day each (a `date` column), maybe of a team (a `team` foreign key)."""

    def between(self, start: date, end: date) -> Self:
        """The days [start, end)."""
        return self.filter(date__gte=start, date__lt=end)

    def for_teams(self, team_ids: Collection | None) -> Self:
        """These teams' rows; every team's when `team_ids` is None (the organisation's view)."""
        return self if team_ids is None else self.filter(team_id__in=team_ids)
