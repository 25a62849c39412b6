"""Reads about jobs that the API and the admin share."""

from jobs.models import Job


def external_id_taken(*, provider: str, external_id: str | None, exclude_pk=None) -> bool:
    """Whether another job holds (provider, external_id); an empty id never clashes."""
    if not external_id:
        return False
    return Job.objects.filter(provider=provider, external_id=external_id).exclude(pk=exclude_pk).exists()
