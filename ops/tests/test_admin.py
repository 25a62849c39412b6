from datetime import timedelta

from django.utils import timezone

from ops.models import TaskRun


def _runs():
    now = timezone.now()
    TaskRun.objects.create(task_id="11111111-aaaa", name="ops.ping", state="succeeded", attempts=1,
                           worker="celery@w1", started_at=now, finished_at=now + timedelta(seconds=2),
                           duration_ms=1500, result='"pong"')  # fmt: skip
    TaskRun.objects.create(task_id="22222222-bbbb", name="usage.rollup_day", state="failed", attempts=2,
                           started_at=now, finished_at=now, error="ValueError: line 7",
                           arguments='{"args": ["2025-03-10"]}', progress_done=250, progress_total=1000)  # fmt: skip


def test_the_task_run_log_lists_runs_with_progress_and_duration(staff_client, django_assert_max_num_queries):
    _runs()
    with django_assert_max_num_queries(12):
        response = staff_client.get("/admin/ops/taskrun/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "usage.rollup_day" in page
    assert "ops.ping" in page
    assert "250 / 1,000 (25%)" in page
    assert "1.5 s" in page


def test_the_task_run_log_filters_by_state_and_finds_a_task_id(staff_client):
    _runs()

    def listed(query: str) -> list[str]:
        return [run.name for run in staff_client.get(f"/admin/ops/taskrun/?{query}").context["cl"].result_list]

    assert listed("") == ["usage.rollup_day", "ops.ping"]  # newest first
    assert listed("state__exact=failed") == ["usage.rollup_day"]
    assert listed("name=ops.ping") == ["ops.ping"]
    assert listed("q=11111111-aaaa") == ["ops.ping"]
    assert listed("q=11111111") == []  # a task id is matched whole


def test_a_run_shows_its_arguments_and_error_read_only(staff_client):
    _runs()
    run = TaskRun.objects.get(name="usage.rollup_day")
    response = staff_client.get(f"/admin/ops/taskrun/{run.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "ValueError: line 7" in page
    assert "2025-03-10" in page
    assert 'name="state"' not in page  # nothing to edit
    assert staff_client.get("/admin/ops/taskrun/add/").status_code == 403


def test_staff_edit_the_schedules_in_the_admin(staff_client):
    response = staff_client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200
    assert "Prune the task-run log" in response.content.decode()
