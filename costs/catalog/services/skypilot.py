"""SkyPilot catalogs (skypilot-org/skypilot-catalog, `catalogs/v7/<cloud>/vms.csv`) as per-GPU-hour prices.

The rules, stated in the README ("The price catalog"):

- An accelerator is priced per device. Rows Heliox does not price are skipped,
  counted and named in the refresh's summary, never a reason to refuse the file:
  Google TPU slices (`tpu-v6e-8` is one slice of 8 chips with AcceleratorCount 1,
  so it has no per-device price), fractions of a GPU (Azure's partial-GPU sizes),
  names that are no GPU type name, and GCP accelerators with no host machine in
  their region. Real names with spaces (AMD `Radeon Pro V520`, Habana
  `Gaudi HL-205`) are GPU types like any other.
- A region's price of an instance is the median over its zones' rows (zones
  without that price left out): on-demand prices agree across zones, spot prices
  do not, and the median does not depend on the file's row order.
- AWS, Azure, Lambda: a GPU-hour in a region costs the per-GPU price of its
  largest instance of that GPU (instance price / GPUs); among instances of the
  same size (p5e and p5en) the cheaper per GPU.
- GCP prices the host machine and its accelerators apart. A GPU-hour costs the
  accelerator plus its share of the smallest machine that carries it, per region:
  (machine + accelerator row of the machine's GPU count) / GPU count, with the
  machine of fewest GPUs, then fewest vCPUs, then lowest price. Which machine
  carries which accelerator comes from `GCP_GPU_FAMILIES` and `GCP_G2_L4`; the
  N1 GPUs (`GCP_N1_GPUS`) attach to any N1 machine, so they take the smallest N1
  of the region, a lower bound of what a VM with that GPU costs.
- Per-GPU prices round half-up to 4 decimals, once.
- The any-region price of a GPU (for jobs without a region) is the most common
  regional price; on a tie, the provider's home region's price (`HOME_REGIONS`:
  the region the shipped list prices are quoted in) when it is among the tied,
  else the highest of the tied: a tie is never settled by understating a cost.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import median

from costs.catalog.services.catalog_rows import Catalog, InstanceRow, PriceRow, catalog_rows, optional_decimal
from heliox.errors import InputError
from jobs.models import Pricing, Provider, gpu_type_validator

COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
PER_GPU = Decimal("0.0001")
HOME_REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus", "lambda": "us-east-1"}
PRICE_COLUMNS = ((Pricing.ON_DEMAND, "Price"), (Pricing.SPOT, "SpotPrice"))

# GCP machine families that come with their accelerators: a2-highgpu-8g = 8 x A100 (the count is the
# name's "-<N>g"). The accelerator names are those of SkyPilot's GCP catalog (H100-MEGA is its name for
# the a3-megagpu H100s). Source: https://cloud.google.com/compute/docs/gpus and SkyPilot's gcp_catalog.
GCP_GPU_FAMILIES = {
    "a2-highgpu": "A100",
    "a2-megagpu": "A100",
    "a2-ultragpu": "A100-80GB",
    "a3-highgpu": "H100",
    "a3-edgegpu": "H100",
    "a3-megagpu": "H100-MEGA",
    "a3-ultragpu": "H200",
    "a4-highgpu": "B200",
}
# G2 machines carry L4s, the count not in the name.
GCP_G2_L4 = {
    "g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1, "g2-standard-16": 1, "g2-standard-32": 1,
    "g2-standard-24": 2, "g2-standard-48": 4, "g2-standard-96": 8,
}  # fmt: skip
# GPUs that attach to any N1 machine (the VM's price is the N1 machine's plus the GPUs').
GCP_N1_GPUS = frozenset({"T4", "V100", "P100", "P4", "K80"})
GCP_MACHINE_NAME = re.compile(r"^(?P<family>[a-z0-9]+-[a-z]+)-(?P<count>\d+)g$")


def gcp_machine_gpus(name: str) -> tuple[str, int] | None:
    """(accelerator, count) of a GCP machine type that comes with GPUs, or None."""
    if name in GCP_G2_L4:
        return "L4", GCP_G2_L4[name]
    match = GCP_MACHINE_NAME.match(name)
    if match and match["family"] in GCP_GPU_FAMILIES:
        return GCP_GPU_FAMILIES[match["family"]], int(match["count"])
    return None


def per_gpu(amount: Decimal, gpus: int) -> Decimal:
    """USD per GPU-hour, rounded half-up to 4 decimals like every stored figure."""
    return (amount / gpus).quantize(PER_GPU, rounding=ROUND_HALF_UP)


@dataclass
class Offer:
    """One instance type (or, on GCP, one machine or accelerator row) in one region: its zones' prices."""

    name: str
    gpu_type: str
    gpu_count: int
    vcpus: Decimal | None
    line: int
    prices: dict[str, list[Decimal]]

    def price(self, pricing: str) -> Decimal | None:
        values = self.prices.get(pricing)
        return median(values) if values else None


