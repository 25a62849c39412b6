"""Two runs of the same file at once: the second waits for the first and is a no-op (PostgreSQL)."""

import threading
import time

import pytest

from heliox.testing import run_concurrently
from jobs.models import ImportRecord, Job
from jobs.services import write_postgres
from jobs.services.imports import JobImportOptions, jobs_import
from teams.models import Team
from teams.tests.factories import TeamFactory

CSV = (
    "team,model_name,provider,gpu_type,gpu_count,region,pricing,start_time,end_time,status,external_id\n"
    "new-team,llama,aws,H100,8,us-east-1,on_demand,2025-03-10T08:00:00Z,2025-03-10T10:00:00Z,succeeded,run-1\n"
    "new-team,llama,aws,H100,8,us-east-1,on_demand,2025-03-10T09:00:00Z,2025-03-10T10:00:00Z,succeeded,run-2\n"
)


def _import_twice_at_once(path, monkeypatch, second_path=None) -> list[Exception]:
    """Run A creates the file's teams and dawdles in its transaction; run B starts meanwhile."""
    inside = threading.Event()
    first = threading.Lock()
    original = write_postgres._create_teams_postgres

    def slow_teams(*args, **kwargs):
        original(*args, **kwargs)
        if first.acquire(blocking=False):  # only run A dawdles
            inside.set()
            time.sleep(1.5)

    monkeypatch.setattr(write_postgres, "_create_teams_postgres", slow_teams)
    starts = iter(["A", "B"])
    order = threading.Lock()

    def work():
        with order:
            run = next(starts)
        if run == "B":
            inside.wait(timeout=30)
        run_path = second_path if run == "B" and second_path else path
        jobs_import(path=run_path, options=JobImportOptions(fmt="csv"), run_by=f"run-{run}")

    return run_concurrently(work, threads=2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("team_exists", [False, True], ids=["creates-the-team", "team-exists"])
def test_the_same_file_imported_twice_at_once_is_imported_once(postgres_only, tmp_path, monkeypatch, team_exists):
    if team_exists:
        TeamFactory(name="new-team")
    path = tmp_path / "jobs.csv"
    path.write_text(CSV)

    errors = _import_twice_at_once(path, monkeypatch)

    assert errors == []
    records = list(ImportRecord.objects.order_by("created_at").values_list("run_by", "status"))
    assert records == [("run-A", "succeeded"), ("run-B", "duplicate")]
    duplicate = ImportRecord.objects.get(status="duplicate")
    assert duplicate.totals == {"duplicate_of": str(ImportRecord.objects.get(status="succeeded").pk)}
    assert Team.objects.filter(name="new-team").count() == 1
    assert sorted(Job.objects.values_list("external_id", flat=True)) == ["run-1", "run-2"]


@pytest.mark.django_db(transaction=True)
def test_two_files_that_create_one_new_team_at_once_fail_clearly_and_are_logged(postgres_only, tmp_path, monkeypatch):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(CSV)
    second.write_text(CSV.replace("run-2", "run-3"))

    errors = _import_twice_at_once(first, monkeypatch, second_path=second)

    assert [str(error) for error in errors] == [
        f"{second}: another import wrote the same rows at the same time and this one was rolled back; run it again"
    ]
    records = list(ImportRecord.objects.order_by("created_at").values_list("run_by", "file_name", "status", "error"))
    assert records == [("run-A", "a.csv", "succeeded", ""), ("run-B", "b.csv", "failed", str(errors[0]))]
    assert sorted(Job.objects.values_list("external_id", flat=True)) == ["run-1", "run-2"]
    # Run again, it imports.
    jobs_import(path=second, options=JobImportOptions(fmt="csv"))
    assert sorted(Job.objects.values_list("external_id", flat=True)) == ["run-1", "run-2", "run-3"]
