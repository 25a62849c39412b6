"""Reading Slurm `sacct --parsable2 --noheader --allocations` lines as sites write them.

Pure text work, no database: splitting a line (the job name is the last field and may
hold '|'), the GPUs of AllocTRES (typed entries, several types, a generic total), job
array ids and Slurm's job states. `imports.RowParser.sacct` turns the result into jobs.
"""

import re
from dataclasses import dataclass

from jobs.models import JobStatus

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


def split_line(text: str) -> list[str] | None:
    """The 26 fields of a line; the job name (last) keeps any '|' it holds. None when there are fewer."""
    fields = text.rstrip("\r\n").split("|", len(SACCT_FIELDS) - 1)
    return fields if len(fields) == len(SACCT_FIELDS) else None


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
