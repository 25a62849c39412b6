from django.db import models


class JobQuerySet(models.QuerySet):
    """Jobs: running() (started, not ended)."""

    def running(self) -> "JobQuerySet":
        return self.filter(start_time__isnull=False, end_time__isnull=True)
