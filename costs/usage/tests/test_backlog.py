"""A change to a long job answers fast: the request rolls up its latest days, the rest is queued or owed."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import RollupBacklog, UsageSnapshot
from costs.usage.services.backlog import split_latest
from costs.usage.tasks import rollup_backlog, rollup_recent
from jobs.models import Job
from jobs.services.changes import AffectedDays, jobs_changed
from jobs.tests.factories import JobFactory
from teams.tests.factories import MembershipFactory, TeamFactory, UserFactory


def test_split_latest_takes_the_latest_days_across_ranges():
    ranges = [(date(2025, 3, 1), date(2025, 3, 5)), (date(2025, 3, 10), date(2025, 3, 13))]

    assert split_latest(ranges, 5) == (
        [(date(2025, 3, 3), date(2025, 3, 5)), (date(2025, 3, 10), date(2025, 3, 13))],
        [(date(2025, 3, 1), date(2025, 3, 3))],
    )
    assert split_latest(ranges, 2) == ([(date(2025, 3, 11), date(2025, 3, 13))], [
        (date(2025, 3, 1), date(2025, 3, 5)), (date(2025, 3, 10), date(2025, 3, 11))])  # fmt: skip
    assert split_latest(ranges, 7) == (ranges, [])
    assert split_latest(ranges, 0) == ([], ranges)
    # A job that ends after today: the days up to today first, the future ones owed.
    assert split_latest(ranges, 3, until=date(2025, 3, 11)) == (
        [(date(2025, 3, 3), date(2025, 3, 5)), (date(2025, 3, 10), date(2025, 3, 11))],
        [(date(2025, 3, 1), date(2025, 3, 3)), (date(2025, 3, 11), date(2025, 3, 13))],
    )


def owed() -> list[tuple[date, date]]:
    return list(RollupBacklog.objects.order_by("start").values_list("start", "end"))


@pytest.fixture
def manager(db):
    user = UserFactory(username="lead")
    MembershipFactory(user=user, team=TeamFactory(name="nlp"), role="manager")
    return user


def test_api_create_of_a_two_year_job_rolls_up_its_last_week_then_rollup_does_the_rest(
    manager, api, django_capture_on_commit_callbacks
):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))  # aws H100 from 2024-01-01
    body = {"team": str(manager.memberships.get().team_id), "model_name": "llama", "provider": "aws",
            "gpu_type": "H100", "gpu_count": 2, "start_time": "2024-01-01T00:00:00Z",
            "end_time": "2026-01-01T00:00:00Z"}  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(manager).post("/api/v1/jobs/", body, format="json")

    assert response.status_code == 201, response.json()
    # 731 days; the request rolled up the last 7 (2025-12-25 to 12-31), the 724 before are owed.
    assert sorted(UsageSnapshot.objects.values_list("date", flat=True)) == [
        date(2025, 12, 25) + timedelta(days=n) for n in range(7)
    ]
    assert owed() == [(date(2024, 1, 1), date(2025, 12, 25))]

    out = io.StringIO()
    call_command("rollup", "--no-progress", stdout=out)

    assert "Rolled up 724 day(s) that changes to jobs left owed: [2024-01-01, 2025-12-25).\n" in out.getvalue()
    assert owed() == []
    days = UsageSnapshot.objects.values_list("gpu_hours", "estimated_cost_usd")
    assert len(days) == 731
    assert set(days) == {(Decimal("48.0000"), Decimal("192.00"))}  # 2 GPUs x 24 h x $4.00
    job = Job.objects.get()
    assert (job.gpu_hours, job.estimated_usd) == (Decimal("35088.0000"), Decimal("140352.00"))  # 731 x 48, x 4


def _finish_queries(how: str, job: Job, client) -> int:
    with CaptureQueriesContext(connection) as queries:
        if how == "api":
            response = client.post(f"/api/v1/jobs/{job.pk}/finish/", {}, format="json")
            assert response.status_code == 200, response.json()
        else:
            url = reverse("admin:jobs_job_changelist")
            response = client.post(url, {"action": "mark_succeeded", "_selected_action": [job.pk]})
            assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "succeeded"
    return len(queries)


@pytest.mark.parametrize("how", ["api", "admin"])
def test_finishing_a_job_of_years_costs_the_request_what_a_job_of_weeks_does(
    how, manager, api, staff_client, django_capture_on_commit_callbacks
):
    client = api.as_user(manager) if how == "api" else staff_client
    now = timezone.now().replace(microsecond=0)
    team = manager.memberships.get().team
    weeks = JobFactory(team=team, gpu_count=2, start_time=now - timedelta(days=20), end_time=None, status="running")
    years = JobFactory(team=team, gpu_count=2, start_time=now - timedelta(days=1100), end_time=None, status="running")

    with django_capture_on_commit_callbacks(execute=True):
        few = _finish_queries(how, weeks, client)
    with django_capture_on_commit_callbacks(execute=True):
        many = _finish_queries(how, years, client)

    assert many == few  # 7 days rolled up in the request either way
    today = now.date()
    assert owed() == [(today - timedelta(days=1100), today - timedelta(days=6)),
                      (today - timedelta(days=20), today - timedelta(days=6))]  # fmt: skip
    assert set(UsageSnapshot.objects.values_list("date", flat=True)) == {today - timedelta(days=n) for n in range(7)}


def test_the_hourly_task_rolls_up_the_days_owed(db, django_capture_on_commit_callbacks):
    job = JobFactory(start_time=datetime(2025, 3, 1, 22, tzinfo=UTC), end_time=datetime(2025, 3, 20, 2, tzinfo=UTC))
    days = AffectedDays()
    days.add(job.start_time, job.end_time)
    with django_capture_on_commit_callbacks(execute=True):
        jobs_changed(days)
    assert owed() == [(date(2025, 3, 1), date(2025, 3, 14))]

    rollup_recent.delay()  # embedded: the fanned-out tasks run here

    assert owed() == []
    hours = dict(UsageSnapshot.objects.values_list("date", "gpu_hours"))
    assert (hours[date(2025, 3, 1)], hours[date(2025, 3, 13)], hours[date(2025, 3, 20)]) == (
        Decimal("2.0000"), Decimal("24.0000"), Decimal("2.0000"))  # fmt: skip
    assert len(hours) == 20


def test_rollup_async_without_dates_queues_the_days_owed_too(db, django_capture_on_commit_callbacks):
    JobFactory(start_time=datetime(2025, 3, 1, 22, tzinfo=UTC), end_time=datetime(2025, 3, 20, 2, tzinfo=UTC))
    RollupBacklog.objects.create(start=date(2025, 3, 1), end=date(2025, 3, 14))
    RollupBacklog.objects.create(start=date(2025, 3, 10), end=date(2025, 3, 21))  # overlaps: one range
    today = timezone.now().date()
    out = io.StringIO()

    call_command("rollup", "--async", stdout=out)  # embedded: the tasks run here

    # 2 tasks for yesterday and today, 1 for the owed days 2025-03-01 to 03-20 (it clears them once rolled up).
    assert out.getvalue() == (
        f"Queued 3 rollup task(s) for 2 day(s) [{today - timedelta(days=1)}, {today + timedelta(days=1)}) "
        "and the days owed.\n"
    )
    assert owed() == []
    assert UsageSnapshot.objects.filter(date__lte=date(2025, 3, 20)).count() == 20


def test_a_failed_backlog_task_leaves_the_days_owed(db, monkeypatch):
    RollupBacklog.objects.create(start=date(2025, 3, 1), end=date(2025, 3, 14))

    def fail(**kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr("costs.usage.services.backlog.usage_rollup", fail)
    with pytest.raises(RuntimeError):
        rollup_backlog.apply(throw=True)

    assert owed() == [(date(2025, 3, 1), date(2025, 3, 14))]


def _fail(**kwargs):
    raise RuntimeError("database went away")


@pytest.mark.django_db(transaction=True)  # the change commits for real: the rollup runs inside the request
def test_a_request_whose_rollup_fails_answers_and_owes_its_days_to_the_next_rollup(api, monkeypatch):
    user = UserFactory(username="lead")
    MembershipFactory(user=user, team=TeamFactory(name="nlp"), role="manager")
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))  # aws H100 from 2024-01-01
    body = {"team": str(user.memberships.get().team_id), "model_name": "llama", "provider": "aws",
            "gpu_type": "H100", "gpu_count": 2, "start_time": "2025-03-01T00:00:00Z",
            "end_time": "2025-03-11T00:00:00Z"}  # fmt: skip
    monkeypatch.setattr("costs.usage.services.fanout.usage_rollup", _fail)

    response = api.as_user(user).post("/api/v1/jobs/", body, format="json")

    assert response.status_code == 201, response.content
    assert Job.objects.get().gpu_count == 2  # the change is saved
    # 10 days: the 3 older than the request's 7 owed as always, the 7 it failed to roll up owed too.
    assert owed() == [(date(2025, 3, 1), date(2025, 3, 4)), (date(2025, 3, 4), date(2025, 3, 11))]
    assert UsageSnapshot.objects.count() == 0

    monkeypatch.undo()
    out = io.StringIO()
    call_command("rollup", "--no-progress", stdout=out)

    assert "Rolled up 10 day(s) that changes to jobs left owed: [2025-03-01, 2025-03-11).\n" in out.getvalue()
    assert owed() == []
    assert set(UsageSnapshot.objects.values_list("date", "gpu_hours", "estimated_cost_usd")) == {
        (date(2025, 3, 1) + timedelta(days=n), Decimal("48.0000"), Decimal("192.00")) for n in range(10)
    }


def test_a_command_whose_rollup_fails_owes_its_days_and_fails(db, monkeypatch, django_capture_on_commit_callbacks):
    days = AffectedDays()
    days.update([(date(2025, 3, 1), date(2025, 3, 2)), (date(2025, 3, 5), date(2025, 3, 5))])
    monkeypatch.setattr("costs.usage.services.fanout.usage_rollup", _fail)

    with pytest.raises(RuntimeError, match="database went away"), django_capture_on_commit_callbacks(execute=True):
        jobs_changed(days, inline_days=None)  # what an import command calls

    assert owed() == [(date(2025, 3, 1), date(2025, 3, 3)), (date(2025, 3, 5), date(2025, 3, 6))]


def test_the_dashboards_say_which_days_of_their_range_wait_for_a_rollup(manager, client):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    RollupBacklog.objects.create(start=date(2025, 2, 20), end=date(2025, 3, 5))  # owed: 02-20 to 03-04
    query = "?start=2025-03-01&end=2025-03-31"
    notice = "Days 2025-03-01 to 2025-03-04 wait for a rollup after a change to jobs"

    client.force_login(staff)
    assert notice in client.get("/admin/" + query).content.decode()  # only the days inside the range
    client.force_login(manager)
    assert notice in client.get("/" + query).content.decode()
    assert 'id="hx-owed"' not in client.get("/?start=2025-03-05&end=2025-03-31").content.decode()

    call_command("rollup", "--no-progress", stdout=io.StringIO())  # rolls up the owed days, then clears them

    assert 'id="hx-owed"' not in client.get("/" + query).content.decode()
    client.force_login(staff)
    assert 'id="hx-owed"' not in client.get("/admin/" + query).content.decode()
