"""Reading Slurm `sacct --parsable2 --noheader` lines as sites write them.

Pure text work, no database: splitting a line (the job name is the last field and may
hold '|'), the GPUs of AllocTRES (typed entries, several types, a generic total), job
array ids and Slurm's job states. `imports.RowParser.sacct` turns the result into jobs.

Two layouts: the 26 fields of SACCT_FIELDS (run with `--allocations`), and the long one,
SACCT_USAGE_FIELDS, with `tresusageinave,tresusageinmax` before the job name and run
without `--allocations`: the job steps' lines then carry the GPU utilisation
(`gres/gpuutil`) and memory (`gres/gpumem`) that Slurm 21.08+ gathers with NVML, and
`SacctSteps` hands them to the job line they follow.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from jobs.models import JobStatus, UtilSource
from jobs.utilisation import TresUsage, job_util_from_steps

SACCT_FIELDS = [
    "jobid",
    "jobidraw",
    "cluster",
    "partition",
    "qos",
    "account",
    "group",
    "gid",
    "user",
    "uid",
    "submit",
    "eligible",
    "start",
    "end",
    "elapsed",
    "exitcode",
    "state",
    "nnodes",
    "ncpus",
    "reqcpus",
    "reqmem",
    "reqtres",
    "alloctres",
    "timelimit",
    "nodelist",
    "jobname",
]
# The long layout: the step lines' TRES usage before the job name (which stays last: it may hold '|').
SACCT_USAGE_FIELDS = [*SACCT_FIELDS[:-1], "tresusageinave", "tresusageinmax", "jobname"]
# A TRES list (`cpu=00:08:24,energy=95240,fs/disk=147861134,gres/gpumem=15114M,gres/gpuutil=10`) or nothing.
TRES_LIST = re.compile(r"^(?:[a-z][a-z_]*(?:/[^=,|]+)?=[^=,|]*(?:,[a-z][a-z_]*(?:/[^=,|]+)?=[^=,|]*)*)?$")
# Slurm's job states (squeue/sacct JOB STATE CODES). A state not listed here is skipped and reported.
FINAL_STATES = {
    "COMPLETED": JobStatus.SUCCEEDED,
    "FAILED": JobStatus.FAILED,
    "TIMEOUT": JobStatus.FAILED,
    "NODE_FAIL": JobStatus.FAILED,
    "OUT_OF_MEMORY": JobStatus.FAILED,
    "BOOT_FAIL": JobStatus.FAILED,
    "DEADLINE": JobStatus.FAILED,
    "PREEMPTED": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
    "REVOKED": JobStatus.CANCELLED,  # a federated sibling that ran on another cluster
}
RUNNING_STATES = ("RUNNING", "COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED")
PENDING_STATES = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT")
SACCT_STATES = {**FINAL_STATES, **dict.fromkeys(RUNNING_STATES, JobStatus.RUNNING),
                **dict.fromkeys(PENDING_STATES, JobStatus.PENDING)}  # fmt: skip
GRES_GPU = re.compile(r"(?:^|,)gres/gpu(?::(?P<type>[^=,]+))?=(?P<count>\d+)")
# `4103947_[1-3]`, `4103947_[1,5]`, `4103947_[9-11,20%4]`: the tasks of an array not yet started.
ARRAY_SUMMARY = re.compile(r"^(?P<job>\d+)_\[(?P<tasks>[0-9,\-]+)(?:%\d+)?\]$")
MAX_ARRAY_TASKS = 10_000
# Errors name sacct's fields, not Heliox's columns.
FIELD_OF = {"start_time": "start", "end_time": "end", "model_name": "jobname", "external_id": "jobid",
            "region": "cluster", "gpu_type": "alloctres", "gpu_count": "alloctres"}  # fmt: skip


def split_line(text: str) -> dict[str, str] | None:
    """A line's fields by name; the job name (last) keeps any '|' it holds. None when there are too few.

    A line of 28 fields or more whose 26th and 27th are TRES lists (or empty) is the long
    layout (SACCT_USAGE_FIELDS); any other is the 26-field one. (A job name of the short
    layout holding two TRES-looking '|'-separated parts would be read as the long layout:
    only that job's name would lose its first two parts.)
    """
    text = text.rstrip("\r\n")
    long = text.split("|", len(SACCT_USAGE_FIELDS) - 1)
    if len(long) == len(SACCT_USAGE_FIELDS) and TRES_LIST.match(long[-3]) and TRES_LIST.match(long[-2]):
        return dict(zip(SACCT_USAGE_FIELDS, long, strict=True))
    fields = text.split("|", len(SACCT_FIELDS) - 1)
    return dict(zip(SACCT_FIELDS, fields, strict=True)) if len(fields) == len(SACCT_FIELDS) else None


@dataclass
class SacctSteps:
    """The GPU jobs of the last job line read, held until its step lines (which follow it) have been read.

    `hold` a job line's rows, `add` each step's usage, `release` the held rows with the
    utilisation of their steps (the busiest step's `gres/gpuutil`, the largest `gres/gpumem`).
    A step whose job is not the one held (sacct writes steps right after their job) is ignored.
    """

    jobid: str = ""
    rows: list = field(default_factory=list)
    usage: list[TresUsage] = field(default_factory=list)

    def hold(self, jobid: str, rows: list) -> Iterator:
        yield from self.release()
        self.jobid, self.rows = jobid, rows

    def add(self, step_id: str, usage: TresUsage) -> None:
        if self.rows and step_id.partition(".")[0] == self.jobid and (usage.util is not None or usage.mem_gib):
            self.usage.append(usage)

    def release(self) -> Iterator:
        rows, usage = self.rows, self.usage
        self.jobid, self.rows, self.usage = "", [], []
        for row in rows:
            util, mem = job_util_from_steps(usage, row.gpu_count) if usage else (None, None)
            if util is None and mem is None:
                yield row
            else:
                yield replace(row, gpu_util_avg=util, gpu_mem_peak_gib=mem, gpu_util_source=UtilSource.SLURM)


@dataclass(frozen=True)
class Gpus:
    """The GPUs of one AllocTRES: counts per raw type spelling, and GPUs whose type it does not say."""

    typed: tuple[tuple[str, int], ...]
    untyped: int


def gres_gpus(alloctres: str) -> Gpus:
    """Typed `gres/gpu:TYPE=N` entries win; the generic `gres/gpu=N` (Slurm's total) adds only what they miss.

    `gres/gpu=1,gres/gpu:nvidia_h200=1` is one H200; `gres/gpu:a100=1,gres/gpu:v100=1` is one
    of each; `gres/gpu=4,gres/gpu:a100=2` leaves 2 GPUs of no stated type.
    """
    total, typed = 0, dict[str, int]()
    for match in GRES_GPU.finditer(alloctres):
        count = int(match["count"])
        if match["type"]:
            typed[match["type"]] = typed.get(match["type"], 0) + count
        else:
            total = max(total, count)
    typed = {name: count for name, count in typed.items() if count}
    return Gpus(typed=tuple(typed.items()), untyped=max(0, total - sum(typed.values())))


def array_tasks(jobid: str) -> list[str] | None:
    """`123_[1-3,7]` -> ['123_1', '123_2', '123_3', '123_7']; None when the id is no array summary.

    ValueError when the list is malformed or longer than MAX_ARRAY_TASKS.
    """
    match = ARRAY_SUMMARY.match(jobid)
    if not match:
        return None
    tasks: list[str] = []
    for part in match["tasks"].split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError("not a job array task list")
        low, high = int(first), int(last or first)
        if high < low or len(tasks) + high - low + 1 > MAX_ARRAY_TASKS:
            raise ValueError(f"more than {MAX_ARRAY_TASKS:,} array tasks, or a range that runs backwards")
        tasks.extend(f"{match['job']}_{task}" for task in range(low, high + 1))
    return tasks
