from django.db import models


class JobQuerySet(models.QuerySet):
    """Jobs: running() (started, not ended), overlapping(start, end) (held GPUs in [start, end))."""

    def running(self) -> "JobQuerySet":
        return self.filter(start_time__isnull=False, end_time__isnull=True)

    def overlapping(self, start, end) -> "JobQuerySet":
        """Jobs that held GPUs at some moment of [start, end) (aware datetimes): a running job until now."""
        return self.filter(start_time__lt=end).exclude(end_time__lte=start).exclude(start_time__isnull=True)
