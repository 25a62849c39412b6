"""Cost labels: string keys and values on a job (`project`, `user`, `cost_center`, `slurm.partition`...).

One rule for every way in (CSV `label.<key>` columns, a JSON `labels` object, the API, the
admin, Slurm fields), so that a label refused by one is refused by all, with the label named.
"""

import re

from heliox.validation import text_problem

MAX_LABELS = 32
MAX_KEY_LENGTH = 63
MAX_VALUE_LENGTH = 200
# Lower-case words with digits, '_', '-' and '.' (for namespaces like slurm.user): keys are SQL JSON paths
# and setting values, so no quotes, spaces or '$'.
KEY_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_.\-]{0,62})$")
UNLABELLED = "(unlabelled)"  # the value of a rolled-up key on jobs without it


def label_problem(labels: object) -> tuple[str, str] | None:
    """The first label that cannot be stored, as (field, why) with field `labels.<key>`; None when all can."""
    if not isinstance(labels, dict):
        return "labels", "must be an object of string keys and string values"
    if len(labels) > MAX_LABELS:
        return "labels", f"at most {MAX_LABELS} labels per job, found {len(labels)}"
    for key, value in labels.items():
        where = f"labels.{key}"
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            return where, (
                f"a label key is 1-{MAX_KEY_LENGTH} characters: lower-case letters, digits, '_', '-', '.', "
                "starting with a letter or digit"
            )
        if not isinstance(value, str):
            return where, "a label value must be a string"
        if not value.strip() or len(value) > MAX_VALUE_LENGTH:
            return where, f"a label value is 1-{MAX_VALUE_LENGTH} characters, not blank"
        if value == UNLABELLED:
            return where, f"{UNLABELLED} is reserved for jobs without the label"
        problem = text_problem(value)
        if problem:
            return where, problem
    return None


def labels_from_columns(raw: dict) -> dict[str, str]:
    """`label.<key>` columns of a CSV row as labels; empty cells are no label."""
    return {
        column[6:]: value.strip()
        for column, value in raw.items()
        if isinstance(column, str) and column.startswith("label.") and isinstance(value, str) and value.strip()
    }


SLURM_LABEL_FIELDS = ("user", "partition", "qos", "jobname", "account", "group", "cluster")


def slurm_label_key(field: str) -> str:
    """The label key of a sacct field: slurm.user, slurm.job_name..."""
    return "slurm." + {"jobname": "job_name"}.get(field, field)


def settings_problem(cost_labels: list[str], slurm_fields: list[str]) -> str:
    """Why HELIOX_COST_LABELS or HELIOX_SLURM_LABELS is wrong ('' when both are right)."""
    for key in cost_labels:
        if not KEY_PATTERN.match(key):
            return f"HELIOX_COST_LABELS: {key!r} is no label key (lower-case letters, digits, '_', '-', '.')"
    unknown = [field for field in slurm_fields if field not in SLURM_LABEL_FIELDS]
    if unknown:
        return f"HELIOX_SLURM_LABELS: unknown sacct field(s) {', '.join(unknown)}; use {', '.join(SLURM_LABEL_FIELDS)}"
    return ""
