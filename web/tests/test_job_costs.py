"""What the member pages show of job costs: the job list's totals (sortable, in the CSV), a job's per-day
breakdown, a team's most expensive jobs. Unknown is shown as unknown, never $0."""

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs.usage.services.rollup import usage_rollup
from jobs.tests.factories import JobFactory

DAY = datetime(2025, 3, 10, tzinfo=UTC)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def costed(org):
    """nlp's llama ($32.00), an A100 job without a price (2 GPU-h unpriced), a job not rolled up yet."""
    nlp = org["teams"]["nlp"]
    unpriced = JobFactory(team=nlp, model_name="bert", gpu_type="A100", gpu_count=1,
                          start_time=DAY.replace(hour=4), end_time=DAY.replace(hour=6))  # fmt: skip
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    later = JobFactory(team=nlp, model_name="t5", gpu_count=1, start_time=DAY.replace(day=12, hour=1),
                       end_time=DAY.replace(day=12, hour=2))  # fmt: skip
    return {"llama": org["jobs"]["llama"], "unpriced": unpriced, "later": later}


def test_job_list_shows_each_jobs_totals_and_unknown_as_unknown(costed, as_role):
    response = as_role("member").get("/jobs/?sort=-cost")
    jobs = list(response.context["page"])
    assert [(j.model_name, j.gpu_hours, j.estimated_usd, j.allocated_usd, j.unpriced_gpu_hours) for j in jobs] == [
        ("llama", Decimal("8.0000"), Decimal("32.00"), Decimal("32.00"), Decimal("0.0000")),
        ("bert", Decimal("2.0000"), None, None, Decimal("2.0000")),
        ("t5", None, None, None, None),
    ]
    page = response.content.decode()
    assert "vit" not in page
    assert page.count(">unpriced</span>") == 2
    assert page.count(">not rolled up yet</span>") == 3  # t5: estimated, allocated, unpriced
    assert "32.00" in page
    assert "$0" not in page
    assert [j.model_name for j in as_role("member").get("/jobs/?sort=cost").context["page"]] == ["llama", "bert", "t5"]


