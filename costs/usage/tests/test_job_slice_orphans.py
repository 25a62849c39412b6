"""Job slices have no foreign key in the database (a deferred check per slice cost the rollup's commit):
deleting a job through Django still deletes its slices, and the rollup never leaves a slice without its job."""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef
from django.urls import reverse

from costs.usage.models import JobDaySlice
from costs.usage.services import rollup
from costs.usage.services.rollup import usage_rollup
from costs.usage.tests.test_job_costs import assert_slices_add_up_to_rollup_rows
from jobs.models import Job

D10, D11 = date(2025, 3, 10), date(2025, 3, 11)
NOW = datetime(2025, 3, 11, tzinfo=UTC)


def orphans() -> int:
    return JobDaySlice.objects.filter(~Exists(Job.objects.filter(pk=OuterRef("job_id")))).count()


def slice_jobs() -> set:
    return set(JobDaySlice.objects.values_list("job_id", flat=True))


def assert_only_vit_left(org) -> None:
    """After the deletion and a rollup of the day: vit's slice alone, adding up to the day's rows."""
    usage_rollup(start=D10, end=D11, now=NOW)
    assert orphans() == 0
    assert slice_jobs() == {org["jobs"]["vit"].pk}
    assert assert_slices_add_up_to_rollup_rows() == 1
    vit = Job.objects.get(pk=org["jobs"]["vit"].pk)
    # vit alone: 2 GPU-h, $8.00, and the whole $50.00 bill with idle shared.
    assert (vit.gpu_hours, vit.estimated_usd) == (Decimal("2.0000"), Decimal("8.00"))
    assert JobDaySlice.objects.get().allocated_shared_usd == Decimal("50.00")


def test_the_slices_have_no_foreign_key_in_the_database(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, JobDaySlice._meta.db_table)
    assert [name for name, info in constraints.items() if info["foreign_key"]] == []


def test_an_api_delete_deletes_the_jobs_slices(org, api, django_capture_on_commit_callbacks):
    llama = org["jobs"]["llama"]
    assert slice_jobs() == {llama.pk, org["jobs"]["vit"].pk}

    with django_capture_on_commit_callbacks(execute=True):
        assert api.as_user(org["users"]["alice"]).delete(f"/api/v1/jobs/{llama.pk}/").status_code == 204

    assert slice_jobs() == {org["jobs"]["vit"].pk}  # at once, before any rollup
    assert_only_vit_left(org)


def test_an_admin_delete_deletes_the_jobs_slices(org, staff_client, django_capture_on_commit_callbacks):
    llama = org["jobs"]["llama"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:jobs_job_delete", args=[llama.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert slice_jobs() == {org["jobs"]["vit"].pk}
    assert_only_vit_left(org)


def test_an_admin_bulk_delete_deletes_the_jobs_slices(org, staff_client, django_capture_on_commit_callbacks):
    llama = org["jobs"]["llama"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:jobs_job_changelist"),
            {"action": "delete_selected", "_selected_action": [llama.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert slice_jobs() == {org["jobs"]["vit"].pk}
    assert_only_vit_left(org)


def test_a_queryset_delete_and_a_team_delete_delete_the_slices(org):
    Job.objects.filter(pk=org["jobs"]["llama"].pk).delete()
    assert slice_jobs() == {org["jobs"]["vit"].pk}
    assert_only_vit_left(org)

    org["teams"]["vision"].delete()
    assert JobDaySlice.objects.count() == 0


def test_the_rollup_drops_the_slices_of_a_job_deleted_while_it_ran(org, monkeypatch):
    llama = org["jobs"]["llama"]
    keep_range = rollup.job_costs_range

    def range_then_delete(**kwargs):
        keep_range(**kwargs)  # llama's new slice is written
        with connection.cursor() as cursor:  # as another transaction's deletion would be: no cascade here
            pk = Job._meta.pk.get_db_prep_value(llama.pk, connection)
            cursor.execute(f"DELETE FROM {Job._meta.db_table} WHERE id = %s", [pk])

    monkeypatch.setattr(rollup, "job_costs_range", range_then_delete)
    usage_rollup(start=D10, end=D11, now=NOW)

    assert orphans() == 0
    assert slice_jobs() == {org["jobs"]["vit"].pk}
