"""Writing parsed job rows through the ORM (SQLite, and any database): batched upserts."""

from pathlib import Path

from heliox.errors import InputError
from jobs.models import Job
from jobs.services.changes import AffectedDays
from jobs.services.job_rows import JobImportCounts, JobRow
from teams.models import Team


def missing_teams_error(path: str, missing: list[tuple[str, int]]) -> InputError:
    """The error naming every team a file names that does not exist (name, first line), when none may be created."""
    shown = ", ".join(f"{name!r} (line {line})" for name, line in missing[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    return InputError(
        f"unknown team(s), not created (creating teams is off): {shown}{more}. Fix the names, or allow "
        "creating missing teams (the upload's 'create missing teams'; import_jobs creates them unless "
        "--no-create-teams)",
        path=path, line=missing[0][1], field="team",
    )  # fmt: skip


def not_your_team_error(path: str, name: str, line: int) -> InputError:
    return InputError("not a team you manage: a manager imports jobs of their own teams only", path=path, line=line,
                      field="team", value=name)  # fmt: skip


def taken_external_id_error(path: str, external_id: str, line: int) -> InputError:
    """A manager's row whose (provider, external_id) is another team's job: importing it would move that job into
    the manager's team. Says nothing of the other job (its team, its figures), as the API's create does not."""
    message = "this provider already has a job with this external_id (external ids are unique per provider): "
    message += "use another"
    return InputError(message, path=path, line=line, field="external_id", value=external_id)


class TeamResolver:
    """Team name -> id, creating teams on first sight unless told not to.

    Without creation, an unknown team's rows are set aside (None) and `check()` then names
    every unknown team at once. `allowed`: the only team names rows may name (a manager's).
    """

    def __init__(self, path: Path, create: bool, counts: JobImportCounts, allowed: frozenset[str] | None = None):
        self.path, self.create, self.counts, self.allowed = str(path), create, counts, allowed
        self.ids = dict(Team.objects.values_list("name", "id"))
        self.allowed_ids = None if allowed is None else {self.ids[name] for name in allowed if name in self.ids}
        self.missing: dict[str, int] = {}  # unknown team -> first line

    def __call__(self, row: JobRow):
        if self.allowed is not None and row.team not in self.allowed:
            raise not_your_team_error(self.path, row.team, row.line)
        if row.team not in self.ids:
            if not self.create:
                self.missing.setdefault(row.team, row.line)
                return None
            self.ids[row.team] = Team.objects.create(name=row.team).pk
            self.counts.teams_created.append(row.team)
        return self.ids[row.team]

    def may_update(self, stored_team_id, row: JobRow) -> None:
        """Refuse a row that would update a job of a team the uploader does not manage."""
        if self.allowed_ids is not None and stored_team_id not in self.allowed_ids:
            raise taken_external_id_error(self.path, row.external_id, row.line)

    def check(self) -> None:
        """Refuse the file if it named a team that does not exist (and may not be created)."""
        if self.missing:
            raise missing_teams_error(self.path, list(self.missing.items()))


UPDATE_FIELDS = ("team_id", "model_name", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
                 "status", "metadata", "labels", "gpu_util_avg", "gpu_mem_peak_gib", "gpu_util_source")  # fmt: skip


def write_batch_portable(
    batch: list[JobRow], team_id: TeamResolver, counts: JobImportCounts, days: AffectedDays
) -> None:
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
        team = team_id(row)
        if team is None:  # an unknown team: the file is refused after the last batch
            continue
        job = Job(team_id=team, **{name: getattr(row, name) for name in (
            "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
            "status", "external_id", "metadata", "labels", "gpu_util_avg", "gpu_mem_peak_gib",
            "gpu_util_source")})  # fmt: skip
        stored = existing.get(key)
        if stored is not None:
            team_id.may_update(stored["team_id"], row)
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
