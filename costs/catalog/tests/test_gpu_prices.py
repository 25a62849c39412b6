"""The price catalog: default files, SkyPilot catalogs, effective dating, staleness, bad files."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from costs.catalog.models import GpuPrice, InstanceType, PriceRefresh
from costs.catalog.selectors import PriceSegment, price_timeline
from costs.catalog.services.gpu_prices import prices_refresh
from costs.catalog.tests.factories import GpuPriceFactory
from heliox.errors import InputError

FIXTURES = Path(__file__).parents[2] / "tests" / "fixtures"
LAMBDA = FIXTURES / "lambda_vms.csv"
HEADER = "provider,gpu_type,region,pricing,usd_per_gpu_hour,effective_from,source\n"


def write(tmp_path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def price_at(
    timeline: list[PriceSegment], *, provider: str, gpu_type: str, pricing: str, region: str, at: datetime
) -> Decimal | None:
    """USD per GPU-hour for one job key at one instant, or None: the rollup's lookup, read off the timeline."""
    candidates = [s for s in timeline if (s.provider, s.gpu_type, s.pricing) == (provider, gpu_type, pricing)]
    own_region = region and any(s.region == region for s in candidates)
    wanted = region if own_region else ""
    for segment in candidates:
        if segment.region == wanted and segment.valid_from <= at < segment.valid_to:
            return segment.usd_per_gpu_hour
    return None


def test_default_catalog_covers_the_common_gpus_on_the_five_clouds(db):
    prices_refresh()

    offered = set(GpuPrice.objects.values_list("provider", "gpu_type"))
    for gpu in ("H100", "A100-80GB", "A100", "V100"):
        for provider in ("aws", "gcp", "azure", "lambda", "coreweave"):
            assert (provider, gpu) in offered
    for gpu in ("L4", "A10G", "T4", "L40S"):
        assert ("aws", gpu) in offered
    assert GpuPrice.objects.exclude(source="").count() == GpuPrice.objects.count()
    p5 = InstanceType.objects.get(provider="aws", name="p5.48xlarge")
    g5 = InstanceType.objects.get(provider="aws", name="g5.4xlarge")
    assert (p5.gpu_type, p5.gpu_count, g5.gpu_type, g5.gpu_count) == ("H100", 8, "A10G", 1)


def test_reloading_the_same_catalog_changes_nothing(db):
    prices_refresh()
    before = sorted(GpuPrice.objects.values_list("id", "usd_per_gpu_hour", "effective_from", "effective_to"))

    result = prices_refresh()

    assert sorted(GpuPrice.objects.values_list("id", "usd_per_gpu_hour", "effective_from", "effective_to")) == before
    assert (result.refresh.prices_opened, result.refresh.prices_closed) == (0, 0)


def test_skypilot_catalog_gives_per_gpu_prices_of_the_full_node(db):
    prices_refresh(paths=[LAMBDA], fmt="skypilot", provider="lambda")

    node = InstanceType.objects.get(provider="lambda", name="gpu_8x_h100_sxm5")
    assert (node.gpu_type, node.gpu_count) == ("H100", 8)
    price = GpuPrice.objects.get(provider="lambda", gpu_type="H100", region="us-east-1", pricing="on_demand")
    assert price.usd_per_gpu_hour == Decimal("2.9900")  # 23.92 / 8, not the 1x PCIe price
    fallback = GpuPrice.objects.get(provider="lambda", gpu_type="H100", region="", pricing="on_demand")
    assert fallback.usd_per_gpu_hour == Decimal("2.9900")
    assert not InstanceType.objects.filter(name="cpu_4x_general").exists()


def test_skypilot_provider_comes_from_the_folder_name(db, tmp_path):
    folder = tmp_path / "lambda"
    folder.mkdir()
    (folder / "vms.csv").write_text(LAMBDA.read_text())

    prices_refresh(paths=[folder / "vms.csv"], fmt="skypilot")

    assert InstanceType.objects.filter(provider="lambda").count() == 18


