"""GPU utilisation per job: CSV/JSON columns, the API, and Slurm's TRES usage (real TRESUsageInAve strings)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job
from jobs.services.sacct import split_line
from jobs.utilisation import TresUsage, job_util_from_steps, tres_usage

FIXTURES = Path(__file__).parent / "fixtures"
PHILLIPS = FIXTURES / "phillips_sacct.log"
# Job 196835 of the real phillips file: gres/gpu=2, 2017-01-01 21:44:50-21:45:07, account (team) "chaff".
REAL_LINE = next(line for line in PHILLIPS.read_text().splitlines() if line.startswith("196835|"))
# Real TRESUsageInAve strings as sacct prints them (see fixtures/README.md for where each comes from).
TRES_SEFF = (
    "cpu=00:08:24,energy=95240,fs/disk=147861134,gres/gpumem=15114M,gres/gpuutil=10,mem=2207116K,pages=3473,vmem=0"
)
TRES_IDLE = "cpu=00:00:03,energy=0,fs/disk=81960071,gres/gpumem=0,gres/gpuutil=0,mem=327556K,pages=0,vmem=322932K"
TRES_BUSY = "cpu=02:00:00,gres/gpumem=79638M,gres/gpuutil=42,mem=20G"
CSV_HEADER = "team,provider,gpu_type,gpu_count,start_time,end_time,external_id,gpu_util_avg,gpu_mem_peak_gib\n"


def run(*args):
    call_command("import_jobs", *map(str, args), "--no-progress", "--no-rollup")


def long_line(line: str, jobid: str | None = None, average: str = "", maximum: str = "") -> str:
    """A real 26-field sacct line in the long layout: tresusageinave,tresusageinmax before the job name."""
    fields = line.split("|", 25)
    if jobid:
        fields[0] = fields[1] = jobid
    return "|".join([*fields[:25], average, maximum, fields[25]])


def utilisation():
    return list(Job.objects.order_by("external_id").values_list("external_id", "gpu_util_avg", "gpu_mem_peak_gib",
                                                                "gpu_util_source"))  # fmt: skip


def test_tres_usage_reads_real_strings_with_their_units():
    assert tres_usage(TRES_SEFF, TRES_SEFF) == TresUsage(util=Decimal(10), mem_gib=Decimal(15114) / 1024)
    assert tres_usage(TRES_IDLE, "") == TresUsage(util=Decimal(0), mem_gib=Decimal(0))
    assert tres_usage("cpu=00:00:01", "") == TresUsage()  # a step without NVML gathering: unmeasured
    with pytest.raises(ValueError, match="gres/gpumem=12Q is not a size"):
        tres_usage("gres/gpumem=12Q", "")


def test_job_utilisation_is_the_busiest_step_and_a_multi_gpu_sum_is_divided():
    steps = [tres_usage(TRES_IDLE, TRES_IDLE), tres_usage(TRES_BUSY, TRES_BUSY)]
    assert job_util_from_steps(steps, 2) == (Decimal("42.00"), Decimal("77.771"))  # 79638 MiB = 77.7715 GiB
    assert job_util_from_steps([TresUsage(util=Decimal(150))], 2) == (Decimal("75.00"), None)


def test_split_line_tells_the_long_layout_from_a_job_name_with_bars():
    assert split_line(long_line(REAL_LINE, "1.batch", TRES_SEFF, TRES_SEFF))["tresusageinave"] == TRES_SEFF
    short = split_line(REAL_LINE.rsplit("|", 1)[0] + "|a|b|c")
    assert "tresusageinave" not in short
    assert short["jobname"] == "a|b|c"


def test_sacct_long_format_gives_the_job_its_steps_utilisation(db, tmp_path):
    path = tmp_path / "sacct.log"
    path.write_text("\n".join([
        long_line(REAL_LINE),
        long_line(REAL_LINE, "196835.batch", TRES_IDLE, TRES_IDLE),
        long_line(REAL_LINE, "196835.0", TRES_BUSY, TRES_BUSY),
        long_line(REAL_LINE, "196836"),  # a second GPU job with no step lines: unmeasured
        long_line(REAL_LINE, "196837.batch", TRES_SEFF, TRES_SEFF),  # a step of a job not held: ignored
    ]) + "\n")  # fmt: skip

    run(path, "--format", "sacct", "--gpu-type", "V100")

    assert utilisation() == [
        ("196835", Decimal("42.00"), Decimal("77.771"), "slurm"),
        ("196836", None, None, ""),
    ]


def test_sacct_bad_tres_usage_names_the_line_and_field(db, tmp_path):
    path = tmp_path / "sacct.log"
    path.write_text(long_line(REAL_LINE) + "\n" + long_line(REAL_LINE, "196835.0", "gres/gpuutil=x", "") + "\n")
    with pytest.raises(CommandError, match="line 2, column tresusageinave: gres/gpuutil=x is not a number"):
        run(path, "--format", "sacct", "--gpu-type", "V100")
    assert Job.objects.count() == 0


def test_csv_and_json_columns(db, tmp_path):
    csv_path, json_path = tmp_path / "jobs.csv", tmp_path / "jobs.jsonl"
    csv_path.write_text(CSV_HEADER + "nlp,aws,H100,8,2025-03-10T08:00:00Z,2025-03-10T10:00:00Z,c-1,37.125,61.5\n"
                        "nlp,aws,H100,8,2025-03-10T08:00:00Z,2025-03-10T10:00:00Z,c-2,,\n")  # fmt: skip
    json_path.write_text(json.dumps({"team": "nlp", "provider": "aws", "gpu_type": "H100", "gpu_count": 1,
                                     "start_time": "2025-03-10T08:00:00Z", "external_id": "j-1",
                                     "gpu_util_avg": 100, "gpu_mem_peak_gib": "0"}) + "\n")  # fmt: skip

    run(csv_path, "--format", "csv")
    run(json_path, "--format", "json")

    assert utilisation() == [
        ("c-1", Decimal("37.13"), Decimal("61.500"), "import"),  # rounded half up to 2 decimals
        ("c-2", None, None, ""),
        ("j-1", Decimal("100.00"), Decimal("0.000"), "import"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("100.5,", "line 2, column gpu_util_avg: must be between 0 and 100 (percent) (got '100.5')"),
        ("-1,", "line 2, column gpu_util_avg: must be between 0 and 100"),
        ("NaN,", "line 2, column gpu_util_avg: not a finite number"),
        ("high,", "line 2, column gpu_util_avg: not a number"),
        ("50,200000", "line 2, column gpu_mem_peak_gib: must be between 0 and 100,000 (GiB)"),
    ],
)
def test_csv_bad_utilisation_is_refused_naming_the_field(db, tmp_path, values, message):
    path = tmp_path / "jobs.csv"
    path.write_text(CSV_HEADER + f"nlp,aws,H100,8,2025-03-10T08:00:00Z,,c-1,{values}\n")
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(path, "--format", "csv")
    assert Job.objects.count() == 0


def test_api_takes_utilisation_and_names_a_bad_value(org, api):
    alice = api.as_user(org["users"]["alice"])
    llama = org["jobs"]["llama"]
    url = f"/api/v1/jobs/{llama.pk}/"

    response = alice.patch(url, {"gpu_util_avg": "12.5", "gpu_mem_peak_gib": "70.25"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["gpu_util_avg"], body["gpu_mem_peak_gib"], body["gpu_util_source"]) == ("12.50", "70.250", "api")

    bad = alice.patch(url, {"gpu_util_avg": "101"}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()) == ["gpu_util_avg"]
    cleared = alice.patch(url, {"gpu_util_avg": None, "gpu_mem_peak_gib": None}, format="json").json()
    assert (cleared["gpu_util_avg"], cleared["gpu_util_source"]) == (None, "")
