"""Slurm sacct as sites write it: GRES spellings, several GPU types, '|' in names, arrays, states, options."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jobs.gpus import gpu_type_name, parse_gpu_map, unknown_gpu_type_name
from jobs.models import ImportRecord, Job
from jobs.services.sacct import gres_gpus

FIXTURES = Path(__file__).parent / "fixtures"
XDMOD = FIXTURES / "xdmod"
PHILLIPS = FIXTURES / "phillips_sacct.log"
# Job 196835 of the real phillips file: billing=12,cpu=12,gres/gpu=2,mem=31000M,node=1, 2017-01-01 21:44:50-21:45:07.
REAL_LINE = next(line for line in PHILLIPS.read_text().splitlines() if line.startswith("196835|"))
REAL_TRES = dict(json.loads((XDMOD / "alloc-tres-gpu-count.json").read_text()))  # Open XDMoD's AllocTRES samples


def run(*args):
    call_command("import_jobs", *map(str, args), "--no-progress", "--no-rollup")


def with_fields(line: str, **values) -> str:
    """A real sacct line with some of its 26 fields replaced (jobid, start, end, state, alloctres, jobname)."""
    index = {"jobid": 0, "account": 5, "start": 12, "end": 13, "state": 16, "alloctres": 22, "jobname": 25}
    fields = line.split("|", 25)
    for name, value in values.items():
        fields[index[name]] = value
    return "|".join(fields)


def write(tmp_path, *lines, name="sacct.log") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def jobs():
    return list(Job.objects.order_by("external_id").values_list("external_id", "gpu_type", "gpu_count"))


# --- item 7: NVML and site spellings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("a100_80", "A100-80GB"),
        ("nvidia_a100-sxm4-80gb", "A100-80GB"),
        ("nvidia_a100_80gb_pcie", "A100-80GB"),
        ("nvidia_a100-pcie-40gb", "A100"),
        ("nvidia_rtx_a6000", "A6000"),
        ("nvidia_h200", "H200"),
        ("nvidia_h100_80gb_hbm3", "H100"),
        ("tesla_v100-sxm2-16gb", "V100"),
        ("tesla_t4", "T4"),
        ("l40s", "L40S"),
        ("A100-80GB", "A100-80GB"),
        ("p100", None),
        ("tesla", None),
        ("volta", None),
    ],
)
def test_gres_spellings_map_to_the_catalog_names(spelling, name):
    assert gpu_type_name(spelling) == name


def test_unknown_types_keep_a_name_of_their_own():
    assert [unknown_gpu_type_name(s) for s in ("p100", "tesla", "nvidia_gh200_480gb", "nvidia_geforce_rtx_3090")] == [
        "P100",
        "TESLA",
        "GH200-480GB",
        "GEFORCE-RTX-3090",
    ]


def test_nvml_style_gres_names_import_as_catalog_types(db, tmp_path):
    spellings = ["a100_80", "nvidia_a100-sxm4-80gb", "nvidia_a100_80gb_pcie", "nvidia_rtx_a6000", "nvidia_h200",
                 "tesla_v100-sxm2-16gb"]  # fmt: skip
    lines = [
        with_fields(REAL_LINE, jobid=str(900 + n), alloctres=f"billing=12,cpu=12,gres/gpu:{s}=2,mem=31000M,node=1")
        for n, s in enumerate(spellings)
    ]

    run(write(tmp_path, *lines), "--format", "sacct")

    assert jobs() == [("900", "A100-80GB", 2), ("901", "A100-80GB", 2), ("902", "A100-80GB", 2), ("903", "A6000", 2),
                      ("904", "H200", 2), ("905", "V100", 2)]  # fmt: skip


def test_an_unknown_type_is_kept_unpriced_and_reported_not_refused(db, tmp_path, capsys):
    from costs.usage.models import UsageSnapshot
    from costs.usage.services.rollup import usage_rollup

    p100, tesla = "billing=1,cpu=1,gres/gpu:p100=1,mem=125G,node=1", "billing=1,cpu=1,gres/gpu:tesla=4"
    assert (REAL_TRES[p100], REAL_TRES[tesla]) == (1, 4)  # Open XDMoD's own samples
    path = write(tmp_path, with_fields(REAL_LINE, jobid="1", alloctres=p100),
                 with_fields(REAL_LINE, jobid="2", alloctres=tesla))  # fmt: skip

    run(path, "--format", "sacct")

    assert jobs() == [("1", "P100", 1), ("2", "TESLA", 4)]
    out = capsys.readouterr().out
    assert (
        "GPU types not in Heliox's table, kept as their own type and unpriced unless the catalog has them: "
        "P100 (1 row(s)), TESLA (1 row(s))."
    ) in out
    usage_rollup(start=date(2017, 1, 1), end=date(2017, 1, 2))
    # 21:44:50 to 21:45:07 = 17 s: P100 1 x 17 s = 0.0047 GPU-h; no price, so unpriced, never $0.
    row = UsageSnapshot.objects.get(gpu_type="P100")
    assert (row.gpu_hours, row.unpriced_gpu_hours, row.unpriced_job_count) == (
        Decimal("0.0047"), Decimal("0.0047"), 1)  # fmt: skip


def test_gpu_map_option_and_setting_name_a_sites_types(db, tmp_path, settings):
    volta = with_fields(REAL_LINE, jobid="1", alloctres="gres/gpu:volta=2,mem=125G,node=1")  # real XDMoD TRES
    big = with_fields(REAL_LINE, jobid="2", alloctres="billing=12,cpu=12,gres/gpu:a100_80=1,mem=31000M,node=1")
    settings.GPU_TYPE_MAP = parse_gpu_map("volta=V100")

    run(write(tmp_path, volta, big), "--format", "sacct", "--gpu-map", "a100_80=A100-80GB")

    assert jobs() == [("1", "V100", 2), ("2", "A100-80GB", 1)]


def test_a_bad_gpu_map_is_refused_naming_the_option(db, tmp_path):
    with pytest.raises(CommandError, match=r"--gpu-map.*expected NAME=GPU_TYPE, got 'a100_80'"):
        run(write(tmp_path, REAL_LINE), "--format", "sacct", "--gpu-map", "a100_80")


def test_conflicting_gpu_map_entries_are_refused_naming_both(db, tmp_path):
    path = write(tmp_path, REAL_LINE)
    with pytest.raises(CommandError, match=r"--gpu-map: conflicting entries for 'BIG': big=H100 and BIG=A100$"):
        run(path, "--format", "sacct", "--gpu-map", "big=H100", "--gpu-map", "BIG=A100")  # two options
    with pytest.raises(CommandError, match=r"conflicting entries for 'big': big=H100 and big=A100"):
        run(path, "--format", "sacct", "--gpu-map", "big=H100,big=A100")  # one option
    run(path, "--format", "sacct", "--gpu-type", "V100", "--gpu-map", "big=H100", "--gpu-map", "big=H100")  # same: fine
    with pytest.raises(ValueError, match=r"conflicting entries for 'volta': volta=V100 and volta=A100"):
        parse_gpu_map("volta=V100, volta=A100")  # the GPU_TYPE_MAP setting


# --- item 8: generic and typed counts, several types ----------------------------------------------------------


def test_gres_reads_typed_entries_and_the_generic_rest():
    assert gres_gpus("billing=1,gres/gpu=1,gres/gpu:nvidia_h200=1") == gres_gpus("gres/gpu:nvidia_h200=1")
    assert gres_gpus("gres/gpu=2,gres/gpu:a100=1,gres/gpu:v100=1").typed == (("a100", 1), ("v100", 1))
    assert gres_gpus("gres/gpu=4,gres/gpu:a100=2").untyped == 2
    assert gres_gpus("gres/gpumem=80G,cpu=2") == gres_gpus("")  # gpumem is no GPU


def test_a_generic_count_before_the_typed_one_takes_the_typed_type(db, tmp_path):
    line = with_fields(REAL_LINE, alloctres="billing=12,cpu=12,gres/gpu=1,gres/gpu:nvidia_h200=1,mem=31000M,node=1")

    run(write(tmp_path, line), "--format", "sacct", "--gpu-type", "A100")

    assert jobs() == [("196835", "H200", 1)]


def test_a_job_with_two_gpu_types_becomes_one_job_per_type(db, tmp_path):
    line = with_fields(REAL_LINE, alloctres="billing=12,cpu=12,gres/gpu=2,gres/gpu:a100=1,gres/gpu:v100=1,node=1")

    run(write(tmp_path, line), "--format", "sacct")

    assert jobs() == [("196835:A100", "A100", 1), ("196835:V100", "V100", 1)]  # no GPU dropped: 1 + 1 = 2
    assert {job.metadata["slurm"]["jobid"] for job in Job.objects.all()} == {"196835"}


def test_untyped_gpus_beside_typed_ones_take_gpu_type(db, tmp_path):
    line = with_fields(REAL_LINE, alloctres="gres/gpu=4,gres/gpu:a100=2,node=1")

    run(write(tmp_path, line), "--format", "sacct", "--gpu-type", "V100")

    assert jobs() == [("196835:A100", "A100", 2), ("196835:V100", "V100", 2)]


# --- item 9: '|' in names, arrays, states, sacct's field names -------------------------------------------------


def test_a_pipe_in_the_job_name_is_part_of_the_name(db, tmp_path):
    line = with_fields(REAL_LINE, jobname="train|eval|v2")

    run(write(tmp_path, line), "--format", "sacct", "--gpu-type", "V100")

    assert Job.objects.get().model_name == "train|eval|v2"


def test_a_utf8_job_name_is_kept(db, tmp_path):
    xdmod = (XDMOD / "utf8-multibyte-chars.log").read_text().strip()
    line = with_fields(xdmod, alloctres="billing=8,cpu=8,gres/gpu:p100=1,mem=3000M,node=1")  # a real TRES with a GPU

    run(write(tmp_path, line), "--format", "sacct")

    assert Job.objects.get().model_name == "aàb"


def test_xdmod_array_file_pending_summaries_wait_and_started_ones_are_their_tasks(db, tmp_path, capsys):
    lines = (XDMOD / "accounting-logs-with-job-arrays.log").read_text().splitlines()
    gpus = "billing=1,cpu=1,gres/gpu:p100=1,mem=125G,node=1"  # Open XDMoD's real TRES, so that the jobs hold a GPU
    pending = with_fields(lines[1], jobid="4103948_[1-3]", start="Unknown", end="Unknown", state="PENDING",
                          alloctres=gpus)  # fmt: skip
    path = write(tmp_path, with_fields(lines[0], alloctres=gpus), with_fields(lines[2], alloctres=gpus), pending)

    run(path, "--format", "sacct")

    # 4103947_100 is a task; 4103947_[1,5] ran (TIMEOUT, as Open XDMoD reads it): tasks 1 and 5; the summary waits.
    assert jobs() == [("4103947_1", "P100", 1), ("4103947_100", "P100", 1), ("4103947_5", "P100", 1)]
    assert "3 rows read, 3 GPU jobs (3 new, 0 updated, 0 unchanged), 1 skipped (1 pending job array summaries)." in (
        capsys.readouterr().out
    )


def test_xdmod_array_file_without_gpus_is_read_whole(db, tmp_path, capsys):
    run(XDMOD / "accounting-logs-with-job-arrays.log", "--format", "sacct")

    assert Job.objects.count() == 0
    assert "6 rows read, 0 GPU jobs" in capsys.readouterr().out


def test_xdmod_non_ended_states_run_or_wait(db, tmp_path):
    running, pending = (XDMOD / "non-ended-job-state.log").read_text().splitlines()
    gpus = "billing=12,cpu=12,gres/gpu:p100=1,node=1"

    run(write(tmp_path, with_fields(running, alloctres=gpus), with_fields(pending, alloctres=gpus)), "--format",
        "sacct")  # fmt: skip

    # RUNNING with `end` = its start (as in Open XDMoD's file): running, no end. PENDING: no start, no end.
    assert list(Job.objects.order_by("external_id").values_list("external_id", "status", "start_time", "end_time")) \
        == [("3451067", "running", datetime(2020, 6, 30, 19, 24, 8, tzinfo=UTC), None),
            ("3483276", "pending", None, None)]  # fmt: skip


def test_xdmod_unknown_states_are_skipped_and_reported_not_refused(db, tmp_path, capsys):
    lines = (XDMOD / "unknown-job-state.log").read_text().splitlines()
    gpus = "billing=12,cpu=12,gres/gpu:p100=1,node=1"

    run(write(tmp_path, *(with_fields(line, alloctres=gpus) for line in lines), REAL_LINE), "--format", "sacct",
        "--gpu-type", "V100")  # fmt: skip

    assert jobs() == [("196835", "V100", 2)]
    assert "3 rows read, 1 GPU jobs (1 new, 0 updated, 0 unchanged), 2 skipped (1 in unknown state BAR, " \
           "1 in unknown state FOO)." in capsys.readouterr().out  # fmt: skip


def test_errors_name_sacct_fields(db, tmp_path):
    line = with_fields(REAL_LINE, end="2017-01-01T21:00:00")  # before its start, 21:44:50

    with pytest.raises(CommandError, match=r"line 1, column end: end is before start \(got '2017-01-01T21:00:00"):
        run(write(tmp_path, line), "--format", "sacct", "--gpu-type", "V100")


def test_a_job_without_an_account_names_the_account_field(db, tmp_path):
    with pytest.raises(CommandError, match=r"line 1, column account: is required"):
        run(write(tmp_path, with_fields(REAL_LINE, account="")), "--format", "sacct", "--gpu-type", "V100")


def test_a_line_with_too_few_fields_is_named(db, tmp_path):
    with pytest.raises(CommandError, match=r"line 1, column line: expected 26 '\|'-separated fields, found 25"):
        run(write(tmp_path, REAL_LINE.rsplit("|", 1)[0]), "--format", "sacct", "--gpu-type", "V100")


# --- item 10: the options belong in the duplicate check -------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "changed"),
    [
        (["--gpu-type", "V100"], ["--gpu-type", "A100"], ("gpu_type", "A100")),
        (["--gpu-type", "V100"], ["--gpu-type", "V100", "--team-from", "user"], ("team__name", "noror")),
        (["--gpu-type", "V100"], ["--gpu-type", "V100", "--timezone", "America/New_York"],
         ("start_time", datetime(2017, 1, 2, 2, 44, 50, tzinfo=UTC))),
        (["--gpu-type", "v100"], ["--gpu-type", "v100", "--gpu-map", "v100=V100S"], ("gpu_type", "V100S")),
    ],
)  # fmt: skip
def test_a_rerun_with_corrected_options_is_imported_again(db, capsys, first, second, changed):
    run(PHILLIPS, "--format", "sacct", *first)
    run(PHILLIPS, "--format", "sacct", *first)
    assert "imported before with the same options" in capsys.readouterr().out

    run(PHILLIPS, "--format", "sacct", *second)

    field, value = changed
    assert Job.objects.filter(external_id="196835").values_list(field, flat=True).get() == value
    assert "0 new, 2 updated" in capsys.readouterr().out
    assert list(ImportRecord.objects.order_by("created_at").values_list("status", flat=True)) == [
        "succeeded", "duplicate", "succeeded"]  # fmt: skip


def test_a_type_name_too_long_to_keep_is_refused_not_cut_to_a_name_another_type_shares(db, tmp_path):
    """Two unknown spellings longer than the column were both stored as their first 32 characters."""
    long_a, long_b = "nvidia_" + "x" * 40 + "_a", "nvidia_" + "x" * 40 + "_b"
    path = write(tmp_path, with_fields(REAL_LINE, jobid="1", alloctres=f"cpu=1,gres/gpu:{long_a}=1"),
                 with_fields(REAL_LINE, jobid="2", alloctres=f"cpu=1,gres/gpu:{long_b}=1"))  # fmt: skip

    with pytest.raises(CommandError) as error:
        run(path, "--format", "sacct")

    assert str(error.value) == (
        f"{path}, line 1, column alloctres: a GPU type name of at most 32 characters; map this one with "
        f"--gpu-map NAME=TYPE or GPU_TYPE_MAP (got '{long_a}')"
    )
    assert Job.objects.count() == 0
    with pytest.raises(CommandError, match=r"line 1, column --gpu-type: a GPU type name of at most 32 characters"):
        run(write(tmp_path, REAL_LINE), "--format", "sacct", "--gpu-type", "x" * 33)  # gres/gpu=2, untyped
