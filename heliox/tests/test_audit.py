"""The audit trail (django-simple-history): who changed what, from the admin, the API, the member UI or a
command; imports write no history row per job (they are audited by their import record)."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from knox.models import AuthToken

from costs.usage.models import FxRate
from jobs.models import Job
from teams.models import Team

PHILLIPS = Path(__file__).resolve().parents[2] / "jobs" / "tests" / "fixtures" / "phillips_sacct.log"
CSV_HEADER = "team,model_name,provider,gpu_type,gpu_count,region,pricing,start_time,end_time,status,external_id\n"


def test_an_api_change_records_the_tokens_user(org, client):
    _, token = AuthToken.objects.create(user=org["users"]["alice"])
    llama = org["jobs"]["llama"]
    response = client.patch(f"/api/v1/jobs/{llama.pk}/", {"gpu_count": 8}, content_type="application/json",
                            HTTP_AUTHORIZATION=f"Token {token}")  # fmt: skip
    assert response.status_code == 200
    record = llama.history.latest()
    assert (record.gpu_count, record.history_user.username, record.history_type) == (8, "alice", "~")


def test_an_admin_change_is_in_the_admins_history_with_its_user(staff_client, db):
    rate = FxRate.objects.create(currency="EUR", rate_per_usd=Decimal("0.900000"), as_of=date(2025, 3, 1))
    response = staff_client.post(f"/admin/costs/fxrate/{rate.pk}/change/",
                                 {"currency": "EUR", "rate_per_usd": "0.95", "as_of": "2025-03-01"})  # fmt: skip
    assert response.status_code == 302
    record = FxRate.history.filter(id=rate.pk).latest()
    assert (record.rate_per_usd, record.history_user.username, record.history_type) == (Decimal("0.95"), "boss", "~")
    page = staff_client.get(f"/admin/costs/fxrate/{rate.pk}/history/").content.decode()
    assert "boss" in page
    assert "Changed" in page


def test_a_command_records_its_name(db):
    call_command("set_fx_rate", "EUR", "0.9200", "--date", "2025-03-01", verbosity=0)
    record = FxRate.history.get()
    assert (record.currency, record.history_user, record.history_change_reason) == ("EUR", None,
                                                                                   "command: set_fx_rate")  # fmt: skip
    assert FxRate.objects.get().as_of == date(2025, 3, 1)


def test_a_sacct_import_writes_no_job_history_and_names_itself_on_the_teams_it_creates(db):
    call_command("import_jobs", str(PHILLIPS), "--format", "sacct", "--gpu-type", "V100", "--no-progress",
                 "--no-rollup", verbosity=0)  # fmt: skip
    assert Job.objects.count() == 2
    assert Job.history.count() == 0
    team = Team.objects.get(name="chaff")
    assert list(team.history.values_list("history_type", "history_change_reason")) == [("+", "command: import_jobs")]


def test_a_csv_import_and_its_correction_write_no_job_history(db, tmp_path):
    # On PostgreSQL this is the COPY fast path (jobs.services.write_postgres), on SQLite bulk_create.
    rows = [f"nlp,llama,aws,H100,{n % 4 + 1},,on_demand,2025-03-10T0{n}:00:00Z,2025-03-10T0{n}:30:00Z,succeeded,j{n}"
            for n in range(5)]  # fmt: skip
    first = tmp_path / "jobs.csv"
    first.write_text(CSV_HEADER + "\n".join(rows) + "\n")
    call_command("import_jobs", str(first), "--format", "csv", "--no-progress", "--no-rollup", verbosity=0)
    corrected = tmp_path / "corrected.csv"
    corrected.write_text(CSV_HEADER + "\n".join(row.replace("succeeded", "failed") for row in rows) + "\n")
    call_command("import_jobs", str(corrected), "--format", "csv", "--no-progress", "--no-rollup", verbosity=0)
    assert sorted(Job.objects.values_list("status", flat=True)) == ["failed"] * 5
    assert Job.history.count() == 0
    assert Team.history.get().history_change_reason == "command: import_jobs"


def test_an_api_delete_of_a_job_is_recorded_with_its_user(org, client):
    _, token = AuthToken.objects.create(user=org["users"]["alice"])
    llama = org["jobs"]["llama"]
    response = client.delete(f"/api/v1/jobs/{llama.pk}/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 204
    record = Job.history.filter(id=llama.pk).latest()
    assert (record.history_type, record.history_user.username, record.gpu_count) == ("-", "alice", 4)


def test_bulk_deletes_write_no_job_or_bill_history_and_stay_one_statement(org, django_assert_max_num_queries):
    from costs.billing.models import CostSnapshot
    from jobs.tests.factories import JobFactory

    nlp = org["teams"]["nlp"]
    JobFactory.create_batch(30, team=nlp)
    before = Job.history.count()  # the factory's saves
    with django_assert_max_num_queries(20):  # not a query per job: Django deletes them in one statement
        nlp.delete()
    CostSnapshot.objects.all().delete()
    assert Job.history.count() == before
    assert CostSnapshot.history.filter(history_type="-").count() == 0
    assert list(Team.history.filter(history_type="-").values_list("name", flat=True)) == ["nlp"]


def test_an_import_and_its_rollup_write_no_job_history(db, django_capture_on_commit_callbacks):
    # The rollup keeps each job's cost totals (JobTotals) in SQL: no history row per job either.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_jobs", str(PHILLIPS), "--format", "sacct", "--gpu-type", "V100", "--no-progress",
                     verbosity=0)  # fmt: skip
    assert Job.objects.filter(totals__gpu_hours__isnull=False).count() == 2
    assert Job.history.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("rate_per_usd", "9999999999.99999999", "at most 1,000,000,000"),  # SQLite read it back as 10^10
        ("rate_per_usd", "0", "must be a positive number"),
        ("currency", "USD", "a three-letter ISO 4217 code other than USD"),
        ("currency", "E1R", "a three-letter ISO 4217 code other than USD"),
    ],
)
def test_the_admins_fx_rate_form_bounds_rates_as_set_fx_rate_does(staff_client, db, field, value, why):
    data = {"currency": "EUR", "rate_per_usd": "0.95", "as_of": "2025-03-01", field: value}
    response = staff_client.post("/admin/costs/fxrate/add/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [why]}
    assert not FxRate.objects.exists()
    ok = staff_client.post("/admin/costs/fxrate/add/", {**data, "currency": "eur", "rate_per_usd": "1000000000"})
    assert ok.status_code == 302
    assert FxRate.objects.values_list("currency", "rate_per_usd").get() == ("EUR", Decimal("1000000000"))
