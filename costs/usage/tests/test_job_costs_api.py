"""Job costs through the API: job fields and ordering, a job's per-day costs, the most expensive jobs; scoping."""

from datetime import UTC, date, datetime

import pytest

from costs.usage.services.rollup import usage_rollup
from heliox.testing import PERMISSION_QUERIES, THROTTLE_QUERIES, fresh
from jobs.models import Job
from jobs.tests.factories import JobFactory

DAY = datetime(2025, 3, 10, tzinfo=UTC)


def test_job_fields_carry_the_rolled_up_totals_as_strings(org, api):
    llama = org["jobs"]["llama"]
    body = api.as_user(org["users"]["bob"]).get(f"/api/v1/jobs/{llama.pk}/").json()

    # 8 GPU-h x $4 = $32; the $50 bill covers the $40 estimate, so the allocation (idle apart) is the estimate.
    assert {k: body[k] for k in ("gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "labels")} == {
        "gpu_hours": "8.0000",
        "estimated_usd": "32.00",
        "allocated_usd": "32.00",
        "unpriced_gpu_hours": "0.0000",
        "labels": {},
    }


@pytest.fixture
def priced_jobs(org):
    """nlp: llama $32, plus three more jobs of $4, $12 and unknown (no price), and one not rolled up.

    The H100 cell's estimate is now $56 against the $50 bill: idle kept apart, nlp gets $42.86 of it
    (llama $28.57, the llama-3-8b model row $14.29: mid $10.72, small $3.57) and vision $7.14.
    """
    nlp = org["teams"]["nlp"]
    for hours, external_id in ((1, "small"), (3, "mid")):
        JobFactory(team=nlp, start_time=DAY.replace(hour=5), end_time=DAY.replace(hour=5 + hours),
                   external_id=external_id)  # fmt: skip
    JobFactory(team=nlp, gpu_type="MI300X", start_time=DAY.replace(hour=5), end_time=DAY.replace(hour=6),
               external_id="unpriced")  # fmt: skip
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    JobFactory(team=nlp, start_time=DAY.replace(day=20), end_time=DAY.replace(day=20, hour=1), external_id="later")
    return org


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [job["external_id"] for job in response.json()["results"]]


def test_jobs_sort_by_estimated_cost_with_unknown_last(priced_jobs, api):
    client = api.as_user(priced_jobs["users"]["bob"])

    most_first = ids(client.get("/api/v1/jobs/?ordering=-estimated_usd"))
    assert most_first[:3] == ["nlp-1", "mid", "small"]
    # Unknown last, by id: "later" is not rolled up, "unpriced" has no price.
    assert most_first[3:] == sorted(["later", "unpriced"], key=lambda e: Job.objects.get(external_id=e).pk)
    assert ids(client.get("/api/v1/jobs/?ordering=estimated_usd"))[:3] == ["small", "mid", "nlp-1"]
    assert ids(client.get("/api/v1/jobs/?ordering=-unpriced_gpu_hours"))[0] == "unpriced"


def test_sorted_job_list_pages_by_offset_and_refuses_unknown_orderings(priced_jobs, api):
    client = api.as_user(priced_jobs["users"]["bob"])

    first = client.get("/api/v1/jobs/?ordering=-allocated_usd&page_size=2").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    pages = [[job["external_id"] for job in page["results"]] for page in (first, second, third)]
    assert pages[0] == ["nlp-1", "mid"]
    assert pages[1][0] == "small"
    assert sorted(pages[1][1:] + pages[2]) == ["later", "unpriced"]
    assert third["next"] is None
    bad = client.get("/api/v1/jobs/?ordering=team")
    assert bad.status_code == 400
    assert "ordering" in bad.json()


def test_sorted_job_list_runs_a_bounded_number_of_queries(priced_jobs, api, django_assert_max_num_queries):
    # The known totals, the unknown ones once the page reaches them: two queries whatever the page size.
    JobFactory.create_batch(30, team=priced_jobs["teams"]["vision"])
    client = api.as_user(fresh(priced_jobs["users"]["staff"]))
    with django_assert_max_num_queries(2 + THROTTLE_QUERIES + PERMISSION_QUERIES):
        assert client.get("/api/v1/jobs/?ordering=-estimated_usd&page_size=100").status_code == 200


def test_job_costs_per_day_with_the_price_used(priced_jobs, api):
    llama = priced_jobs["jobs"]["llama"]
    body = api.as_user(priced_jobs["users"]["bob"]).get(f"/api/v1/jobs/{llama.pk}/costs/").json()

    assert body == {
        "job": str(llama.pk),
        "team": "nlp",
        "gpu_hours": "8.0000",
        "estimated_usd": "32.00",
        "allocated_usd": "28.57",
        "unpriced_gpu_hours": "0.0000",
        "used_gpu_hours": None,  # unmeasured: unknown
        "waste_usd": None,
        "allocated_waste_usd": None,
        "gpu_util_avg": None,
        "days": [
            {"date": "2025-03-10", "gpu_hours": "8.0000", "unpriced_gpu_hours": "0.0000",
             "price_usd_per_gpu_hour": "4.0000", "estimated_usd": "32.00", "allocated_usd": "28.57",
             "allocated_shared_usd": "28.57", "used_gpu_hours": None, "unmeasured_gpu_hours": "8.0000",
             "measured_gpu_hours": "0.0000", "waste_usd": None, "allocated_waste_usd": None,
             "allocated_shared_waste_usd": None},
        ],
    }  # fmt: skip


def test_another_teams_job_costs_are_a_404_and_staff_see_them(org, api):
    vit = org["jobs"]["vit"]
    assert api.as_user(org["users"]["bob"]).get(f"/api/v1/jobs/{vit.pk}/costs/").status_code == 404
    assert api.as_user(org["users"]["dave"]).get(f"/api/v1/jobs/{vit.pk}/costs/").status_code == 404
    assert api.as_user(org["users"]["staff"]).get(f"/api/v1/jobs/{vit.pk}/costs/").status_code == 200


def test_top_jobs_of_a_range_by_allocated_cost_unknown_last(priced_jobs, api):
    url = "/api/v1/costs/top-jobs?start=2025-03-01&end=2025-04-01&limit=10"
    body = api.as_user(priced_jobs["users"]["staff"]).get(url).json()

    assert [(j["external_id"], j["team"], j["estimated_usd"], j["allocated_usd"]) for j in body["jobs"]] == [
        ("nlp-1", "nlp", "32.00", "28.57"),
        ("mid", "nlp", "12.00", "10.72"),
        ("vision-1", "vision", "8.00", "7.14"),
        ("small", "nlp", "4.00", "3.57"),
        ("unpriced", "nlp", None, None),
    ]
    assert body["jobs"][-1]["unpriced_gpu_hours"] == "1.0000"


def test_members_top_jobs_are_their_teams_only(priced_jobs, api):
    url = "/api/v1/costs/top-jobs?start=2025-03-01&end=2025-04-01&limit=2"
    carol = api.as_user(priced_jobs["users"]["carol"]).get(url).json()
    assert [j["external_id"] for j in carol["jobs"]] == ["vision-1"]
    bob = api.as_user(priced_jobs["users"]["bob"]).get(url).json()
    assert [j["external_id"] for j in bob["jobs"]] == ["nlp-1", "mid"]
    assert api.as_user(priced_jobs["users"]["dave"]).get(url).json()["jobs"] == []


def test_top_jobs_refuses_a_bad_limit_naming_it(org, api):
    response = api.as_user(org["users"]["staff"]).get("/api/v1/costs/top-jobs?start=2025-03-01&limit=0")
    assert response.status_code == 400
    assert "limit" in response.json()


@pytest.fixture
def labelled(org):
    """nlp's llama is project atlas; vision's vit has no project; another nlp job is project borealis."""
    Job.objects.filter(pk=org["jobs"]["llama"].pk).update(labels={"project": "atlas", "user": "alice"})
    JobFactory(team=org["teams"]["nlp"], model_name="bert", start_time=DAY.replace(hour=5),
               end_time=DAY.replace(hour=6), external_id="nlp-2", labels={"project": "borealis"})  # fmt: skip
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    return org


def summary_rows(response) -> list[tuple]:
    assert response.status_code == 200, response.json()
    return [tuple(row[k] for k in (*response.json()["group_by"], "estimated_usd", "allocated_usd"))
            for row in response.json()["rows"]]  # fmt: skip


def test_summary_by_label_adds_up_to_the_team_with_an_unlabelled_row(labelled, api):
    url = "/api/v1/costs/summary?start=2025-03-01&end=2025-04-01&group_by=label:project,team"
    response = api.as_user(labelled["users"]["staff"]).get(url)

    # H100 cell: estimates $32 + $4 + $8 = $44 against a $50 bill: each allocation is its estimate, $6 idle.
    assert sorted(summary_rows(response)) == [
        ("(idle)", "(idle)", "0.00", "0.00"),
        ("(unlabelled)", "vision", "8.00", "8.00"),
        ("atlas", "nlp", "32.00", "32.00"),
        ("borealis", "nlp", "4.00", "4.00"),
    ]
    rows = {(r["label:project"], r["team"]): r for r in response.json()["rows"]}
    assert (rows[("atlas", "nlp")]["estimated_usd"], rows[("borealis", "nlp")]["estimated_usd"]) == ("32.00", "4.00")
    assert rows[("(unlabelled)", "vision")]["allocated_usd"] == "8.00"
    assert rows[("(idle)", "(idle)")]["idle_usd"] == "6.00"
    assert response.json()["totals"]["allocated_usd"] == "44.00"


def test_summary_by_label_and_model_reads_the_job_slices(labelled, api):
    url = "/api/v1/costs/summary?start=2025-03-01&end=2025-04-01&group_by=label:user,model_name"
    rows = api.as_user(labelled["users"]["bob"]).get(url).json()["rows"]

    assert [(r["label:user"], r["model_name"], r["estimated_usd"]) for r in rows] == [
        ("alice", "llama", "32.00"),
        ("(unlabelled)", "bert", "4.00"),
    ]


def test_members_see_their_teams_label_values_only(labelled, api):
    url = "/api/v1/costs/summary?start=2025-03-01&end=2025-04-01&group_by=label:project"
    carol = api.as_user(labelled["users"]["carol"]).get(url).json()["rows"]
    assert [(r["label:project"], r["estimated_usd"]) for r in carol] == [("(unlabelled)", "8.00")]
    dave = api.as_user(labelled["users"]["dave"]).get(url).json()["rows"]
    assert dave == []


def test_timeseries_by_label(labelled, api):
    url = "/api/v1/costs/timeseries?start=2025-03-10&end=2025-03-12&group_by=label:project&interval=day"
    body = api.as_user(labelled["users"]["bob"]).get(url).json()

    series = {s["group"]["label:project"]: [p["estimated_usd"] for p in s["points"]] for s in body["series"]}
    assert series == {"atlas": ["32.00", "0.00"], "borealis": ["4.00", "0.00"]}


def test_unknown_label_key_is_a_400_naming_the_parameter_and_the_keys(org, api):
    response = api.as_user(org["users"]["staff"]).get("/api/v1/costs/summary?group_by=label:team_name")

    assert response.status_code == 400
    message = response.json()["group_by"][0]
    assert "label:team_name" in message
    assert "project, user, cost_center" in message


def test_report_command_groups_by_label(labelled, capsys):
    from django.core.management import call_command

    call_command("report", "--start", "2025-03-01", "--end", "2025-04-01", "--group-by", "label:project",
                 "--format", "csv")  # fmt: skip

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("label:project,gpu_hours")
    assert any(line.startswith("atlas,8.0000,0.0000,32.00,32.00") for line in lines)
    assert any(line.startswith("(unlabelled),2.0000,0.0000,8.00,8.00") for line in lines)


def test_report_command_refuses_an_unknown_label_key(db):
    from django.core.management import call_command

    with pytest.raises(Exception, match="unknown label key 'nope'"):
        call_command("report", "--start", "2025-03-01", "--end", "2025-04-01", "--group-by", "label:nope")
