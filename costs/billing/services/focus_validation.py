"""Checking a bill against the FOCUS specification with the FinOps Foundation's `focus-validator`.

An optional extra (`pip install -r requirements-focus.txt`): it brings pandas and reads
the whole file into memory, so it runs only when asked (`import_billing --validate`).
Its findings name the spec's checks (`ChargeFrequency_Enum`) and the file's lines, so a
malformed export is named against the spec rather than guessed at by the importer.
"""

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from heliox.errors import InputError
from heliox.reading import CsvReader
from jobs.services.records import open_binary

FOCUS_VERSION = "1.0"
FINDINGS_SHOWN = 20
VALUES_SHOWN = 3
# pandas holds the whole file, several times its size: past this, validating would not fit in memory.
MAX_VALIDATED_BYTES = 32 << 20
ERRORED = re.compile(r"^[A-Za-z]+(?:Error|Exception)\(")  # focus-validator reports a check that crashed this way


@dataclass(frozen=True)
class Finding:
    """One failed check: its name in the spec's rule set, what it requires, where and what the file has."""

    check: str
    description: str
    lines: str  # file lines (the header is line 1), e.g. "927-928, 943"; "whole file" for a missing column
    values: str

    def __str__(self) -> str:
        if ERRORED.match(self.values):  # the validator's own failure, not the file's
            return f"{self.check}: {self.description} - the check could not run ({self.values})"
        shown = f" (got {self.values})" if self.values else ""
        return f"{self.check}: {self.description} - {self.lines}{shown}"


def _ranges(numbers: list[int]) -> str:
    """[927, 928, 943] -> 'lines 927-928, 943'."""
    if not numbers:
        return "whole file"
    parts, start, previous = [], numbers[0], numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(f"{start}-{previous}" if previous != start else str(start))
        if number is not None:
            start = previous = number
    return "lines " + ", ".join(parts)


def focus_validate(path: Path, *, version: str = FOCUS_VERSION) -> list[Finding]:
    """The checks of FOCUS `version` that the file fails (empty when it passes). InputError without the extra."""
    try:
        import pandas as pd
        from focus_validator.rules.spec_rules import SpecRules
        from focus_validator.validator import DEFAULT_VERSION_SETS_PATH
    except ImportError:
        raise InputError(
            "needs the optional focus-validator: pip install -r requirements-focus.txt", field="--validate"
        ) from None
    rules = SpecRules(
        override_filename=None, rule_set_path=DEFAULT_VERSION_SETS_PATH, rules_version=version, column_namespace=None
    )
    rules.load()
    _bounded_first(path)
    with open_binary(path) as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' dtype guesses on mixed columns
        try:
            data = pd.read_csv(handle)  # as focus-validator's own loader reads it
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError(f"not CSV that focus-validator can read ({error})", path=str(path)) from None
        failures = rules.validate(data).failure_cases
    if failures is None:
        return []
    findings = []
    for (check, description), group in failures.groupby(["Check Name", "Description"], sort=True):
        rows = sorted({int(row) for row in group["Row #"].dropna()})
        values = [str(value) for value in group["Values"].dropna().unique()[:VALUES_SHOWN] if str(value)]
        # focus-validator counts data rows from 1; the file's line is one more (the header).
        findings.append(Finding(check, description.strip(), _ranges([row + 1 for row in rows]), ", ".join(values)))
    return findings


def _bounded_first(path: Path) -> None:
    """Read the file through the bounded reader before pandas does: a line, field or file too large is refused."""
    size = 0
    for row in CsvReader(path):
        size += sum(len(value) for value in row.values() if isinstance(value, str)) + len(row)
        if size > MAX_VALIDATED_BYTES:
            raise InputError(
                f"larger than {MAX_VALIDATED_BYTES >> 20} MiB: too large for --validate (focus-validator holds the "
                "whole file in memory); import it without --validate, or validate a part",
                path=str(path),
                field="--validate",
            )


def focus_validate_or_refuse(path: Path) -> None:
    """Raise an InputError listing the findings when the file fails the spec's checks."""
    findings = focus_validate(path)
    if not findings:
        return
    shown = "\n  ".join(str(finding) for finding in findings[:FINDINGS_SHOWN])
    more = f"\n  ... and {len(findings) - FINDINGS_SHOWN} more" if len(findings) > FINDINGS_SHOWN else ""
    checks = f"{len(findings)} check(s) of FOCUS {FOCUS_VERSION}"
    raise InputError(f"fails {checks} (focus-validator); nothing imported:\n  {shown}{more}", path=str(path))
