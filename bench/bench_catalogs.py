"""Loading the public price catalogs on PostgreSQL: SkyPilot's Lambda, AWS and GCP files and LiteLLM's prices.

    .venv/bin/python bench/bench_catalogs.py

Times `refresh_prices --format skypilot` and `refresh_model_prices --format litellm`
as they run, on an empty catalog (the first load) and again (a reload that changes
nothing), each inside a transaction that is rolled back, so the bench database keeps
its own catalog. Files:

- Lambda: the real `catalogs/v7/lambda/vms.csv` (costs/tests/fixtures/lambda_vms.csv).
- LiteLLM: the real `model_prices_and_context_window_backup.json` of litellm 1.110.2
  (costs/tests/fixtures/litellm_model_prices_1.110.2.json.gz, 4,878 entries).
- AWS and GCP: the whole real files (2,469,222 and 1,642,962 characters) cannot be
  fetched here, so a file of the real file's size is built from the real slices in the
  fixtures by repeating their rows over more regions and zones (`expand`). The slices
  are GPU rows almost only, where the real files are mostly CPU instances, so these
  files make more prices than the real ones: the measure errs on the slow side.

The anchor, in the same run, is reading the same file with `csv.DictReader` and
nothing else. Target (issue #13): each load under 5 s.
"""

import csv
import gzip
import json
import tempfile
import time
from pathlib import Path

from common import ROOT, peak_rss_mb, setup_django

FIXTURES = ROOT / "costs" / "tests" / "fixtures"
REAL_SIZES = {"aws": 2_469_222, "gcp": 1_642_962}  # characters of catalogs/v7/<cloud>/vms.csv
ZONES = 6


def expand(slice_path: Path, target: Path, size: int) -> tuple[int, int]:
    """Repeat the slice's rows over regions r0, r1... of ZONES zones each until the file has `size` characters.

    Spot prices vary by zone (x 1.00, 1.01...) so that the median has work to do; a
    region's on-demand prices stay the same in every zone, as in the real files.
    """
    with slice_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    written, regions = 0, 0
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        while handle.tell() < size:
            for zone in range(ZONES):
                for row in rows:
                    region = f"{row['Region']}-r{regions}"
                    spot = row.get("SpotPrice") or ""
                    if spot:
                        spot = f"{float(spot) * (1 + zone / 100):.6f}"
                    zone_name = f"{region}-z{zone}" if "AvailabilityZone" in row else None
                    writer.writerow({**row, "Region": region, "SpotPrice": spot,
                                     **({"AvailabilityZone": zone_name} if zone_name else {})})  # fmt: skip
                    written += 1
            regions += 1
    return written, regions


def anchor(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="") as handle:
        for _ in csv.DictReader(handle):
            pass
    return time.perf_counter() - start


def timed_twice(load) -> tuple[float, float]:
    """(first load on an empty catalog, reload of the same file), rolled back after."""
    from django.db import transaction

    from costs.catalog.models import GpuPrice, InstanceType, ModelPrice

    with transaction.atomic():
        for model in (GpuPrice, InstanceType, ModelPrice):
            model.objects.all().delete()
        start = time.perf_counter()
        first = load()
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = load()
        again_s = time.perf_counter() - start
        assert again.refresh.prices_opened == 0, "a reload of the same file opened prices"
        transaction.set_rollback(True)
    print(f"    {first.refresh.rows_read:,} rows, {first.refresh.prices_opened:,} prices, "
          f"{first.refresh.instance_types_saved:,} instance types, {first.refresh.rows_skipped:,} skipped")  # fmt: skip
    return first_s, again_s


def main() -> None:
    setup_django()
    from costs.catalog.services.gpu_prices import prices_refresh
    from costs.catalog.services.model_prices import model_prices_refresh

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = {"lambda": FIXTURES / "lambda_vms.csv"}
        for cloud, size in REAL_SIZES.items():
            files[cloud] = folder / f"{cloud}_vms.csv"
            rows, regions = expand(FIXTURES / f"{cloud}_vms_slice.csv", files[cloud], size)
            print(f"{cloud}: built {files[cloud].stat().st_size:,} characters, {rows:,} rows, {regions} regions "
                  f"x {ZONES} zones (the real file: {size:,})")  # fmt: skip
        litellm = folder / "model_prices_and_context_window.json"
        litellm.write_bytes(gzip.decompress((FIXTURES / "litellm_model_prices_1.110.2.json.gz").read_bytes()))

        results = []
        for cloud, path in files.items():
            print(f"{cloud} ({path.name}):")
            first, again = timed_twice(lambda p=path, c=cloud: prices_refresh(paths=[p], fmt="skypilot", provider=c))
            results.append((cloud, first, again, anchor(path)))
        print("litellm (the real 1.110.2 file):")
        first, again = timed_twice(lambda: model_prices_refresh(path=litellm, fmt="litellm"))
        start = time.perf_counter()
        json.loads(litellm.read_text())
        results.append(("litellm", first, again, time.perf_counter() - start))
    print(f"\n{'catalog':<8} {'first load':>11} {'reload':>8} {'anchor: read only':>18}")
    for name, first, again, bare in results:
        print(f"{name:<8} {first:>9.2f} s {again:>6.2f} s {bare:>16.3f} s")
    print(f"peak RSS {peak_rss_mb():.0f} MiB; target: each load under 5 s")


if __name__ == "__main__":
    main()
