"""Writing parsed job rows through the ORM (SQLite, and any database): batched upserts."""

from pathlib import Path

from heliox.errors import InputError
from jobs.models import Job
from jobs.services.changes import AffectedDays
from jobs.services.job_rows import JobImportCounts, JobRow
from teams.models import Team


class TeamResolver:
    """Team name -> id, creating teams on first sight unless told not to."""

    def __init__(self, path: Path, create: bool, counts: JobImportCounts) -> None:
        self.path, self.create, self.counts = str(path), create, counts
        self.ids = dict(Team.objects.values_list("name", "id"))

    def __call__(self, row: JobRow):
        if row.team not in self.ids:
            if not self.create:
                raise InputError(
                    "unknown team (--no-create-teams is set)", path=self.path, line=row.line, field="team",
                    value=row.team,
                )  # fmt: skip
            self.ids[row.team] = Team.objects.create(name=row.team).pk
            self.counts.teams_created.append(row.team)
        return self.ids[row.team]


UPDATE_FIELDS = ("team_id", "model_name", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
                 "status", "metadata", "labels")  # fmt: skip


def write_batch_portable(batch: list[JobRow], team_id, counts: JobImportCounts, days: AffectedDays) -> None:
    """Batched upsert through the ORM: compares with what is stored to count created/updated/unchanged.

    Adds to `days` the days each job covers now and, when its interval changes, covered before.
    """
    latest = {(row.provider, row.external_id): row for row in batch}  # last line wins
    existing: dict[tuple, dict] = {}
    for provider in {key[0] for key in latest}:
        ids = [key[1] for key in latest if key[0] == provider]
        for stored_job in Job.objects.filter(provider=provider, external_id__in=ids).values("provider", "external_id",
                                                                                     *UPDATE_FIELDS):  # fmt: skip
            existing[(stored_job["provider"], stored_job["external_id"])] = stored_job
    changed = []
    for key, row in latest.items():
        job = Job(team_id=team_id(row), **{name: getattr(row, name) for name in (
            "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
            "status", "external_id", "metadata", "labels")})  # fmt: skip
        stored = existing.get(key)
        if row.labels is None:  # the file has no labels: a job keeps the ones it has
            job.labels = stored["labels"] if stored is not None else {}
        days.add(row.start_time, row.end_time)
        if stored is not None and (stored["start_time"], stored["end_time"]) != (row.start_time, row.end_time):
            days.add(stored["start_time"], stored["end_time"])
        if stored is None:
            counts.created += 1
        elif all(stored[name] == getattr(job, name) for name in UPDATE_FIELDS):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        changed.append(job)
    if changed:
        Job.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["provider", "external_id"],
            update_fields=[*UPDATE_FIELDS, "updated_at"],
        )
