"""Importing LLM calls from a JSON Lines file, through the import log: a file imported before is a no-op."""

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from costs.billing.money import to_cents
from costs.llm.services.ingest import CallValidator, IngestResult, llm_calls_store
from heliox.reading import json_lines
from jobs.models import ImportRecord
from jobs.services.changes import AffectedDays
from jobs.services.records import ImportOutcome, import_run, imported_before

FORMATS = ("jsonl",)
BATCH = 5000


@dataclass
class LlmImport:
    """What an import of calls did: the calls read and what storing them cost (USD, exact)."""

    read: int = 0
    result: IngestResult = field(default_factory=lambda: IngestResult(0, 0, Decimal(0)))


def llm_calls_import(*, path: Path, dry_run: bool = False, run_by: str = "") -> tuple[ImportOutcome | None, LlmImport]:
    """Import LLM calls (one JSON object per line, the API's fields; team by id or name) all or nothing.

    Streamed in batches inside one transaction: constant memory, and a bad line anywhere
    rolls back every batch before it. Logged as an ImportRecord; a file imported
    successfully before is not imported again: (None, ...) then. `affected_days` are the
    UTC days of the calls, for the rollup.
    """
    counts = LlmImport()
    with import_run(kind=ImportRecord.Kind.LLM_CALLS, path=path, fmt="jsonl", dry_run=dry_run,
                    run_by=run_by) as record:  # fmt: skip
        if record is None:
            return None, counts
        validate = CallValidator(allowed_team_ids=None, path=str(path))
        days, batch = AffectedDays(), []
        for number, item in json_lines(path):  # each line bounded, its strings and depth checked
            call = validate(number, item)
            counts.read += 1
            days.add_span(call.created_at.date(), call.created_at.date())
            batch.append(call)
            if len(batch) == BATCH:
                counts.result += llm_calls_store(batch, fail=validate.fail)
                batch = []
        counts.result += llm_calls_store(batch, fail=validate.fail)
        record.rows_read, record.rows_kept = counts.read, counts.result.stored
        record.totals = counts.result.as_dict()
    return ImportOutcome(record=record, affected_days=days), counts


def llm_calls_upload(*, path: Path, fmt: str, replace: bool, dry_run: bool, gpu_type: str, run_by: str) -> str:
    """The admin upload form's entry point: import and summarise in one line."""
    outcome, counts = llm_calls_import(path=path, dry_run=dry_run, run_by=run_by)
    if outcome is None:
        return imported_before(path.name)
    return llm_calls_summary(path.name, counts, dry_run=dry_run)


def llm_calls_summary(name: str, counts: LlmImport, *, dry_run: bool) -> str:
    result = counts.result
    return (
        f"{'Would import' if dry_run else 'Imported'} {result.stored:,} calls from {name}: "
        f"${to_cents(result.cost_usd)}, {result.unpriced:,} unpriced "
        "(unknown model or no price at the call's time). Run `manage.py rollup` for the days they cover."
    )
