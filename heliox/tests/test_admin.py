"""Every admin page answers, and the job changelist stays bounded."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, IntervalSchedule, SolarSchedule
from knox.models import AuthToken

from costs.billing.tests.factories import CostSnapshotFactory
from costs.budgets.models import Budget, BudgetAlert, WebhookEndpoint
from costs.catalog.models import ModelPrice
from costs.catalog.tests.factories import GpuPriceFactory, InstanceTypeFactory
from costs.llm.models import LlmCall, LlmUsageSnapshot
from costs.llm.tests.factories import LlmCallFactory
from costs.usage.models import FxRate, RollupBacklog
from costs.usage.tests.factories import UsageSnapshotFactory
from jobs.models import ImportRecord, Job
from jobs.tests.factories import JobFactory
from ops.models import TaskRun
from teams.tests.factories import MembershipFactory, TeamFactory

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.fixture
def one_of_each(db):
    Group.objects.create(name="finance")
    MembershipFactory()
    JobFactory()
    AuthToken.objects.create(user=MembershipFactory().user)
    budget = Budget.objects.create(team=TeamFactory(), amount_usd=Decimal("100.00"))
    BudgetAlert.objects.create(
        budget=budget, period_start=date(2025, 3, 1), kind="threshold", threshold=50, channel="email",
        target="a@example.com", outcome="sent", spend_usd=Decimal("60"),
    )  # fmt: skip
    team = TeamFactory()
    ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o",
        input_usd_per_mtok=Decimal("2.5"),
        output_usd_per_mtok=Decimal("10"),
        effective_from=datetime(2025, 1, 1, tzinfo=UTC),
    )
    FxRate.objects.create(currency="ZAR", rate_per_usd=Decimal("18.2"), as_of=date(2025, 1, 1))
    LlmCallFactory(team=team, input_tokens=10, output_tokens=None, cost_picousd=25_000_000)
    LlmUsageSnapshot.objects.create(date=date(2025, 3, 10), team=team, provider="openai", model="gpt-4o", calls=1,
                                    input_tokens=10, output_tokens=0, cost_usd=Decimal("0.00"))  # fmt: skip
    ImportRecord.objects.create(kind="jobs", file_name="x.csv", sha256="0" * 64, format="csv", status="succeeded")
    GpuPriceFactory()
    InstanceTypeFactory()
    CostSnapshotFactory()
    UsageSnapshotFactory()
    login = {"ip_address": "10.0.0.1", "user_agent": "test", "username": "bob", "http_accept": "*/*",
             "path_info": "/admin/login/"}  # fmt: skip
    AccessAttempt.objects.create(**login, failures_since_start=5)
    AccessFailureLog.objects.create(**login)
    AccessLog.objects.create(**login)
    WebhookEndpoint.objects.create(url="https://hooks.example.com/x", failures=1)
    # Beat schedules (the crontab and periodic task of the default prune schedule exist already).
    ClockedSchedule.objects.create(clocked_time=datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    SolarSchedule.objects.create(event="sunrise", latitude=Decimal("52.37"), longitude=Decimal("4.89"))
    TaskRun.objects.create(task_id="t-1", name="ops.ping", state="succeeded", attempts=1, result='"pong"')
    RollupBacklog.objects.create(start=date(2024, 1, 1), end=date(2025, 12, 25))


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_add_and_change_pages_answer_200(staff_client, one_of_each, model):
    assert staff_client.get(_url(model, "changelist")).status_code == 200
    # Written by imports, commands, the API, the login lockout, the tasks.
    read_only = model in (
        ImportRecord, AuthToken, BudgetAlert, LlmCall, WebhookEndpoint, AccessAttempt, AccessFailureLog, AccessLog,
        TaskRun, RollupBacklog,
    )  # fmt: skip
    assert staff_client.get(_url(model, "add")).status_code == (403 if read_only else 200)
    obj = model.objects.first()
    assert staff_client.get(_url(model, "change", obj.pk)).status_code == 200


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(_url(Job, "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_mark_succeeded_sets_end_time_only_where_missing(staff_client, db):
    ended_at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    running = JobFactory(status="running", end_time=None)
    finished = JobFactory(status="failed", end_time=ended_at)

    before = timezone.now().replace(microsecond=0)
    response = staff_client.post(
        _url(Job, "changelist"), {"action": "mark_succeeded", "_selected_action": [running.pk, finished.pk]}
    )

    assert response.status_code == 302
    running.refresh_from_db()
    finished.refresh_from_db()
    assert (running.status, finished.status) == ("succeeded", "succeeded")
    assert running.end_time >= before
    assert finished.end_time == ended_at


def test_mark_cancelled_ends_a_future_job_at_its_start(staff_client, db):
    start = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    future = JobFactory(status="pending", start_time=start, end_time=None)
    pending = JobFactory(status="pending", start_time=None, end_time=None)

    response = staff_client.post(
        _url(Job, "changelist"), {"action": "mark_cancelled", "_selected_action": [future.pk, pending.pk]}, follow=True
    )

    future.refresh_from_db()
    pending.refresh_from_db()
    assert (future.status, future.end_time) == ("cancelled", start)
    # A job that never started is not finished, here as in the API (jobs.services.lifecycle.job_finish).
    assert (pending.status, pending.end_time) == ("pending", None)
    assert [str(m) for m in response.context["messages"]] == [
        "1 job(s) marked cancelled.",
        "1 job(s) left as they were: The job never started; it cannot finish.",
    ]


def _changelist_queries(staff_client, django_assert_max_num_queries, params=""):
    with django_assert_max_num_queries(14) as captured:
        response = staff_client.get(_url(Job, "changelist") + params)
    assert response.status_code == 200
    return len(captured)


def test_job_changelist_query_count_does_not_grow_with_rows(staff_client, django_assert_max_num_queries, db):
    JobFactory.create_batch(3)
    few = _changelist_queries(staff_client, django_assert_max_num_queries)
    JobFactory.create_batch(60)
    many = _changelist_queries(staff_client, django_assert_max_num_queries)
    filtered = _changelist_queries(staff_client, django_assert_max_num_queries, "?status__exact=succeeded&q=llama")
    assert few == many
    assert filtered <= many


def test_job_changelist_never_counts_more_than_the_bound(staff_client, db, settings, monkeypatch):
    from heliox.admin_utils import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 5)
    JobFactory.create_batch(8)

    response = staff_client.get(_url(Job, "changelist"))

    assert len(response.context["cl"].result_list) == 8
    if connection.vendor != "postgresql":  # a lower bound; PostgreSQL gives its planner's estimate instead
        assert response.context["cl"].paginator.approximate
        assert response.context["cl"].result_count == 5
        assert "more than 5 jobs" in response.content.decode()


def test_job_changelist_pages_past_the_count_bound_to_the_last_page(staff_client, db, monkeypatch):
    """19 jobs, 4 counted, 3 a page: ?p=7 (the 19th job) is served, not bounced to ?e=1, and fixes the count."""
    from heliox.admin_utils import BoundedCountPaginator
    from jobs.admin import JobAdmin

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 4)
    monkeypatch.setattr(JobAdmin, "list_per_page", 3)
    JobFactory.create_batch(19)

    first = staff_client.get(_url(Job, "changelist"))
    assert first.context["cl"].paginator.approximate
    assert "?p=2" in first.content.decode()  # "Next page", past the counted bound
    last = staff_client.get(_url(Job, "changelist") + "?p=7")
    assert last.status_code == 200
    assert len(last.context["cl"].result_list) == 1
    assert not last.context["cl"].paginator.approximate
    assert last.context["cl"].paginator.count == 19
    assert "Next page" not in last.content.decode()
    assert staff_client.get(_url(Job, "changelist") + "?p=8")["Location"].endswith("?e=1")  # past the end


def test_llm_call_changelist_pages_past_the_count_bound_to_the_last_page(staff_client, db, monkeypatch):
    """Issue 16, item 4 names the LLM-call list too: 7 calls, 4 counted, 3 a page; ?p=3 has the 7th."""
    from costs.llm.admin import LlmCallAdmin
    from heliox.admin_utils import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 4)
    monkeypatch.setattr(LlmCallAdmin, "list_per_page", 3)
    LlmCallFactory.create_batch(7, team=TeamFactory())

    assert "?p=2" in staff_client.get(_url(LlmCall, "changelist")).content.decode()
    last = staff_client.get(_url(LlmCall, "changelist") + "?p=3")
    assert last.status_code == 200
    assert (len(last.context["cl"].result_list), last.context["cl"].paginator.count) == (1, 7)
    assert not last.context["cl"].paginator.approximate
    assert "Next page" not in last.content.decode()


def test_job_changelist_count_is_postgresqls_estimate_marked_approximate(postgres_only, staff_client, monkeypatch):
    from heliox.admin_utils import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 5)
    JobFactory.create_batch(40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_job")

    response = staff_client.get(_url(Job, "changelist"))
    paginator = response.context["cl"].paginator
    assert (paginator.approximate, paginator.estimated, paginator.count) == (True, True, 40)
    assert "about 40 jobs (estimated)" in response.content.decode()
    filtered = staff_client.get(_url(Job, "changelist") + "?status__exact=succeeded").context["cl"].paginator
    assert filtered.estimated  # the plan's estimate for a filtered list
    assert filtered.count > 5


def test_job_date_hierarchy_lists_periods_between_first_and_last_job(staff_client, db):
    JobFactory(start_time=datetime(2024, 11, 5, 8, tzinfo=UTC))
    JobFactory(start_time=datetime(2025, 1, 10, 8, tzinfo=UTC))
    JobFactory(start_time=datetime(2025, 3, 20, 8, tzinfo=UTC))

    years = staff_client.get(_url(Job, "changelist")).content.decode()
    months = staff_client.get(_url(Job, "changelist") + "?start_time__year=2025").content.decode()

    assert "?start_time__year=2024" in years
    assert "?start_time__year=2025" in years
    # every month from the first to the last job of the year, February included though empty
    assert all(f"start_time__month={month}" in months for month in (1, 2, 3))
    assert "start_time__month=4" not in months
