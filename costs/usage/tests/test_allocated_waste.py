"""Allocated waste: the share of the bill paid for GPU time that sat idle, allocated x (1 - utilisation).

One day, H100 at $2.50 on AWS, one bill cell (README: Kubernetes and GPU efficiency):
- vision: 12 GPU-h at 25 % ($30.00, $22.50 wasted), 10 GPU-h at 60 % ($25.00, $10.00 wasted) and 6 GPU-h
  unmeasured ($15.00): $70.00, 28 GPU-h of which 22 measured and 9 used.
- speech: 8 GPU-h at 50 % ($20.00, $10.00 wasted): 8 measured, 4 used.
Every figure below is worked out by hand in the comments.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from costs.billing.tests.factories import CostSnapshotFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import JobDaySlice, LabelMonthSnapshot, LabelUsageSnapshot, ModelUsageSnapshot, UsageSnapshot
from costs.usage.services.allocation import allocation_refresh
from costs.usage.services.rollup import usage_rollup
from costs.usage.tests.test_job_costs import D10, D11, NOW, at
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory

RANGE = "start=2025-03-10&end=2025-03-12"
WASTES = ("allocated_waste_usd", "allocated_shared_waste_usd")


def cents(value: str) -> Decimal:
    return Decimal(value)


def four_jobs() -> dict[str, Job]:
    GpuPriceFactory(gpu_type="H100", usd_per_gpu_hour=Decimal("2.5000"))
    vision, speech = TeamFactory(name="vision"), TeamFactory(name="speech")

    def job(team, gpus, hours, util, project):
        return JobFactory(team=team, gpu_count=gpus, start_time=at(D10, 0), end_time=at(D10, hours),
                          gpu_util_avg=util, gpu_util_source="api" if util is not None else "",
                          labels={"project": project})  # fmt: skip

    return {
        "quiet": job(vision, 4, 3, Decimal(25), "atlas"),
        "busy": job(vision, 2, 5, Decimal(60), "atlas"),
        "blind": job(vision, 1, 6, None, "borealis"),
        "speech": job(speech, 2, 4, Decimal(50), "borealis"),
    }


def figures(model, **keys) -> tuple:
    row = model.objects.get(**keys)
    return tuple(getattr(row, name) for name in WASTES)


def slice_of(job: Job) -> tuple:
    return figures(JobDaySlice, job=job, date=D10)


def test_bill_below_the_estimate_scales_the_waste_per_row_slice_job_and_label(db):
    jobs = four_jobs()
    CostSnapshotFactory(date=D10, cost_usd=Decimal("60.00"))  # E = $90.00: min(1, B / E) = 2/3

    usage_rollup(start=D10, end=D11, now=NOW)

    # Kept apart: vision 70 x 2/3 = 46.666.., speech 13.333..: 46.67 (largest remainder) and 13.33.
    # Shared by GPU-hours: 60 x 28/36 = 46.666.. and 60 x 8/36: the same cents.
    # vision: 46.67 x 32.50 / 70.00 = 21.668.. -> 21.67; shared 46.67 x (22 - 9) / 28 = 21.668.. -> 21.67.
    # speech: 13.33 x 10.00 / 20.00 = 6.665 -> 6.67 (half up); shared 13.33 x (8 - 4) / 8 = 6.665 -> 6.67.
    vision, speech = (jobs["quiet"].team, jobs["speech"].team)
    assert figures(UsageSnapshot, team=vision) == (cents("21.67"), cents("21.67"))
    assert figures(ModelUsageSnapshot, team=vision) == (cents("21.67"), cents("21.67"))
    assert figures(UsageSnapshot, team=speech) == (cents("6.67"), cents("6.67"))
    # Slices, kept apart: 21.67 by waste 22.50 : 10.00 = 15.0023.. and 6.6676..: 15.00 and 6.66, the cent left
    # to the larger remainder: 6.67. (Each slice's own allocated x (1 - u): 20.00 x 0.75 = 15.00, 16.67 x 0.4.)
    # Shared: 21.67 by idle GPU-hours 9 : 4 = 15.0023.. and 6.6676..: again 15.00 and 6.67.
    assert slice_of(jobs["quiet"]) == (cents("15.00"), cents("15.00"))
    assert slice_of(jobs["busy"]) == (cents("6.67"), cents("6.67"))
    assert slice_of(jobs["blind"]) == (None, None)  # unmeasured: unknown, never 0
    assert slice_of(jobs["speech"]) == (cents("6.67"), cents("6.67"))
    totals = {job.pk: job.allocated_waste_usd for job in Job.objects.all()}
    assert [totals[jobs[name].pk] for name in ("quiet", "busy", "blind", "speech")] == [
        cents("15.00"), cents("6.67"), None, cents("6.67")]  # fmt: skip
    # Label rows are sums of slices; month rows sums of label rows; an unmeasured value's sum is 0 there.
    atlas = {"team": vision, "key": "project", "value": "atlas"}
    assert figures(LabelUsageSnapshot, **atlas) == (cents("21.67"), cents("21.67"))
    assert figures(LabelMonthSnapshot, **atlas) == (cents("21.67"), cents("21.67"))
    assert figures(LabelUsageSnapshot, team=vision, key="project", value="borealis") == (cents("0"), cents("0"))


def test_idle_shared_differs_when_the_bill_exceeds_the_estimate_and_follows_a_new_bill(db):
    jobs = four_jobs()
    usage_rollup(start=D10, end=D11, now=NOW)
    # No bill: allocated is the estimate in both modes, so allocated waste is the waste.
    assert slice_of(jobs["quiet"]) == (cents("22.50"), cents("22.50"))
    assert figures(UsageSnapshot, team=jobs["quiet"].team) == (cents("32.50"), cents("32.50"))

    CostSnapshotFactory(date=D10, cost_usd=Decimal("100.00"))  # more than E = $90.00: $10.00 idle kept apart
    allocation_refresh(days=[D10])

    # Kept apart: allocated = estimate, so the waste again: vision 32.50, speech 10.00.
    # Shared: vision 100 x 28/36 = 77.78, speech 22.22. vision 77.78 x 13 / 28 = 36.112.. -> 36.11;
    # speech 22.22 x 4 / 8 = 11.11. Slices: 36.11 x 9/13 = 24.9992.. and 36.11 x 4/13 = 11.1107..:
    # 24.99 and 11.11, the cent left to the larger remainder (0.0092): 25.00 (= 33.33 x 0.75, to the cent).
    vision, speech = (jobs["quiet"].team, jobs["speech"].team)
    assert figures(UsageSnapshot, team=vision) == (cents("32.50"), cents("36.11"))
    assert figures(UsageSnapshot, team=speech) == (cents("10.00"), cents("11.11"))
    assert slice_of(jobs["quiet"]) == (cents("22.50"), cents("25.00"))
    assert slice_of(jobs["busy"]) == (cents("10.00"), cents("11.11"))
    assert slice_of(jobs["blind"]) == (None, None)
    assert Job.objects.get(pk=jobs["busy"].pk).allocated_waste_usd == cents("10.00")
    # A fresh rollup gives the same figures as the reallocation.
    before = list(JobDaySlice.objects.order_by("job_id").values_list("job_id", *WASTES))
    usage_rollup(start=D10, end=D11, now=NOW)
    assert list(JobDaySlice.objects.order_by("job_id").values_list("job_id", *WASTES)) == before


@pytest.fixture
def billed(db):
    jobs = four_jobs()
    JobFactory(team=TeamFactory(name="audio"), gpu_count=1, start_time=at(D11, 0), end_time=at(D11, 2))
    CostSnapshotFactory(date=D10, cost_usd=Decimal("100.00"))
    usage_rollup(start=D10, end=D11 + (D11 - D10), now=NOW)
    return jobs


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "x")


def test_summary_timeseries_and_csv_follow_the_idle_mode(billed, api, staff):
    client = api.as_user(staff)
    for idle, vision, speech, total in (("separate", "32.50", "10.00", "42.50"), ("share", "36.11", "11.11", "47.22")):
        body = client.get(f"/api/v1/costs/summary?{RANGE}&group_by=team&idle={idle}").json()
        rows = {row["team"]: row["allocated_waste_usd"] for row in body["rows"]}
        # audio ran unmeasured only: unknown (null), never 0.
        assert (rows, body["totals"]["allocated_waste_usd"]) == (
            {"vision": vision, "speech": speech, "audio": None, "(idle)": None} if idle == "separate"
            else {"vision": vision, "speech": speech, "audio": None}, total)  # fmt: skip
    series = client.get(f"/api/v1/costs/timeseries?{RANGE}&interval=day&idle=share").json()
    assert [point["allocated_waste_usd"] for point in series["series"][0]["points"]] == ["47.22", None]
    summary = client.get(f"/api/v1/costs/summary?{RANGE}&group_by=team&format=csv")
    rows = list(csv.DictReader(io.StringIO(summary.content.decode())))
    assert [(row["team"], row["allocated_waste_usd"]) for row in rows] == [
        ("vision", "32.50"), ("speech", "10.00"), ("(idle)", ""), ("audio", ""), ("TOTAL", "42.50")]  # fmt: skip


def test_job_api_and_report_carry_the_allocated_waste(billed, api, staff, capsys):
    client = api.as_user(staff)
    quiet = client.get(f"/api/v1/jobs/{billed['quiet'].pk}/").json()
    blind = client.get(f"/api/v1/jobs/{billed['blind'].pk}/").json()
    assert (quiet["allocated_waste_usd"], blind["allocated_waste_usd"]) == ("22.50", None)
    days = client.get(f"/api/v1/jobs/{billed['quiet'].pk}/costs/").json()
    assert (days["allocated_waste_usd"], days["days"][0]["allocated_shared_waste_usd"]) == ("22.50", "25.00")
    top = client.get(f"/api/v1/costs/top-jobs?{RANGE}&order=waste&idle=share").json()["jobs"]
    assert [(job["id"], job["allocated_waste_usd"]) for job in top] == [
        (str(billed["quiet"].pk), "25.00"),
        (str(billed["busy"].pk), "11.11"),
        (str(billed["speech"].pk), "11.11"),
    ]

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-12", "--idle", "share", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["team"]: row["allocated_waste_usd"] for row in rows} == {
        "vision": "36.11", "speech": "11.11", "audio": "", "TOTAL": "47.22"}  # fmt: skip


def test_waste_cards_say_how_much_of_it_was_allocated(billed, staff_client):
    admin = staff_client.get(f"/admin/?{RANGE}").content.decode()
    assert "estimated cost of idle GPUs in measured jobs; of which allocated: USD 42.50" in admin
    member = staff_client.get(f"/?{RANGE}").content.decode()
    assert "estimated cost of idle GPUs in measured jobs; of which allocated: USD 42.50" in member
