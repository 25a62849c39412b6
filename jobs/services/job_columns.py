"""The columns of a Heliox jobs CSV (and JSON) file: which are read, which are known, and a misspelt one named."""

from difflib import get_close_matches

REQUIRED_COLUMNS = ("team", "provider", "gpu_type", "gpu_count", "start_time", "external_id")
OPTIONAL_COLUMNS = ("model_name", "region", "pricing", "end_time", "status", "gpu_util_avg", "gpu_mem_peak_gib",
                    "metadata")  # fmt: skip
TEXT_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS[:-1]
# The admin's job export adds these computed columns: an import reads nothing from them, so an export imports back.
EXPORT_COLUMNS = ("id", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "gpu_util_source")
# Every column a Heliox CSV header may name, besides `label.<key>`: any other is a typo that would lose its values.
KNOWN_COLUMNS = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "labels", *EXPORT_COLUMNS))
# The columns' sizes (jobs_job and teams_team): longer is refused here, not by the database mid-import.
MAX_LENGTHS = (("team", 100), ("model_name", 200), ("gpu_type", 32), ("region", 64), ("external_id", 128))


def unknown_column(header: list[str]) -> str | None:
    """Why a Heliox CSV header is refused for a column it names that no import reads (blank names aside), or None.

    A misspelt column would otherwise be dropped in silence: `end_tme` imports every job as running.
    """
    for name in header:
        if name and name not in KNOWN_COLUMNS and not name.startswith("label."):
            close = get_close_matches(name.strip().lower(), sorted(KNOWN_COLUMNS), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else " (label columns are label.<key>)"
            return f"unknown column {name!r}{hint}"
    return None
