"""Managers edit their teams' jobs and budgets with the API's validation; members are refused; every edit is
in the audit trail with its author. Tokens: created and shown once, listed, revoked."""

from decimal import Decimal

from knox.models import AuthToken

from costs.usage.models import UsageSnapshot
from jobs.models import Job

JOB_FORM = {"team": "", "model_name": "llama", "provider": "aws", "gpu_type": "H100", "gpu_count": "2",
            "region": "", "pricing": "on_demand", "start_time": "2025-03-10T01:00:00",
            "end_time": "2025-03-10T03:00:00", "status": "succeeded", "external_id": "nlp-1"}  # fmt: skip


def job_form(org, **changes) -> dict:
    return {**JOB_FORM, "team": str(org["teams"]["nlp"].pk), **changes}


def test_a_manager_edits_a_job_it_is_rolled_up_and_in_its_history(org, as_role, django_capture_on_commit_callbacks):
    llama = org["jobs"]["llama"]
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, gpu_count="2"))
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{llama.pk}/"
    llama.refresh_from_db()
    assert llama.gpu_count == 2
    # The day was rolled up again: nlp's day is 2 x 2 h = 4 GPU-h now.
    assert UsageSnapshot.objects.get(team=org["teams"]["nlp"]).gpu_hours == Decimal("4.0000")
    edit = llama.history.latest()
    assert (edit.history_type, edit.history_user.username) == ("~", "alice")
    page = as_role("member").get(f"/jobs/{llama.pk}/").content.decode()
    assert "alice" in page
    assert "gpu_count: 4 -&gt; 2" in page


def test_a_job_edit_is_refused_with_the_apis_message(org, as_role):
    llama = org["jobs"]["llama"]
    response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, end_time="2025-03-09T00:00:00"))
    assert response.status_code == 200
    assert "Must not be before start_time." in response.content.decode()
    llama.refresh_from_db()
    assert llama.end_time.isoformat() == "2025-03-10T03:00:00+00:00"
    clash = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, external_id="vision-1"))
    assert "This provider already has a job with this external_id." in clash.content.decode()


def test_a_manager_cannot_move_a_job_to_a_team_they_do_not_belong_to(org, as_role):
    llama = org["jobs"]["llama"]
    response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, team=str(org["teams"]["vision"].pk)))
    assert response.status_code == 200
    assert Job.objects.get(pk=llama.pk).team == org["teams"]["nlp"]


def test_a_member_cannot_edit_a_job(org, as_role):
    llama = org["jobs"]["llama"]
    assert as_role("member").post(f"/jobs/{llama.pk}/edit/", job_form(org, gpu_count="1")).status_code == 404
    assert Job.objects.get(pk=llama.pk).gpu_count == 4
    assert "hx-edit-job" not in as_role("member").get(f"/jobs/{llama.pk}/").content.decode()
    assert "hx-edit-job" in as_role("manager").get(f"/jobs/{llama.pk}/").content.decode()


BUDGET_FORM = {"amount_usd": "12,500.50", "period": "quarterly", "thresholds": "50, 80, 100",
               "emails": "lead@example.com\n\nfinance@example.com", "webhook_urls": "", "run_rate_days": "7",
               "active": "on"}  # fmt: skip


def test_a_manager_edits_a_budget_as_text_and_it_is_audited(org, budgets, as_role):
    budget = budgets["nlp"]
    response = as_role("manager").post(f"/budgets/{budget.pk}/edit/", BUDGET_FORM)
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.amount_usd, budget.period, budget.thresholds, budget.emails, budget.run_rate_days) == (
        Decimal("12500.50"), "quarterly", [50, 80, 100], ["lead@example.com", "finance@example.com"], 7)  # fmt: skip
    assert budget.history.latest().history_user.username == "alice"
    form = as_role("manager").get(f"/budgets/{budget.pk}/edit/").content.decode()
    assert 'value="12,500.50"' in form
    assert 'value="50, 80, 100"' in form


