"""A job's GPU utilisation and peak GPU memory: reading them from text, and Slurm's TRES usage strings.

Pure text work, no database. Every source (CSV/JSON columns, the API, sacct, DCGM via
Prometheus) goes through `util_percent` and `mem_gib`, so that the bounds and the rounding
are the same wherever a figure comes from.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from jobs.models import GPU_MEM_MAX_GIB, UTIL_MAX

UTIL_PLACES = Decimal("0.01")
MEM_PLACES = Decimal("0.001")
GIB = Decimal(1024**3)
# Slurm prints sizes with base-1024 suffixes (`mem=327556K`, `gres/gpumem=15114M`); a bare number is bytes.
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)$")


def _decimal(value: object) -> Decimal:
    """A finite Decimal from a number or its text; ValueError otherwise (floats go through their repr)."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def util_percent(value: object) -> Decimal:
    """A utilisation in percent, 0-100, to 2 decimals (half up). ValueError saying what is wrong."""
    number = _decimal(value)
    if number < 0 or number > UTIL_MAX:
        raise ValueError("must be between 0 and 100 (percent)")
    return number.quantize(UTIL_PLACES, rounding=ROUND_HALF_UP)


def mem_gib(value: object) -> Decimal:
    """Peak GPU memory in GiB, 0 up to GPU_MEM_MAX_GIB, to 3 decimals. ValueError saying what is wrong."""
    number = _decimal(value)
    if number < 0 or number > GPU_MEM_MAX_GIB:
        raise ValueError(f"must be between 0 and {GPU_MEM_MAX_GIB:,} (GiB)")
    return number.quantize(MEM_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TresUsage:
    """The GPU figures of one sacct step line: `gres/gpuutil` (TRESUsageInAve) and `gres/gpumem` (TRESUsageInMax)."""

    util: Decimal | None = None  # as Slurm wrote it: percent, summed over the step's GPUs on multi-GPU steps
    mem_gib: Decimal | None = None


def tres_value(tres: str, key: str) -> str | None:
    """The raw value of `key` in a TRES list (`cpu=00:08:24,...,gres/gpuutil=10,...`); None when absent."""
    for entry in tres.split(","):
        name, sep, value = entry.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def tres_usage(average: str, maximum: str) -> TresUsage:
    """The GPU figures of a step's TRESUsageInAve and TRESUsageInMax; ValueError naming the entry that is wrong.

    Utilisation is the step's average `gres/gpuutil` (TRESUsageInAve); peak memory is the
    largest `gres/gpumem` (TRESUsageInMax, else TRESUsageInAve), in GiB.
    """
    util_text = tres_value(average, "gres/gpuutil")
    mem_text = tres_value(maximum, "gres/gpumem") or tres_value(average, "gres/gpumem")
    util = mem = None
    if util_text:
        try:
            util = _decimal(util_text)
        except ValueError:
            raise ValueError(f"gres/gpuutil={util_text} is not a number") from None
        if util < 0:
            raise ValueError(f"gres/gpuutil={util_text} is negative")
    if mem_text:
        match = SIZE.match(mem_text)
        if not match:
            raise ValueError(f"gres/gpumem={mem_text} is not a size (a number, then K, M, G, T or P)")
        mem = Decimal(match["number"]) * SIZE_UNITS[match["unit"]] / GIB
        if mem > GPU_MEM_MAX_GIB:
            raise ValueError(f"gres/gpumem={mem_text} is more than {GPU_MEM_MAX_GIB:,} GiB")
    return TresUsage(util=util, mem_gib=mem)


def job_util_from_steps(steps: list[TresUsage], gpu_count: int) -> tuple[Decimal | None, Decimal | None]:
    """A job's (utilisation %, peak GiB) from its steps' usage: the busiest step, the largest peak.

    Steps of one job run inside its allocation (the batch script, `srun` steps, `extern`),
    often at once, so their averages are not added: the job's figure is its busiest step's.
    On a multi-GPU step Slurm's NVML gathering sums `gpuutil` over the step's GPUs; a value
    above 100 is therefore divided by the job's GPU count. None when no step reported.
    """
    utils = [step.util for step in steps if step.util is not None]
    mems = [step.mem_gib for step in steps if step.mem_gib is not None]
    util = None
    if utils:
        busiest = max(utils)
        if busiest > UTIL_MAX:
            busiest = busiest / gpu_count
        util = util_percent(min(busiest, UTIL_MAX))
    return util, (mem_gib(max(mems)) if mems else None)
