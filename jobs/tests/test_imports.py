"""import_jobs on real Slurm accounting files and on Heliox CSV/JSON; all or nothing; idempotent."""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from costs.usage.models import UsageSnapshot
from jobs.models import ImportRecord, Job
from teams.models import Team
from teams.tests.factories import TeamFactory

FIXTURES = Path(__file__).parent / "fixtures"
PHILLIPS = FIXTURES / "phillips_sacct.log"
ACCOUNTING = FIXTURES / "accounting_sacct.log"
CSV_HEADER = "team,model_name,provider,gpu_type,gpu_count,region,pricing,start_time,end_time,status,external_id\n"


def run(*args):
    call_command("import_jobs", *map(str, args), "--no-progress", "--no-rollup")


def jobs():
    return list(
        Job.objects.order_by("external_id").values_list(
            "external_id", "team__name", "provider", "region", "gpu_type", "gpu_count", "status", "start_time",
            "end_time",
        )
    )  # fmt: skip


def test_phillips_sacct_imports_its_two_gpu_jobs(db, capsys):
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100")

    assert jobs() == [
        ("163485", "chaff", "on-prem", "phillips", "V100", 2, "cancelled",
         datetime(2016, 12, 22, 7, 15, 13, tzinfo=UTC), datetime(2017, 1, 1, 20, 42, 19, tzinfo=UTC)),
        ("196835", "chaff", "on-prem", "phillips", "V100", 2, "succeeded",
         datetime(2017, 1, 1, 21, 44, 50, tzinfo=UTC), datetime(2017, 1, 1, 21, 45, 7, tzinfo=UTC)),
    ]  # fmt: skip
    out = capsys.readouterr().out
    assert "4,285 rows read, 2 GPU jobs (2 new, 0 updated, 0 unchanged), 4,283 skipped (4,283 without GPUs)" in out
    assert "Created teams: chaff" in out
    assert Job.objects.get(external_id="196835").model_name.startswith("b24c9088")


def test_accounting_sacct_gpu_job_without_partition_and_unknown_eligible(db):
    run(ACCOUNTING, "--format", "sacct", "--gpu-type", "A100")

    assert jobs() == [
        ("5692623", "ccr", "on-prem", "ub-hpc", "A100", 2, "succeeded",
         datetime(2016, 8, 1, 7, 4, 9, tzinfo=UTC), datetime(2016, 8, 1, 7, 4, 9, tzinfo=UTC)),
    ]  # fmt: skip


def test_untyped_gpus_without_gpu_type_are_refused_naming_the_line(db):
    with pytest.raises(CommandError, match=r"accounting_sacct\.log, line 4, column alloctres: GPUs without a type"):
        run(ACCOUNTING, "--format", "sacct")
    assert Job.objects.count() == 0
    assert Team.objects.count() == 0


def test_typed_gres_gives_the_gpu_type_and_cluster_time_zone_is_honoured(db, tmp_path):
    line = ACCOUNTING.read_text().splitlines()[3].replace("gres/gpu=2", "gres/gpu:a100-80gb=4")
    path = tmp_path / "typed.log"
    path.write_text(line + "\n")

    run(path, "--format", "sacct", "--timezone", "America/New_York")

    job = Job.objects.get()
    assert (job.gpu_type, job.gpu_count) == ("A100-80GB", 4)
    assert job.start_time == datetime(2016, 8, 1, 11, 4, 9, tzinfo=UTC)


def test_importing_twice_leaves_the_database_unchanged(db, capsys):
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100")
    first = jobs()
    ids = sorted(Job.objects.values_list("id", flat=True))

    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100")

    assert jobs() == first
    assert sorted(Job.objects.values_list("id", flat=True)) == ids
    assert "imported before with the same options (same SHA-256)" in capsys.readouterr().out


def test_reimport_updates_a_running_job_to_its_final_state(db, tmp_path, capsys):
    lines = PHILLIPS.read_text().splitlines()
    gpu_line = next(line for line in lines if line.startswith("196835|"))
    running = gpu_line.replace("|2017-01-01T21:45:07|00:00:17|0:0|COMPLETED|", "|Unknown|00:00:17|0:0|RUNNING|")
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    first.write_text(running + "\n")
    second.write_text(gpu_line + "\n")

    run(first, "--format", "sacct", "--gpu-type", "V100")
    assert jobs()[0][6:] == ("running", datetime(2017, 1, 1, 21, 44, 50, tzinfo=UTC), None)
    run(second, "--format", "sacct", "--gpu-type", "V100")

    assert Job.objects.count() == 1
    assert jobs()[0][6] == "succeeded"
    assert "0 new, 1 updated, 0 unchanged" in capsys.readouterr().out