def test_a_budget_edit_is_refused_with_the_apis_message(org, budgets, as_role):
    budget = budgets["nlp"]
    response = as_role("manager").post(f"/budgets/{budget.pk}/edit/", {**BUDGET_FORM, "thresholds": "50, 0"})
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    bad_mail = as_role("manager").post(f"/budgets/{budget.pk}/edit/", {**BUDGET_FORM, "emails": "not-an-address"})
    assert "Enter a valid email address." in bad_mail.content.decode()
    budget.refresh_from_db()
    assert budget.amount_usd == Decimal("500.00")


def test_a_manager_sets_and_clears_the_efficiency_alert(org, budgets, as_role):
    budget = budgets["nlp"]
    edit = {**BUDGET_FORM, "min_efficiency_pct": "40", "efficiency_days": "14"}
    assert as_role("manager").post(f"/budgets/{budget.pk}/edit/", edit).status_code == 302
    budget.refresh_from_db()
    assert (budget.min_efficiency_pct, budget.efficiency_days) == (40, 14)
    form = as_role("manager").get(f"/budgets/{budget.pk}/edit/").content.decode()
    assert 'name="min_efficiency_pct" value="40"' in form
    refused = as_role("manager").post(f"/budgets/{budget.pk}/edit/", {**edit, "efficiency_days": "32"})
    assert "Ensure this value is less than or equal to 31." in refused.content.decode()
    cleared = {**BUDGET_FORM, "min_efficiency_pct": "", "efficiency_days": ""}
    assert as_role("manager").post(f"/budgets/{budget.pk}/edit/", cleared).status_code == 302
    budget.refresh_from_db()
    assert (budget.min_efficiency_pct, budget.efficiency_days) == (None, 14)  # blank days: unchanged


def test_a_member_cannot_edit_a_budget(org, budgets, as_role):
    budget = budgets["nlp"]
    assert as_role("member").post(f"/budgets/{budget.pk}/edit/", BUDGET_FORM).status_code == 404
    budget.refresh_from_db()
    assert budget.amount_usd == Decimal("500.00")


def test_a_token_is_shown_once_listed_and_revoked(org, as_role, users):
    client = as_role("member")
    created = client.post("/tokens/", {"expires": "30"})
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    secret = created.context["secret"]
    assert len(secret) == 64
    assert secret in created.content.decode()
    token = AuthToken.objects.get(user=users["member"])
    assert secret.startswith(token.token_key)
    listed = client.get("/tokens/").content.decode()
    assert secret not in listed
    assert token.token_key in listed
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 200

    assert as_role("manager").post(f"/tokens/{token.token_key}/revoke/").status_code == 404  # not alice's
    assert client.post(f"/tokens/{token.token_key}/revoke/").status_code == 302
    assert not AuthToken.objects.filter(user=users["member"]).exists()
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {secret}").status_code == 401


def test_a_token_expiry_out_of_bounds_is_refused(org, as_role, users):
    response = as_role("member").post("/tokens/", {"expires": "-1"})
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert not AuthToken.objects.filter(user=users["member"]).exists()


def test_a_job_edit_to_year_one_is_a_field_error_and_writes_nothing(org, as_role):
    """Was a 500 after the commit (and, with no end, owed the rollup 0001-01-01 to today, failing it forever)."""
    from costs.usage.models import RollupBacklog

    llama = org["jobs"]["llama"]
    for end in ("0001-01-01T01:00:00", ""):
        response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, start_time="0001-01-01T00:00:00",
                                                                               end_time=end))  # fmt: skip
        assert response.status_code == 200
        assert response.context["form"].errors["start_time"] == [
            "must not be before 2000-01-01 UTC (HELIOX_JOB_TIME_FLOOR)"
        ]
    llama.refresh_from_db()
    assert llama.start_time.isoformat() == "2025-03-10T01:00:00+00:00"
    assert RollupBacklog.objects.count() == 0


def test_a_job_edit_to_year_9999_names_the_fields_not_the_constraint(org, as_role):
    llama = org["jobs"]["llama"]
    response = as_role("manager").post(f"/jobs/{llama.pk}/edit/", job_form(org, start_time="9999-12-31T00:00:00"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["start_time"] == ["must not be more than a day ahead of now: a job's times are when it ran"]
    assert errors["end_time"] == ["Must not be before start_time."]
    assert "Constraint" not in response.content.decode()
    llama.refresh_from_db()
    assert llama.start_time.isoformat() == "2025-03-10T01:00:00+00:00"
