"""Importing LLM calls from a JSON Lines file, through the import log: a file imported before is a no-op."""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from costs.billing.money import to_cents
from costs.llm.services.ingest import CallValidator, IngestResult, llm_calls_store
from heliox.reading import json_lines
from jobs.models import ImportRecord
from jobs.services.changes import AffectedDays, rollups_follow
from jobs.services.records import ImportOutcome, import_run, imported_before

FORMATS = ("jsonl",)
BATCH = 5000


@dataclass
class LlmImport:
    """What an import of calls did: the calls read and what storing them cost (USD, exact)."""

    read: int = 0
    result: IngestResult = field(default_factory=lambda: IngestResult(0, 0, Decimal(0)))


def llm_calls_import(
    *,
    path: Path,
    dry_run: bool = False,
    run_by: str = "",
    allowed_team_ids: Collection[UUID] | None = None,
    record: ImportRecord | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[ImportOutcome | None, LlmImport]:
    """Import LLM calls (one JSON object per line, the API's fields; team by id or name) all or nothing.

    Streamed in batches inside one transaction: constant memory, and a bad line anywhere
    rolls back every batch before it. Logged as an ImportRecord; a file imported
    successfully before is not imported again: (None, ...) then. `affected_days` are the
    UTC days of the calls, for the rollup. `allowed_team_ids`: the only teams the calls may name
    (a manager's upload); `record`: an upload's queued ImportRecord to fill.
    """
    counts = LlmImport()
    with import_run(kind=ImportRecord.Kind.LLM_CALLS, path=path, fmt="jsonl", dry_run=dry_run,
                    run_by=run_by, record=record) as record:  # fmt: skip
        if record is None:
            return None, counts
        validate = CallValidator(allowed_team_ids=allowed_team_ids, path=str(path))
        days, batch = AffectedDays(), []
        for number, item in json_lines(path):  # each line bounded, its strings and depth checked
            call = validate(number, item)
            counts.read += 1
            days.add_span(call.created_at.date(), call.created_at.date())
            batch.append(call)
            if progress:
                progress(1)
            if len(batch) == BATCH:
                counts.result += llm_calls_store(batch, fail=validate.fail)
                batch = []
        counts.result += llm_calls_store(batch, fail=validate.fail)
        record.rows_read, record.rows_kept = counts.read, counts.result.stored
        record.totals = counts.result.as_dict()
    return ImportOutcome(record=record, affected_days=days), counts


def llm_calls_upload(
    *, path: Path, parameters: dict, run_by: str, record: ImportRecord | None = None, progress=None
) -> str:
    """An upload's import (admin form, API, `import_llm_calls --async`): import, roll up its days, summarise.

    `parameters`: "dry_run", "team_ids" (a manager's teams: the only ones the calls may name), "no_rollup".
    """
    dry_run = bool(parameters.get("dry_run"))
    team_ids = parameters.get("team_ids")
    outcome, counts = llm_calls_import(
        path=path, dry_run=dry_run, run_by=run_by, record=record, progress=progress,
        allowed_team_ids=None if team_ids is None else {UUID(str(pk)) for pk in team_ids},
    )  # fmt: skip
    if outcome is None:
        return imported_before(path.name)
    summary = llm_calls_summary(path.name, counts, dry_run=dry_run, rollup_hint=False)
    if not dry_run:
        followed = rollups_follow(outcome.affected_days, enabled=not parameters.get("no_rollup"))
        summary += f" {followed}" if followed else ""
    return summary


def llm_calls_summary(name: str, counts: LlmImport, *, dry_run: bool, rollup_hint: bool = True) -> str:
    result = counts.result
    cost = "cost unknown" if result.known_cost_usd is None else f"${to_cents(result.cost_usd)}"
    return (
        f"{'Would import' if dry_run else 'Imported'} {result.stored:,} calls from {name}: "
        f"{cost}, {result.unpriced:,} unpriced "
        "(unknown model or no price at the call's time)."
        + (" Run `manage.py rollup` for the days they cover." if rollup_hint else "")
    )
