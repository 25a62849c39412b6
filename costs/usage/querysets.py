from heliox.querysets import DailyQuerySet


class UsageQuerySet(DailyQuerySet):
    """The daily rollups (team and model level): between(start, end), for_teams(ids), unpriced()."""

    def unpriced(self) -> "UsageQuerySet":
        """Rows with GPU-hours that had no catalog price."""
        return self.filter(unpriced_job_count__gt=0)
