from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from costs.billing.money import to_cents
from costs.llm.services.ingest import CallValidator, IngestResult, llm_calls_store
from heliox.commands import user_errors
from heliox.reading import json_lines
from jobs.services.records import check_file

BATCH = 5000


class Command(BaseCommand):
    help = (
        "Import LLM calls from a JSON Lines file (one call per line, API fields; team by id or name); all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="PATH", help="JSONL file (plain or .gz).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")

    def handle(self, *args, path, dry_run, **options):
        with user_errors(), transaction.atomic():
            check_file(path)
            validate = CallValidator(allowed_team_ids=None, path=str(path))
            result, batch = IngestResult(0, 0, Decimal(0)), []
            # Streamed in batches inside one transaction: constant memory, and a bad line
            # anywhere rolls back every batch before it.
            for number, item in json_lines(path):  # each line bounded, its strings and depth checked
                batch.append(validate(number, item))
                if len(batch) == BATCH:
                    result = result + llm_calls_store(batch, fail=validate.fail)
                    batch = []
            result = result + llm_calls_store(batch, fail=validate.fail)
            if dry_run:
                transaction.set_rollback(True)
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {result.stored:,} calls from {path.name}: ${to_cents(result.cost_usd)}, "
            f"{result.unpriced:,} unpriced "
            "(unknown model or no price at the call's time). Run `manage.py rollup` for the days they cover."
        ))  # fmt: skip
