"""Cost labels on jobs: CSV label.<key> columns, JSON and API labels objects, Slurm fields; one validation rule."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jobs.labels import label_problem
from jobs.models import Job
from jobs.tests.factories import JobFactory

# The real Slurm files of /work/shared/data/slurm, as the repository keeps them.
FIXTURES = Path(__file__).parent / "fixtures"
PHILLIPS = FIXTURES / "phillips_sacct.log"
HEADER = "team,model_name,provider,gpu_type,gpu_count,start_time,end_time,external_id"
ROW = "nlp,llama,aws,H100,8,2025-03-10T01:00:00Z,2025-03-10T03:00:00Z"


def run(*args):
    call_command("import_jobs", *map(str, args), "--no-progress", "--no-rollup")


def labels_of(external_id: str) -> dict:
    return Job.objects.get(external_id=external_id).labels


def test_real_sacct_rows_get_slurm_labels(db):
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100")

    # Job 196835 of the real phillips file: partition focaccia, qos chestnut, user noror, a hashed job name.
    assert labels_of("196835") == {
        "slurm.user": "noror",
        "slurm.partition": "focaccia",
        "slurm.qos": "chestnut",
        "slurm.job_name": "b24c9088df49df3b4c539d0f5ceccca846dea3bac5431263d674d011c8626bb6",
    }


def test_slurm_labels_setting_chooses_the_fields(db, settings):
    settings.HELIOX_SLURM_LABELS = ["user", "account"]
    run(PHILLIPS, "--format", "sacct", "--gpu-type", "V100")

    assert labels_of("196835") == {"slurm.user": "noror", "slurm.account": "chaff"}


def test_csv_label_columns_become_labels_and_empty_cells_none(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(f"{HEADER},label.project,label.cost_center\n{ROW},j-1,atlas,cc-7\n{ROW},j-2,borealis,\n")

    run(path, "--format", "csv")

    assert labels_of("j-1") == {"project": "atlas", "cost_center": "cc-7"}
    assert labels_of("j-2") == {"project": "borealis"}


def test_json_labels_object(db, tmp_path):
    job = dict(zip(HEADER.split(","), [*ROW.split(","), "j-1"], strict=True))
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps([{**job, "labels": {"project": "atlas", "user": "ana"}}]))

    run(path, "--format", "json")

    assert labels_of("j-1") == {"project": "atlas", "user": "ana"}


def test_a_bad_label_names_the_line_and_label_and_writes_nothing(db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(f"{HEADER},label.Project\n{ROW},j-1,atlas\n")

    with pytest.raises(CommandError) as error:
        run(path, "--format", "csv")

    assert "line 2" in str(error.value)
    assert "labels.Project" in str(error.value)
    assert not Job.objects.exists()


def test_labels_are_part_of_the_import_idempotency(db, tmp_path, capsys):
    first, changed, without = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    first.write_text(f"{HEADER},label.project\n{ROW},j-1,atlas\n")
    changed.write_text(f"{HEADER},label.project\n{ROW},j-1,borealis\n")
    without.write_text(f"{HEADER}\n{ROW},j-1\n")

    run(first, "--format", "csv")
    run(changed, "--format", "csv")
    assert "0 new, 1 updated, 0 unchanged" in capsys.readouterr().out
    assert labels_of("j-1") == {"project": "borealis"}

    run(without, "--format", "csv")  # a file without labels leaves the job's labels as they are

    assert "0 new, 0 updated, 1 unchanged" in capsys.readouterr().out
    assert labels_of("j-1") == {"project": "borealis"}


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"project": "atlas", "slurm.user": "ana", "cost_center": "cc-7"}, None),
        ({"Project": "x"}, "labels.Project"),
        ({"pro ject": "x"}, "labels.pro ject"),
        ({"project": ""}, "labels.project"),
        ({"project": 7}, "labels.project"),
        ({"project": "x" * 201}, "labels.project"),
        ({"project": "(unlabelled)"}, "labels.project"),
        ({f"k{n}": "v" for n in range(33)}, "labels"),
        (["project"], "labels"),
    ],
)
def test_label_rule(labels, problem):
    found = label_problem(labels)
    assert (found[0] if found else None) == problem


def test_api_creates_and_managers_update_labels(org, api):
    team = org["teams"]["nlp"]
    body = {"team": str(team.pk), "provider": "aws", "gpu_type": "H100", "gpu_count": 1, "status": "running",
            "start_time": "2025-03-11T08:00:00Z", "external_id": "x-1", "labels": {"project": "atlas"}}  # fmt: skip
    created = api.as_user(org["users"]["bob"]).post("/api/v1/jobs/", body, format="json")
    assert created.status_code == 201, created.json()
    job_id = created.json()["id"]

    patched = api.as_user(org["users"]["alice"]).patch(
        f"/api/v1/jobs/{job_id}/", {"labels": {"project": "borealis", "user": "alice"}}, format="json"
    )

    assert patched.status_code == 200, patched.json()
    assert Job.objects.get(pk=job_id).labels == {"project": "borealis", "user": "alice"}
    assert (
        api.as_user(org["users"]["bob"]).patch(f"/api/v1/jobs/{job_id}/", {"labels": {}}, format="json").status_code
        == 403
    )


def test_api_refuses_a_bad_label_naming_it(org, api):
    llama = org["jobs"]["llama"]
    response = api.as_user(org["users"]["alice"]).patch(
        f"/api/v1/jobs/{llama.pk}/", {"labels": {"Bad Key": "x"}}, format="json"
    )
    assert response.status_code == 400
    assert "labels.Bad Key" in response.json()["labels"][0]


def test_admin_edits_labels_and_refuses_bad_ones(staff_client, db):
    job = JobFactory(labels={"project": "atlas"})
    url = f"/admin/jobs/job/{job.pk}/change/"
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "atlas" in page.content.decode()