def test_a_bad_date_on_line_n_writes_nothing_and_names_line_n(db, tmp_path):
    lines = PHILLIPS.read_text().splitlines()
    fields = lines[2499].split("|")
    fields[12] = "2016-13-45T00:00:00"  # start
    lines[2499] = "|".join(fields)
    broken = tmp_path / "broken.log"
    broken.write_text("\n".join(lines) + "\n")
    gpu_line = next(i for i, line in enumerate(lines, 1) if "gres/gpu" in line.split("|")[22])
    assert gpu_line < 2500  # a GPU job before the bad line would have been written by a partial import

    with pytest.raises(CommandError, match=r"broken\.log, line 2500, column start: not an ISO 8601 date-time"):
        run(broken, "--format", "sacct", "--gpu-type", "V100")

    assert Job.objects.count() == 0
    assert Team.objects.count() == 0
    assert ImportRecord.objects.get().status == "failed"


def test_dry_run_writes_nothing(db, capsys):
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100", "--dry-run")

    assert Job.objects.count() == 0
    assert Team.objects.count() == 0
    out = capsys.readouterr().out
    assert "Would import phillips_sacct.log: 4,285 rows read, 2 GPU jobs (2 new" in out
    assert "Would create teams: chaff" in out


def test_no_create_teams_refuses_unknown_accounts(db):
    with pytest.raises(
        CommandError,
        match=r"line 1, column team: unknown team\(s\), not created .*: 'chaff' \(line 1\)\. Fix the names",
    ):
        run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100", "--no-create-teams")
    TeamFactory(name="chaff")
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100", "--no-create-teams")
    assert Job.objects.count() == 2


def test_csv_import_with_heliox_columns(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        CSV_HEADER
        + "nlp,llama-3-8b,aws,H100,8,us-east-1,spot,2025-03-10T08:00:00Z,2025-03-10T10:30:00Z,succeeded,run-1\n"
        + "nlp,llama-3-8b,gcp,a100,2,,,2025-03-10T09:00:00+02:00,,,run-2\n"
    )

    run(path, "--format", "csv")

    assert jobs() == [
        ("run-1", "nlp", "aws", "us-east-1", "H100", 8, "succeeded",
         datetime(2025, 3, 10, 8, tzinfo=UTC), datetime(2025, 3, 10, 10, 30, tzinfo=UTC)),
        ("run-2", "nlp", "gcp", "", "A100", 2, "running", datetime(2025, 3, 10, 7, tzinfo=UTC), None),
    ]  # fmt: skip
    assert Job.objects.get(external_id="run-1").pricing == "spot"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("nlp,m,aws,H100,0,,,2025-03-10T08:00:00Z,,,x", "line 2, column gpu_count: must be at least 1 (got '0')"),
        ("nlp,m,aws,H100,two,,,2025-03-10T08:00:00Z,,,x", "line 2, column gpu_count: not a whole number"),
        ("nlp,m,ibm,H100,1,,,2025-03-10T08:00:00Z,,,x", "line 2, column provider: must be one of"),
        ("nlp,m,aws,H100,1,,,10/03/2025,,,x", "line 2, column start_time: not an ISO 8601 date-time"),
        ("nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,2025-03-10T07:00:00Z,,x", "line 2, column end_time: end_time is "),
        ("nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,done,x", "line 2, column status: must be one of"),
        ("nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,", "line 2, column external_id: is required"),
        ("nlp,m,aws,H100,1," + "r" * 65 + ",,2025-03-10T08:00:00Z,,,x", "line 2, column region: longer than 64 "),
        ("nlp,m\x00,aws,H100,1,,,2025-03-10T08:00:00Z,,,x", "line 2, column model_name: contains a NUL character"),
        (
            "n\x1blp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,x",
            "line 2, column team: contains a control character (U+001B)",
        ),
        ("nlp,m,aws,H100,9999999999,,,2025-03-10T08:00:00Z,,,x", "line 2, column gpu_count: more than 2,147,483,647"),
    ],
)
def test_csv_errors_name_line_column_and_value(db, tmp_path, row, message):
    path = tmp_path / "jobs.csv"
    path.write_text(CSV_HEADER + row + "\n")
    with pytest.raises(CommandError, match=re.escape(message)):
        run(path, "--format", "csv")
    assert Job.objects.count() == 0


