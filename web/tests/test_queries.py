"""Every member page reads a bounded number of queries, whatever the number of teams, jobs, days or edits."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from costs.budgets.tests.factories import BudgetFactory
from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory
from teams.tests.factories import MembershipFactory, TeamFactory
from web.tests.conftest import RANGE

WIDE = "start=2025-03-01&end=2025-04-01"


def pages(org, budgets) -> list[str]:
    nlp, llama = org["teams"]["nlp"], org["jobs"]["llama"]
    return [f"/?{RANGE}", f"/?{WIDE}", f"/?format=csv&{WIDE}", f"/?format=json&{WIDE}", f"/teams/{nlp.pk}/?{WIDE}",
            f"/teams/{nlp.pk}/?format=json&{WIDE}", f"/teams/{nlp.pk}/model/?model=llama&{WIDE}",
            f"/teams/{nlp.pk}/label/?key=project&value=(unlabelled)&{WIDE}",
            f"/teams/{nlp.pk}/label/?key=project&value=(unlabelled)&format=csv&{WIDE}", "/jobs/",
            "/jobs/?format=csv", f"/jobs/{llama.pk}/", f"/jobs/{llama.pk}/edit/", "/budgets/", "/tokens/"]  # fmt: skip


def counts(client, urls: list[str]) -> dict[str, int]:
    found = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        found[url] = len(queries)
    return found


@pytest.mark.parametrize("role", ["manager", "superuser"])
def test_query_counts_do_not_grow_with_the_data(org, budgets, as_role, role, users):
    client = as_role(role)
    urls = pages(org, budgets)
    before = counts(client, urls)
    # Ten more teams of alice's, each with jobs on every day of March, budgets, and edits of the llama job.
    for n in range(10):
        team = TeamFactory(name=f"extra-{n}")
        MembershipFactory(user=users["manager"], team=team, role="manager")
        BudgetFactory(team=team)
        for day in range(1, 29, 3):
            JobFactory(team=team, model_name=f"model-{day % 4}", start_time=datetime(2025, 3, day, tzinfo=UTC))
    usage_rollup(start=date(2025, 3, 1), end=date(2025, 4, 1), now=datetime(2025, 4, 1, tzinfo=UTC))
    llama = org["jobs"]["llama"]
    for count in (1, 2, 3):
        llama.gpu_count = count
        llama.end_time += timedelta(minutes=1)
        llama.save()
    after = counts(client, urls)
    assert after == before
    assert max(after.values()) <= 30, after