def test_skypilot_columns_are_found_by_name_in_any_order(db, tmp_path):
    path = write(
        tmp_path,
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n"
        "p5.48xlarge,H100,8.0,192.0,2048.0,,98.32,39.3280,us-east-1,use1-az1\n",
        "vms.csv",
    )

    prices_refresh(paths=[path], fmt="skypilot", provider="aws")

    spot = GpuPrice.objects.get(region="us-east-1", pricing="spot")
    on_demand = GpuPrice.objects.get(region="us-east-1", pricing="on_demand")
    assert (on_demand.usd_per_gpu_hour, spot.usd_per_gpu_hour) == (Decimal("12.2900"), Decimal("4.9160"))


def test_a_changed_price_closes_the_old_row_and_opens_a_new_one(db, tmp_path):
    old = write(tmp_path, HEADER + "aws,H100,,on_demand,12.29,2024-09-01,old\n", "old.csv")
    new = write(tmp_path, HEADER + "aws,H100,,on_demand,6.88,2025-06-01,new\n", "new.csv")
    prices_refresh(paths=[old])

    result = prices_refresh(paths=[new])

    rows = list(GpuPrice.objects.order_by("effective_from").values_list("usd_per_gpu_hour", "effective_to"))
    cut = datetime(2025, 6, 1, tzinfo=UTC)
    assert rows == [(Decimal("12.2900"), cut), (Decimal("6.8800"), None)]
    assert (result.refresh.prices_opened, result.refresh.prices_closed) == (1, 1)


def test_skypilot_price_change_takes_effect_at_refresh_time(db, tmp_path):
    path = write(tmp_path, "InstanceType,AcceleratorName,AcceleratorCount,Price,Region\nx,A10,1,0.75,r1\n", "vms.csv")
    first = datetime(2025, 1, 1, tzinfo=UTC)
    prices_refresh(paths=[path], fmt="skypilot", provider="lambda", now=first)
    path.write_text("InstanceType,AcceleratorName,AcceleratorCount,Price,Region\nx,A10,1,0.80,r1\n")

    prices_refresh(paths=[path], fmt="skypilot", provider="lambda", now=first + timedelta(days=30))

    timeline = price_timeline(GpuPrice.objects.all())
    before, after = first + timedelta(days=1), first + timedelta(days=31)
    key = {"provider": "lambda", "gpu_type": "A10", "pricing": "on_demand", "region": "r1"}
    assert (price_at(timeline, **key, at=before), price_at(timeline, **key, at=after)) == (
        Decimal("0.7500"),
        Decimal("0.8000"),
    )


def test_a_price_older_than_the_current_one_is_refused(db, tmp_path):
    prices_refresh(paths=[write(tmp_path, HEADER + "aws,H100,,on_demand,6.88,2025-06-01,new\n", "a.csv")])

    with pytest.raises(InputError, match="history is never rewritten"):
        prices_refresh(paths=[write(tmp_path, HEADER + "aws,H100,,on_demand,12.29,2024-09-01,old\n", "b.csv")])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("aws,H100,,on_demand,-1,2024-09-01,x", "line 3, column usd_per_gpu_hour: must be a number >= 0 (got '-1')"),
        ("aws,H100,,on_demand,abc,2024-09-01,x", "line 3, column usd_per_gpu_hour: not a number (got 'abc')"),
        ("ibm,H100,,on_demand,1,2024-09-01,x", "line 3, column provider: must be one of"),
        ("aws,H100,,free,1,2024-09-01,x", "line 3, column pricing: must be one of"),
        ("aws,H100,,on_demand,1,yesterday,x", "line 3, column effective_from: not an ISO date"),
    ],
)
def test_a_malformed_file_names_line_and_column_and_writes_nothing(db, tmp_path, line, message):
    path = write(tmp_path, HEADER + "aws,A100,,on_demand,4,2024-09-01,ok\n" + line + "\n")

    with pytest.raises(CommandError, match=re.escape(f"prices.csv, {message}")):
        call_command("refresh_prices", str(path))

    assert GpuPrice.objects.count() == 0
    assert PriceRefresh.objects.count() == 0