def test_csv_missing_a_required_column_is_refused(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("team,provider\nnlp,aws\n")
    with pytest.raises(CommandError, match=r"line 1: missing column.*gpu_type"):
        run(path, "--format", "csv")


def test_json_array_and_json_lines(db, tmp_path):
    job = {"team": "vision", "provider": "azure", "gpu_type": "A100-80GB", "gpu_count": 4,
           "start_time": "2025-03-10T08:00:00Z", "end_time": "2025-03-10T09:00:00Z", "external_id": "j-1",
           "metadata": {"experiment": "sweep-3"}}  # fmt: skip
    array, lines = tmp_path / "jobs.json", tmp_path / "jobs.jsonl"
    array.write_text(json.dumps([job]))
    lines.write_text(json.dumps({**job, "external_id": "j-2"}) + "\n")

    run(array, "--format", "json")
    run(lines, "--format", "json")

    assert sorted(Job.objects.values_list("external_id", "metadata")) == [
        ("j-1", {"experiment": "sweep-3"}),
        ("j-2", {"experiment": "sweep-3"}),
    ]


def test_json_bad_item_is_named(db, tmp_path):
    path = tmp_path / "jobs.json"
    good = {"team": "a", "provider": "aws", "gpu_type": "H100", "gpu_count": 1, "start_time": "2025-03-10T08:00:00Z",
            "external_id": "1"}  # fmt: skip
    path.write_text(json.dumps([good, {"team": "a"}]))
    with pytest.raises(CommandError, match="line 2, column provider: is required"):
        run(path, "--format", "json")
    assert Job.objects.count() == 0


def test_last_line_wins_for_a_key_repeated_in_one_file(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        CSV_HEADER
        + "nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,running,dup\n"
        + "nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,2025-03-10T09:00:00Z,failed,dup\n"
    )
    run(path, "--format", "csv")
    assert list(Job.objects.values_list("external_id", "status")) == [("dup", "failed")]


def test_import_rolls_up_the_days_it_touched(db, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_jobs", str(PHILLIPS), "--format", "sacct", "--gpu-type", "V100", "--no-progress")

    # 163485 holds 2 GPUs from 2016-12-22 07:15:13 to 2017-01-01 20:42:19, 196835 on 2017-01-01: 11 days.
    assert "Rolled up 11 day(s): [2016-12-22, 2017-01-02)." in capsys.readouterr().out
    days = sorted(UsageSnapshot.objects.values_list("date", flat=True))
    assert (days[0], days[-1], len(days)) == (date(2016, 12, 22), date(2017, 1, 1), 11)
    # 2016-12-22: 2 GPUs x (24:00 - 07:15:13) = 2 x 60,287 s = 120,574 s = 33.4928 GPU-h (rounded half-up)
    assert UsageSnapshot.objects.get(date=date(2016, 12, 22)).gpu_hours == Decimal("33.4928")


def test_csv_field_longer_than_the_csv_module_allows_is_named(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(CSV_HEADER + "nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,," + "x" * 200_000 + "\n")
    with pytest.raises(CommandError, match=r"line 2: not valid CSV \(a field longer than 131,072 characters\)"):
        run(path, "--format", "csv")
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [("external_id", {"a": 1}, '{"a": 1}'), ("team", ["nlp"], '["nlp"]'), ("model_name", True, "true")],
)
def test_json_values_that_are_no_text_are_refused_not_stored_as_python_text(db, tmp_path, field, value, shown):
    """An object as external_id was stored as the text "{'a': 1}" (Python's repr), a list as team created "['nlp']"."""
    job = {"team": "nlp", "provider": "aws", "gpu_type": "H100", "gpu_count": 1, "start_time": "2025-03-10T08:00:00Z",
           "external_id": 7, field: value}  # fmt: skip
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps([job]))
    with pytest.raises(CommandError) as error:
        run(path, "--format", "json")
    assert str(error.value) == f"{path}, line 1, column {field}: must be text or a number (got {shown!r})"
    assert (Job.objects.count(), Team.objects.count()) == (0, 0)


def test_json_numbers_are_read_as_their_text(db, tmp_path):
    job = {"team": "nlp", "provider": "aws", "gpu_type": "H100", "gpu_count": 2, "start_time": "2025-03-10T08:00:00Z",
           "external_id": 4242}  # fmt: skip
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps([job]))
    run(path, "--format", "json")
    assert list(Job.objects.values_list("external_id", "gpu_count")) == [("4242", 2)]