class SkyPilotFile:
    """Reads one vms.csv into offers per region; `catalog()` applies the pricing rules."""

    def __init__(self, path: Path, provider: str) -> None:
        self.path, self.provider = path, provider
        self.rows_read = 0
        self.skipped: Counter[str] = Counter()
        self.instances: dict[str, InstanceRow] = {}
        # (region, instance or machine name, GPU type, count) -> Offer; accelerator rows of GCP have no name.
        self.offers: dict[tuple[str, str, str, int], Offer] = {}
        self.accelerator_rows: Counter[tuple[str, str]] = Counter()  # GCP: (GPU type, region) -> rows
        self._read()

    # --- reading -------------------------------------------------------------------

    def _number(self, row: dict, column: str, line: int) -> Decimal | None:
        return optional_decimal(row.get(column) or "", path=self.path, line=line, column=column)

    def _accelerator(self, row: dict, line: int) -> tuple[str, int] | None:
        """(GPU type, count) of a row that Heliox prices; ('', 0) for a row without accelerator; None: skipped."""
        name = (row["AcceleratorName"] or "").strip()
        if not name:
            return "", 0
        if name.lower().startswith("tpu-"):
            self.skipped[f"{name} (a TPU slice: priced per slice, not per device)"] += 1
            return None
        try:
            gpu_type_validator(name)
        except Exception:  # noqa: BLE001 - a ValidationError: the row is reported, not the file refused
            self.skipped[f"{name} (not a GPU type name)"] += 1
            return None
        if len(name) > 32:
            self.skipped[f"{name} (a GPU type name is at most 32 characters)"] += 1
            return None
        count = self._number(row, "AcceleratorCount", line)
        if count is None or count != int(count) or count < 1:
            self.skipped[f"{name} (a fraction of a GPU, or no count)"] += 1
            return None
        return name, int(count)

    def _read(self) -> None:
        gcp = self.provider == Provider.GCP
        for line, row in catalog_rows(self.path, COLUMNS):
            self.rows_read += 1
            accelerator = self._accelerator(row, line)
            if accelerator is None:
                continue
            gpu_type, count = accelerator
            name = (row["InstanceType"] or "").strip()
            if gcp and name and not gpu_type:
                gpu_type, count = gcp_machine_gpus(name) or ("", 0)
                if not gpu_type and not name.startswith("n1-"):
                    continue  # a CPU machine that carries no GPU
            elif not gpu_type or (not gcp and not name):
                continue  # a CPU-only instance type
            region = (row["Region"] or "").strip()
            vcpus = self._number(row, "vCPUs", line)
            offer = self.offers.setdefault(
                (region, name, gpu_type, count), Offer(name, gpu_type, count, vcpus, line, defaultdict(list))
            )
            for pricing, column in PRICE_COLUMNS:
                price = self._number(row, column, line)
                if price is not None:
                    offer.prices[pricing].append(price)
            if gcp and not name:
                self.accelerator_rows[(gpu_type, region)] += 1
            if name and gpu_type:
                memory = self._number(row, "MemoryGiB", line)
                self.instances[name] = InstanceRow(
                    self.provider, name, gpu_type, count, int(vcpus) if vcpus is not None and vcpus == int(vcpus)
                    else None, memory,
                )  # fmt: skip

    # --- pricing -------------------------------------------------------------------

    def _regional(self) -> dict[tuple[str, str, str], tuple[Decimal, str, int]]:
        """(GPU type, region, pricing) -> (USD per GPU-hour, source, line)."""
        choices: dict[tuple[str, str, str], tuple[tuple, Decimal, str, int]] = {}
        for (region, name, gpu_type, count), offer in self.offers.items():
            if not name:
                continue  # a GCP accelerator row: priced with its host below
            for pricing, _ in PRICE_COLUMNS:
                price = offer.price(pricing)
                if price is None:
                    continue
                if self.provider == Provider.GCP:
                    for key, value, source in self._gcp_hosted(region, offer, price, pricing):
                        if key not in choices or value[0] < choices[key][0]:
                            choices[key] = (*value, source, offer.line)
                    continue
                unit = per_gpu(price, count)
                # The largest instance; then the cheaper per GPU; then the name, for a stable choice.
                rank = (-count, unit, name)
                key = (gpu_type, region, pricing)
                if key not in choices or rank < choices[key][0]:
                    choices[key] = (rank, unit, f"{name} {price}/h / {count}", offer.line)
        return {key: (unit, source, line) for key, (_, unit, source, line) in choices.items()}

    def _gcp_hosted(self, region: str, host: Offer, host_price: Decimal, pricing: str):
        """The per-GPU prices a GCP machine gives its accelerators in a region, with their ranks."""
        if host.name.startswith("n1-"):
            carried = [(gpu, 1) for gpu in GCP_N1_GPUS]
        else:
            carried = [(host.gpu_type, host.gpu_count)]
        for gpu_type, count in carried:
            accelerator = self.offers.get((region, "", gpu_type, count))
            accelerator_price = accelerator.price(pricing) if accelerator else None
            if accelerator_price is None:
                continue
            unit = per_gpu(host_price + accelerator_price, count)
            # The smallest machine that carries the GPU: fewest GPUs, fewest vCPUs, lowest price, name.
            rank = (count, host.vcpus if host.vcpus is not None else Decimal("Infinity"), host_price, host.name)
            source = f"{host.name} {host_price}/h + {count} x {gpu_type} {accelerator_price}/h, / {count}"
            yield (gpu_type, region, pricing), (rank, unit), source

    def catalog(self) -> Catalog:
        catalog = Catalog(rows_read=self.rows_read)
        regional = self._regional()
        if self.provider == Provider.GCP:
            priced = {(gpu_type, region) for gpu_type, region, _ in regional}
            for (gpu_type, region), rows in sorted(self.accelerator_rows.items()):
                if (gpu_type, region) not in priced:
                    self.skipped[f"{gpu_type} (no host machine that carries it in its region)"] += rows
        source = f"SkyPilot catalog {self.path.name}"
        by_gpu: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for (gpu_type, region, pricing), (unit, detail, line) in sorted(regional.items()):
            by_gpu[(gpu_type, pricing)][region] = unit
            catalog.prices.append(
                PriceRow(self.provider, gpu_type, region, pricing, unit, None, f"{source}: {detail}"[:300], line)
            )
        for (gpu_type, pricing), prices in sorted(by_gpu.items()):
            unit, how = any_region_price(prices, HOME_REGIONS.get(self.provider))
            catalog.prices.append(PriceRow(
                self.provider, gpu_type, "", pricing, unit, None, f"{source}: any region, {how}", 0
            ))  # fmt: skip
        catalog.instance_types = sorted(self.instances.values(), key=lambda row: row.name)
        catalog.skipped = self.skipped
        return catalog


