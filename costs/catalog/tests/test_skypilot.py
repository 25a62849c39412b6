"""SkyPilot catalogs on real rows: AWS (AMD and Habana names), GCP (host machine + accelerator), spot medians."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from costs.catalog.models import GpuPrice, InstanceType, PriceRefresh
from costs.catalog.services.gpu_prices import prices_refresh
from costs.catalog.services.skypilot import any_region_price, gcp_machine_gpus, per_gpu
from costs.catalog.tests.factories import GpuPriceFactory

FIXTURES = Path(__file__).parents[2] / "tests" / "fixtures"
AWS = FIXTURES / "aws_vms_slice.csv"
GCP = FIXTURES / "gcp_vms_slice.csv"


def prices(provider: str) -> dict[tuple[str, str, str], Decimal]:
    return {
        (p.gpu_type, p.region, p.pricing): p.usd_per_gpu_hour
        for p in GpuPrice.objects.filter(provider=provider, effective_to__isnull=True)
    }


def test_the_aws_catalog_loads_with_amd_names_that_hold_spaces(db, capsys):
    call_command("refresh_prices", str(AWS), "--format", "skypilot", "--provider", "aws")

    got = prices("aws")
    # g4ad.xlarge = 1 x Radeon Pro V520: 0.37853/h in us-east-1 -> 0.3785 (4 decimals).
    assert got[("Radeon Pro V520", "us-east-1", "on_demand")] == Decimal("0.3785")
    assert InstanceType.objects.get(provider="aws", name="g4ad.xlarge").gpu_type == "Radeon Pro V520"
    # p5.48xlarge = 8 x H100 at 98.32/h: 98.32 / 8 = 12.29.
    assert got[("H100", "us-east-1", "on_demand")] == Decimal("12.2900")
    assert sorted(InstanceType.objects.filter(provider="aws").values_list("name", flat=True)) == [
        "g4ad.xlarge",
        "g4dn.12xlarge",
        "p4d.24xlarge",
        "p4de.24xlarge",
        "p5.48xlarge",
        "p5e.48xlarge",
        "p5en.48xlarge",
    ]  # z1d.large has no GPU
    out = capsys.readouterr().out
    assert "35 rows read" in out
    assert "Skipped" not in out
    assert PriceRefresh.objects.get().rows_skipped == 0


def test_a_gpu_type_may_hold_single_spaces_only(db):
    for name in ("Radeon Pro V520", "Gaudi HL-205"):
        GpuPriceFactory.build(gpu_type=name).full_clean()
    for name in ("Radeon  Pro", " H100", "H100 ", "A100_80"):
        with pytest.raises(ValidationError, match="single spaces"):
            GpuPriceFactory.build(gpu_type=name).full_clean()


def test_a_region_price_is_the_median_of_its_zones_rounded_half_up(db):
    prices_refresh(paths=[AWS], fmt="skypilot", provider="aws")

    got = prices("aws")
    # p4d.24xlarge (8 x A100) spot in us-west-2: zones 10.507, 11.3278, 11.377 -> median 11.3278;
    # / 8 = 1.415975 -> 1.4160 (the first zone alone would give 10.507 / 8 = 1.3134).
    assert got[("A100", "us-west-2", "spot")] == Decimal("1.4160")
    # us-east-2 has two zones, 7.8531 and 5.4287: median (7.8531 + 5.4287) / 2 = 6.6409; / 8 = 0.8301125 -> 0.8301.
    assert got[("A100", "us-east-2", "spot")] == Decimal("0.8301")
    # Half-up, not half-even: ap-northeast-2 12.402 / 8 = 1.55025 -> 1.5503 (half-even: 1.5502);
    # p5.48xlarge spot us-east-1, zones 30.326, 27.6948, 20.9934 -> 27.6948 / 8 = 3.46185 -> 3.4619 (not 3.4618).
    assert got[("A100", "ap-northeast-2", "spot")] == Decimal("1.5503")
    assert got[("H100", "us-east-1", "spot")] == Decimal("3.4619")
    # p4de.24xlarge us-east-1 has a zone twice, once without a spot price: only 7.8074 counts; / 8 = 0.975925.
    assert got[("A100-80GB", "us-east-1", "spot")] == Decimal("0.9759")
    # Zones that lack the price are left out: p4d in ap-south-1 has no spot price at all.
    assert ("A100", "ap-south-1", "spot") not in got
    assert per_gpu(Decimal("0.123550"), 1) == Decimal("0.1236")


def test_the_any_region_price_is_the_most_common_then_the_home_region_then_the_highest(db):
    prices_refresh(paths=[AWS], fmt="skypilot", provider="aws")

    got = prices("aws")
    # A100 on demand: 4.0966 (32.7726 / 8) in us-east-1, us-east-2 and us-west-2: the most common of 9 regions.
    assert got[("A100", "", "on_demand")] == Decimal("4.0966")
    # A100 spot: 8 regions, 8 different prices: the tie goes to us-east-1, AWS's home region (6.7915 / 8 = 0.8489).
    assert got[("A100", "", "spot")] == Decimal("0.8489")
    # H200 on demand: p5en.48xlarge in ap-northeast-1 (106.0 / 8 = 13.25) and ap-south-1 (101.76 / 8 = 12.72),
    # no us-east-1: the higher, 13.25 (the lowest-on-a-tie rule said 12.72).
    assert got[("H200", "", "on_demand")] == Decimal("13.2500")
    assert (
        "2 prices tied in 2 regions: the highest"
        in GpuPrice.objects.get(provider="aws", gpu_type="H200", region="", pricing="on_demand").source
    )
    assert any_region_price({"a": Decimal(1), "b": Decimal(2), "c": Decimal(1)}, "b") == (
        Decimal(1), "the price of 2 of 3 regions"
    )  # fmt: skip


def test_the_largest_instance_sets_the_price_and_same_size_instances_take_the_cheaper(db, tmp_path):
    # Real rows: p5e.48xlarge and p5en.48xlarge (both 8 x H200) spot in ap-northeast-1, file order either way.
    header = AWS.read_text().splitlines()[0]
    rows = [line for line in AWS.read_text().splitlines() if line.startswith(("p5e.48xlarge", "p5en.48xlarge"))]
    path = tmp_path / "vms.csv"
    path.write_text("\n".join([header, *reversed(rows)]) + "\n")

    prices_refresh(paths=[path], fmt="skypilot", provider="aws")

    got = prices("aws")
    # ap-south-1 spot: only p5en, 12.1188 / 8 = 1.51485 -> 1.5149; us-east-2: only p5e, 16.3895 / 8 = 2.0486875.
    assert (got[("H200", "ap-south-1", "spot")], got[("H200", "us-east-2", "spot")]) == (
        Decimal("1.5149"), Decimal("2.0487")
    )  # fmt: skip


def test_a_gcp_gpu_hour_is_the_accelerator_plus_its_share_of_the_smallest_host(db, capsys):
    call_command("refresh_prices", str(GCP), "--format", "skypilot", "--provider", "gcp")

    got = prices("gcp")
    # us-central1: a2-highgpu-1g (1 x A100) 0.73948 + the A100 row 2.93391 = 3.67339 -> 3.6734 (not 2.9339 alone).
    assert got[("A100", "us-central1", "on_demand")] == Decimal("3.6734")
    # spot: 0.29576 + 1.1472 = 1.44296 -> 1.4430.
    assert got[("A100", "us-central1", "spot")] == Decimal("1.4430")
    # europe-west4 has only a2-highgpu-8g (6.51251) and the 8 x A100 row (12.90919): 19.4217 / 8 = 2.4277125.
    assert got[("A100", "europe-west4", "on_demand")] == Decimal("2.4277")
    # spot: (2.54592 + 9.3528) / 8 = 11.89872 / 8 = 1.48734 -> 1.4873.
    assert got[("A100", "europe-west4", "spot")] == Decimal("1.4873")
    # Any region: a tie of two regions goes to us-central1, GCP's home region.
    assert (got[("A100", "", "on_demand")], got[("A100", "", "spot")]) == (Decimal("3.6734"), Decimal("1.4430"))
    # a3-highgpu-1g has no H100 accelerator row in these rows: a machine type, no price.
    assert not any(gpu == "H100" for gpu, _, _ in got)
    machines = {(i.name, i.gpu_type, i.gpu_count, i.vcpus, i.memory_gib) for i in InstanceType.objects.all()}
    assert machines == {
        ("a2-highgpu-1g", "A100", 1, 12, Decimal("85.00")),
        ("a2-highgpu-8g", "A100", 8, 96, Decimal("680.00")),
        ("a3-highgpu-1g", "H100", 1, 26, Decimal("234.00")),
    }  # no instance type with an empty name, none for n1-highmem-8
    tpu = "tpu-v6e-1 (a TPU slice: priced per slice, not per device)"
    assert f"Skipped 6 row(s) Heliox does not price: {tpu}: 6." in capsys.readouterr().out
    assert PriceRefresh.objects.get().skipped == {tpu: 6}


def test_a_gcp_accelerator_without_a_host_in_its_region_is_skipped_and_counted(db, tmp_path):
    # The real rows without a2-highgpu-8g: europe-west4 offers A100s but no machine that carries them.
    lines = [line for line in GCP.read_text().splitlines() if not line.startswith("a2-highgpu-8g")]
    path = tmp_path / "vms.csv"
    path.write_text("\n".join(lines) + "\n")

    result = prices_refresh(paths=[path], fmt="skypilot", provider="gcp")

    assert not GpuPrice.objects.filter(region="europe-west4").exists()
    assert prices("gcp")[("A100", "us-central1", "on_demand")] == Decimal("3.6734")
    # europe-west4's A100 rows: 2 zones x counts 1, 8 and 16 = 6 rows.
    assert result.refresh.skipped["A100 (no host machine that carries it in its region)"] == 6
    assert result.refresh.rows_skipped == 6 + 6  # and the six TPU rows


def test_n1_gpus_take_the_smallest_n1_machine_of_the_region(db, tmp_path):
    # The real n1-highmem-8 row (us-central2, 0.47321/h); constructed beside it, as the slice has no T4: an
    # n1-standard-1 at GCP's us-central1 list price (0.0475/h) and T4 rows at GCP's list price (0.35/h per T4).
    path = tmp_path / "vms.csv"
    path.write_text(
        "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n"
        "n1-highmem-8,8.0,52.0,,,,us-central2,us-central2-b,0.47321,0.09962\n"
        "n1-standard-1,1.0,3.75,,,,us-central2,us-central2-b,0.0475,0.01\n"
        ",,,T4,1,,us-central2,us-central2-b,0.35,0.14\n"
        ",,,T4,2,,us-central2,us-central2-b,0.7,0.28\n"
    )

    prices_refresh(paths=[path], fmt="skypilot", provider="gcp")

    # 0.0475 (n1-standard-1, fewer vCPUs than n1-highmem-8) + 0.35 = 0.3975; spot 0.01 + 0.14 = 0.15.
    got = prices("gcp")
    assert (got[("T4", "us-central2", "on_demand")], got[("T4", "us-central2", "spot")]) == (
        Decimal("0.3975"), Decimal("0.1500")
    )  # fmt: skip
    assert not InstanceType.objects.exists()  # an N1 machine carries no GPU of its own


@pytest.mark.parametrize(
    ("name", "gpus"),
    [("a2-highgpu-8g", ("A100", 8)), ("a2-megagpu-16g", ("A100", 16)), ("a2-ultragpu-1g", ("A100-80GB", 1)),
     ("a3-highgpu-8g", ("H100", 8)), ("a3-megagpu-8g", ("H100-MEGA", 8)), ("a3-ultragpu-8g", ("H200", 8)),
     ("a4-highgpu-8g", ("B200", 8)), ("g2-standard-4", ("L4", 1)), ("g2-standard-48", ("L4", 4)),
     ("n1-highmem-8", None), ("e2-standard-4", None)],
)  # fmt: skip
def test_the_gcp_family_table_says_which_gpus_a_machine_carries(name, gpus):
    assert gcp_machine_gpus(name) == gpus


def test_reloading_a_gcp_catalog_changes_nothing(db):
    prices_refresh(paths=[GCP], fmt="skypilot", provider="gcp")

    again = prices_refresh(paths=[GCP], fmt="skypilot", provider="gcp")

    assert (again.refresh.prices_opened, again.refresh.prices_closed, again.refresh.prices_corrected) == (0, 0, 0)
