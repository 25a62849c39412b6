"""A change to a job rolls up every day it covered before and after: import, API, admin, delete."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from costs.usage.models import RollupBacklog, UsageSnapshot
from costs.usage.services.backlog import usage_rollup_backlog
from costs.usage.services.rollup import usage_rollup
from jobs.models import Job
from jobs.services.changes import AffectedDays
from jobs.tests.factories import JobFactory
from teams.tests.factories import MembershipFactory, UserFactory

PHILLIPS = Path(__file__).parent / "fixtures" / "phillips_sacct.log"
# Job 196835 of the real phillips file: 2 GPUs (billing=12,cpu=12,gres/gpu=2,mem=31000M,node=1), account chaff.
REAL_LINE = next(line for line in PHILLIPS.read_text().splitlines() if line.startswith("196835|"))


def sacct_line(start: str, end: str, state: str) -> str:
    fields = REAL_LINE.split("|")
    fields[12], fields[13], fields[16] = start, end, state
    return "|".join(fields) + "\n"


def hours_by_day() -> dict[date, Decimal]:
    return dict(UsageSnapshot.objects.order_by("date").values_list("date", "gpu_hours"))


def owed_since_march_1() -> None:
    """The running job's change touched 2025-03-01 to today: the request rolled up the latest 7 days
    (jobs.services.changes.REQUEST_INLINE_DAYS), the older ones are owed; roll them up as `rollup` does."""
    week_ago = timezone.now().date() - timedelta(days=6)
    assert list(RollupBacklog.objects.values_list("start", "end")) == [(date(2025, 3, 1), week_ago)]
    assert hours_by_day()[date(2025, 3, 5)] == Decimal("24.0000")  # not rolled up yet
    usage_rollup_backlog()
    assert not RollupBacklog.objects.exists()


def test_affected_days_merge_old_and_new_intervals_into_ranges():
    now = datetime(2025, 3, 20, 12, tzinfo=UTC)
    days = AffectedDays(now=now)
    days.add(datetime(2025, 3, 1, 22, tzinfo=UTC), None)  # running: until now, 2025-03-20
    days.add(datetime(2025, 3, 1, 22, tzinfo=UTC), datetime(2025, 3, 2, 2, tzinfo=UTC))  # after it finished
    days.add(datetime(2025, 4, 1, 8, tzinfo=UTC), datetime(2025, 4, 2, 0, tzinfo=UTC))  # ends at midnight
    days.add(datetime(2025, 5, 1, 8, tzinfo=UTC), datetime(2025, 5, 1, 8, tzinfo=UTC))  # held no time
    days.add(None, None)  # pending

    assert days.ranges() == [(date(2025, 3, 1), date(2025, 3, 21)), (date(2025, 4, 1), date(2025, 4, 2))]
    assert days.count() == 20 + 1


def test_finishing_a_running_job_on_reimport_empties_the_days_it_no_longer_covers(
    db, tmp_path, capsys, django_capture_on_commit_callbacks
):
    day1 = timezone.now().date() - timedelta(days=5)
    day2 = day1 + timedelta(days=1)
    running, finished = tmp_path / "running.log", tmp_path / "finished.log"
    running.write_text(sacct_line(f"{day1}T22:00:00", "Unknown", "RUNNING"))
    finished.write_text(sacct_line(f"{day1}T22:00:00", f"{day2}T02:00:00", "COMPLETED"))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_jobs", str(running), "--format", "sacct", "--gpu-type", "V100", "--no-progress")
    hours = hours_by_day()
    # 2 GPUs: day 1 from 22:00 = 2 x 2 h = 4 GPU-h; days 2 to 5 whole = 2 x 24 h = 48 GPU-h each; today accrues.
    assert hours[day1] == Decimal("4.0000")
    assert [hours[day1 + timedelta(days=n)] for n in range(1, 5)] == [Decimal("48.0000")] * 4

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_jobs", str(finished), "--format", "sacct", "--gpu-type", "V100", "--no-progress")

    # Ended day 2 at 02:00: day 1 keeps 4 GPU-h, day 2 has 2 x 2 h = 4 GPU-h, days 3 to today have nothing.
    assert hours_by_day() == {day1: Decimal("4.0000"), day2: Decimal("4.0000")}
    assert f"Rolled up 6 day(s): [{day1}, {day1 + timedelta(days=6)})." in capsys.readouterr().out


@pytest.fixture
def running_job(db):
    """1 x H100 since 2025-03-01 22:00, still running; rolled up through 2025-03-05 as of 2025-03-06 00:00."""
    job = JobFactory(start_time=datetime(2025, 3, 1, 22, tzinfo=UTC), end_time=None, status="running")
    usage_rollup(start=date(2025, 3, 1), end=date(2025, 3, 6), now=datetime(2025, 3, 6, tzinfo=UTC))
    assert hours_by_day()[date(2025, 3, 5)] == Decimal("24.0000")
    return job


def test_api_finish_rolls_up_the_days_before_and_after(running_job, api, django_capture_on_commit_callbacks):
    manager = UserFactory(username="lead")
    MembershipFactory(user=manager, team=running_job.team, role="manager")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(manager).post(
            f"/api/v1/jobs/{running_job.pk}/finish/", {"end_time": "2025-03-02T02:00:00Z"}, format="json"
        )

    assert response.status_code == 200, response.json()
    # 2025-03-01 22:00-24:00 = 2 GPU-h, 2025-03-02 00:00-02:00 = 2 GPU-h; 03-03 to 03-05 emptied.
    owed_since_march_1()
    assert hours_by_day() == {date(2025, 3, 1): Decimal("2.0000"), date(2025, 3, 2): Decimal("2.0000")}


def test_api_delete_empties_every_day_of_the_job(running_job, api, django_capture_on_commit_callbacks):
    manager = UserFactory(username="lead")
    MembershipFactory(user=manager, team=running_job.team, role="manager")

    with django_capture_on_commit_callbacks(execute=True):
        assert api.as_user(manager).delete(f"/api/v1/jobs/{running_job.pk}/").status_code == 204

    owed_since_march_1()
    assert hours_by_day() == {}


def test_api_update_moving_a_job_rolls_up_the_old_and_the_new_days(db, api, django_capture_on_commit_callbacks):
    job = JobFactory(start_time=datetime(2025, 3, 1, 8, tzinfo=UTC), end_time=datetime(2025, 3, 1, 10, tzinfo=UTC))
    usage_rollup(start=date(2025, 3, 1), end=date(2025, 3, 2))
    manager = UserFactory(username="lead")
    MembershipFactory(user=manager, team=job.team, role="manager")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(manager).patch(
            f"/api/v1/jobs/{job.pk}/",
            {"start_time": "2025-03-09T08:00:00Z", "end_time": "2025-03-09T11:00:00Z"},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert hours_by_day() == {date(2025, 3, 9): Decimal("3.0000")}  # 1 GPU x 3 h; 03-01 emptied


def test_admin_edit_rolls_up_the_days_before_and_after(running_job, staff_client, django_capture_on_commit_callbacks):
    url = reverse("admin:jobs_job_change", args=[running_job.pk])
    form = {
        "team": running_job.team_id, "model_name": running_job.model_name, "status": "succeeded",
        "external_id": "", "provider": "aws", "region": "", "gpu_type": "H100", "gpu_count": 1,
        "pricing": "on_demand", "start_time_0": "2025-03-01", "start_time_1": "22:00:00",
        "end_time_0": "2025-03-03", "end_time_1": "12:00:00", "metadata": "{}",
    }  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    # 03-01 2 GPU-h, 03-02 24 GPU-h, 03-03 until 12:00 = 12 GPU-h; 03-04 and 03-05 emptied.
    owed_since_march_1()
    assert hours_by_day() == {
        date(2025, 3, 1): Decimal("2.0000"),
        date(2025, 3, 2): Decimal("24.0000"),
        date(2025, 3, 3): Decimal("12.0000"),
    }


def test_admin_bulk_delete_empties_the_jobs_days(running_job, staff_client, django_capture_on_commit_callbacks):
    url = reverse("admin:jobs_job_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url, {"action": "delete_selected", "_selected_action": [running_job.pk], "post": "yes"}
        )

    assert response.status_code == 302
    assert not Job.objects.exists()
    owed_since_march_1()
    assert hours_by_day() == {}