def any_region_price(prices: dict[str, Decimal], home_region: str | None) -> tuple[Decimal, str]:
    """The most common regional price; on a tie the home region's if tied, else the highest tied.

    Returns the price and how it was chosen (kept in the price's source).
    """
    counts = Counter(prices.values())
    top = max(counts.values())
    tied = {price for price, count in counts.items() if count == top}
    if len(tied) == 1:
        return tied.pop(), f"the price of {top} of {len(prices)} regions"
    if home_region in prices and prices[home_region] in tied:
        return prices[home_region], f"{len(tied)} prices tied in {len(prices)} regions: {home_region}'s"
    return max(tied), f"{len(tied)} prices tied in {len(prices)} regions: the highest"


def skypilot_provider(path: Path, provider: str | None) -> str:
    """The provider of a SkyPilot vms.csv: given, or the folder it sits in (catalogs/v7/<cloud>/vms.csv)."""
    guess = provider or path.parent.name
    if guess not in Provider.values:
        guess = next((value for value in Provider.values if path.name.startswith(value)), guess)
    if guess not in Provider.values:
        raise InputError(
            f"cannot tell the provider of this SkyPilot catalog; pass --provider ({', '.join(Provider.values)})",
            path=str(path),
        )
    return guess


def parse_skypilot(path: Path, *, provider: str | None = None) -> Catalog:
    """A SkyPilot vms.csv as prices per region and any region, and GPU instance types (see the module doc)."""
    return SkyPilotFile(path, skypilot_provider(path, provider)).catalog()