@pytest.mark.parametrize("sort", ["-cost", "cost", "-allocated"])
def test_job_list_sorted_by_a_total_pages_across_known_and_unknown_totals(costed, as_role, monkeypatch, sort):
    # Known totals and unknown ones are two queries (each on the total's index): pages meet without a gap.
    for hour in (7, 9):  # two more priced jobs of nlp: $4.00 and $8.00
        JobFactory(team=costed["llama"].team, model_name=f"m{hour}", gpu_count=1, start_time=DAY.replace(hour=hour),
                   end_time=DAY.replace(hour=hour + hour // 8 + 1))  # fmt: skip
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    monkeypatch.setattr("web.views.jobs.PAGE_SIZE", 2)
    client = as_role("member")
    pages = [[j.model_name for j in client.get(f"/jobs/?sort={sort}&page={n}").context["page"]] for n in (1, 2, 3)]
    known = {"-cost": ["llama", "m9", "m7"], "cost": ["m7", "m9", "llama"], "-allocated": ["llama", "m9", "m7"]}[sort]
    assert pages == [known[:2], [known[2], "bert"], ["t5"]]
    assert client.get(f"/jobs/?sort={sort}").context["page"].paginator.count == 5
    csv_names = [row[2] for row in csv_rows(client.get(f"/jobs/?sort={sort}&format=csv"))[1:]]
    assert csv_names == [*known, "bert", "t5"]


def test_job_list_csv_holds_the_totals_of_ones_own_jobs(costed, as_role):
    rows = csv_rows(as_role("member").get("/jobs/?sort=-cost&format=csv"))
    assert rows[0][-7:] == ["gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "gpu_util_avg",
                            "used_gpu_hours", "waste_usd"]  # fmt: skip
    # No job here is measured: utilisation, used GPU-hours and waste are empty (unknown), not 0.
    assert [[row[2], *row[-6:]] for row in rows[1:]] == [
        ["llama", "32.00", "32.00", "0.0000", "", "", ""], ["bert", "", "", "2.0000", "", "", ""],
        ["t5", "", "", "", "", "", ""]]  # fmt: skip
    everyone = csv_rows(as_role("superuser").get("/jobs/?sort=-cost&format=csv"))
    assert [[row[2], row[-6]] for row in everyone[1:]] == [
        ["llama", "32.00"], ["vit", "8.00"], ["bert", ""], ["t5", ""]]  # fmt: skip


def test_job_page_breaks_the_cost_down_per_day_and_the_days_add_up_to_the_totals(org, as_role):
    # llama again on 2025-03-11 22:00 -> 03-12 02:00, 1 x H100 at $4.00: 2 GPU-h ($8.00) on each day; labels shown.
    job = JobFactory(team=org["teams"]["nlp"], model_name="llama", gpu_count=1,
                     labels={"project": "chat", "user": "bob"}, start_time=datetime(2025, 3, 11, 22, tzinfo=UTC),
                     end_time=datetime(2025, 3, 12, 2, tzinfo=UTC))  # fmt: skip
    usage_rollup(start=date(2025, 3, 11), end=date(2025, 3, 13), now=datetime(2025, 3, 13, tzinfo=UTC))
    response = as_role("member").get(f"/jobs/{job.pk}/")
    costs = response.context["costs"]
    days = [(d["date"], d["gpu_hours"], d["price_usd_per_gpu_hour"], d["estimated_usd"], d["allocated_usd"])
            for d in costs["days"]]  # fmt: skip
    assert days == [
        (date(2025, 3, 11), Decimal("2.0000"), Decimal("4.0000"), Decimal("8.00"), Decimal("8.00")),
        (date(2025, 3, 12), Decimal("2.0000"), Decimal("4.0000"), Decimal("8.00"), Decimal("8.00")),
    ]
    assert (costs["gpu_hours"], costs["estimated_usd"], costs["allocated_usd"]) == (
        Decimal("4.0000"), Decimal("16.00"), Decimal("16.00"))  # fmt: skip
    assert sum(d[3] for d in days) == costs["estimated_usd"]
    assert sum(d[4] for d in days) == costs["allocated_usd"]
    page = response.content.decode()
    assert 'id="hx-job-cost-estimated">16.00\n</td>' in page
    assert "<code>project=chat</code>, <code>user=bob</code>" in page
    assert as_role("member").get(f"/jobs/{org['jobs']['vit'].pk}/").status_code == 404


def test_job_page_shows_an_unpriced_day_and_a_job_not_rolled_up_as_unknown(costed, as_role):
    client = as_role("member")
    unpriced = client.get(f"/jobs/{costed['unpriced'].pk}/")
    assert [(d["gpu_hours"], d["price_usd_per_gpu_hour"]) for d in unpriced.context["costs"]["days"]] == [
        (Decimal("2.0000"), None)]  # fmt: skip
    page = unpriced.content.decode()
    assert page.count(">unpriced</span>") == 5  # the day's price, estimated, allocated; the totals
    assert page.count(">unmeasured</span>") == 7  # utilisation; the day's used, waste and allocated waste; the totals
    assert "2.0000 GPU-h unpriced" in page
    later = client.get(f"/jobs/{costed['later'].pk}/").content.decode()
    assert "Not rolled up yet</span>" in later


def test_team_page_lists_its_most_expensive_jobs_in_range(costed, as_role):
    response = as_role("member").get(f"/teams/{costed['llama'].team_id}/?start=2025-03-10&end=2025-03-11")
    rows = [(r["model_name"], r["gpu_hours"], r["unpriced_gpu_hours"], r["estimated_usd"], r["allocated_usd"])
            for r in response.context["costliest_jobs"]]  # fmt: skip
    assert rows == [
        ("llama", Decimal("8.0000"), Decimal("0.0000"), Decimal("32.00"), Decimal("32.00")),
        ("bert", Decimal("2.0000"), Decimal("2.0000"), None, None),
    ]
    page = response.content.decode()
    assert 'id="hx-costliest"' in page
    assert f'href="/jobs/{costed["unpriced"].pk}/"' in page
    assert "vit" not in page


ESTIMATED_COLUMN = 11  # the estimated USD column of jobs.admin.JobAdmin.list_display, after the actions checkbox


@pytest.mark.postgres
@pytest.mark.parametrize(
    "url",
    [
        "/jobs/?sort=-cost",
        "/jobs/?sort=cost",
        "/jobs/?sort=-allocated",
        f"/admin/jobs/job/?o={ESTIMATED_COLUMN}",
        f"/admin/jobs/job/?o=-{ESTIMATED_COLUMN}",
    ],
)
def test_cost_sorts_are_read_in_order_from_the_totals_indexes(costed, as_role, postgres_only, url):
    # With sorting priced out, a query that an index cannot serve in order still plans a Sort of every job.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert as_role("superuser").get(url).status_code == 200
    ordered = [
        q["sql"]
        for q in captured
        if q["sql"].startswith("SELECT")
        and '"jobs_job"' in q["sql"]
        and re.search(r'ORDER BY "jobs_jobtotals"\."(estimated|allocated)_usd"', q["sql"])
    ]
    assert ordered, [q["sql"] for q in captured]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        for sql in ordered:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            # A full Sort node fails; the admin's "Incremental Sort" of equal totals on the index's order is fine.
            assert not re.search(r"^\s*(->\s*)?Sort\s+\(", plan, re.MULTILINE), plan
            assert "jobs_totals_estimated_idx" in plan or "jobs_totals_allocated_idx" in plan, plan


@pytest.fixture
def wasteful(org):
    """nlp's 1 x H100 job at 25 % from 2025-03-10 22:00 to 03-11 02:00 (2 GPU-h, $8.00 estimated, $6.00 wasted
    each day) and a 1 x A100 job at 50 % on the 10th without a price. The bill covers the 10th's estimate ($48.00
    of $50.00): allocated $8.00, $6.00 of it idle; the 11th's bill is $4.00: allocated $4.00, $3.00 idle."""
    from costs.billing.tests.factories import CostSnapshotFactory

    nlp = org["teams"]["nlp"]
    CostSnapshotFactory(date=date(2025, 3, 11), cost_usd=Decimal("4.00"))
    jobs = {
        "split": JobFactory(team=nlp, model_name="gpt", gpu_count=1, gpu_util_avg=Decimal("25.00"),
                            gpu_util_source="api", start_time=DAY.replace(hour=22),
                            end_time=DAY.replace(day=11, hour=2)),
        "unpriced": JobFactory(team=nlp, model_name="bert", gpu_type="A100", gpu_count=1, gpu_util_avg=Decimal("50.00"),
                               gpu_util_source="api", start_time=DAY.replace(hour=4), end_time=DAY.replace(hour=6)),
    }  # fmt: skip
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    return jobs


WASTES = ("waste_usd", "allocated_waste_usd", "allocated_shared_waste_usd")


def cost_rows(page: str) -> list[list[str]]:
    """The job page's cost table, a row of cell texts per day and the total row (tags stripped)."""
    table = page.split('id="hx-job-costs"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in rows[1:]]  # fmt: skip


def test_job_page_shows_the_allocated_waste_per_day_and_in_total(wasteful, as_role):
    client = as_role("member")
    response = client.get(f"/jobs/{wasteful['split'].pk}/")
    assert [(d["date"], d["waste_usd"], d["allocated_waste_usd"]) for d in response.context["costs"]["days"]] == [
        (date(2025, 3, 10), Decimal("6.00"), Decimal("6.00")),
        (date(2025, 3, 11), Decimal("6.00"), Decimal("3.00")),
    ]
    assert cost_rows(response.content.decode()) == [
        ["2025-03-10", "2.0000", "4.0000", "8.00", "8.00", "0.5000", "6.00", "6.00"],
        ["2025-03-11", "2.0000", "4.0000", "8.00", "4.00", "0.5000", "6.00", "3.00"],
        ["Total", "4.0000", "", "16.00", "12.00", "1.0000", "12.00", "9.00"],
    ]  # fmt: skip
    # measured but without a price: its allocated waste is unpriced (unknown), never $0, as its waste
    unpriced = cost_rows(client.get(f"/jobs/{wasteful['unpriced'].pk}/").content.decode())
    assert unpriced == [
        ["2025-03-10", "2.0000", "unpriced", "unpriced", "unpriced", "1.0000", "unpriced", "unpriced"],
        ["Total", "2.0000", "2.0000 GPU-h unpriced", "unpriced", "unpriced", "1.0000", "unpriced", "unpriced"],
    ]  # fmt: skip
    api = client.get(f"/api/v1/jobs/{wasteful['split'].pk}/costs/?format=csv")
    assert [row[-2] for row in csv_rows(api)] == ["allocated_waste_usd", "6.00", "3.00"]
    # the API's day of the unpriced job: its waste and allocated waste unknown (null, an empty cell), as its totals
    body = client.get(f"/api/v1/jobs/{wasteful['unpriced'].pk}/costs/").json()
    [day] = body["days"]
    assert [day[name] for name in WASTES] == [None, None, None]
    assert (body["waste_usd"], body["allocated_waste_usd"], day["used_gpu_hours"]) == (None, None, "1.0000")
    [_, cells] = csv_rows(client.get(f"/api/v1/jobs/{wasteful['unpriced'].pk}/costs/?format=csv"))
    assert cells[-3:] == ["", "", ""]