def test_a_file_without_the_expected_header_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="not a Heliox catalog"):
        call_command("refresh_prices", str(write(tmp_path, "a,b\n1,2\n")))
    with pytest.raises(CommandError, match="missing column"):
        call_command("refresh_prices", str(write(tmp_path, "InstanceType,Price\nx,1\n", "vms.csv")), "--format",
                     "skypilot", "--provider", "aws")  # fmt: skip


def test_missing_file_is_a_clear_error(db):
    with pytest.raises(CommandError, match=r"nosuch\.csv: no such file"):
        call_command("refresh_prices", "nosuch.csv")


def test_if_stale_does_nothing_while_the_catalog_is_young(db, settings, capsys):
    settings.PRICE_STALENESS_SECONDS = 3600
    call_command("refresh_prices")
    GpuPrice.objects.all().delete()

    PriceRefresh.objects.update(created_at=datetime.now(UTC) - timedelta(minutes=14, seconds=30))

    call_command("refresh_prices", "--if-stale")

    assert capsys.readouterr().out.splitlines()[-1] == (
        "Catalog is fresh: the catalog was refreshed 14 minutes ago, within PRICE_STALENESS_SECONDS (1 hour). "
        "Nothing to do."
    )
    assert GpuPrice.objects.count() == 0


def test_a_skypilot_file_loaded_as_heliox_suggests_the_format(db):
    with pytest.raises(CommandError) as raised:
        call_command("refresh_prices", str(LAMBDA))  # a real SkyPilot vms.csv (Lambda's)
    assert str(raised.value) == (
        f"{LAMBDA}, line 1: this is a SkyPilot catalog (InstanceType, AcceleratorName, "
        "Price columns), not a Heliox CSV: load it with --format skypilot"
    )
    assert GpuPrice.objects.count() == 0


def test_if_stale_refreshes_an_old_catalog(db, settings):
    settings.PRICE_STALENESS_SECONDS = 3600
    call_command("refresh_prices")
    PriceRefresh.objects.update(created_at=datetime.now(UTC) - timedelta(hours=2))
    GpuPrice.objects.all().delete()

    call_command("refresh_prices", "--if-stale")

    assert GpuPrice.objects.count() == 28


def test_latest_price_wins_among_overlapping_rows_of_one_key(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4"), effective_from=datetime(2025, 1, 1, tzinfo=UTC))
    GpuPriceFactory(usd_per_gpu_hour=Decimal("3"), effective_from=datetime(2025, 2, 1, tzinfo=UTC))
    timeline = price_timeline(GpuPrice.objects.all())
    key = {"provider": "aws", "gpu_type": "H100", "pricing": "on_demand", "region": ""}

    assert price_at(timeline, **key, at=datetime(2025, 1, 15, tzinfo=UTC)) == Decimal(4)
    assert price_at(timeline, **key, at=datetime(2025, 3, 1, tzinfo=UTC)) == Decimal(3)
    assert price_at(timeline, **key, at=datetime(2024, 12, 31, tzinfo=UTC)) is None


def test_one_file_with_two_dates_of_a_price_opens_the_first_closed(db, tmp_path):
    path = write(
        tmp_path, HEADER + "aws,H100,,on_demand,12.29,2024-09-01,old\naws,H100,,on_demand,6.88,2025-06-01,new\n"
    )

    result = prices_refresh(paths=[path])

    rows = list(GpuPrice.objects.order_by("effective_from").values_list("usd_per_gpu_hour", "effective_to"))
    assert rows == [(Decimal("12.2900"), datetime(2025, 6, 1, tzinfo=UTC)), (Decimal("6.8800"), None)]
    assert (result.refresh.prices_opened, result.refresh.prices_closed) == (2, 1)
