from pathlib import Path

from costs.llm.services.imports import llm_calls_import, llm_calls_summary
from heliox.commands import HelioxCommand, user_errors
from jobs.services.records import imported_before


class Command(HelioxCommand):
    help = (
        "Import LLM calls from a JSON Lines file (one call per line, API fields; team by id or name); all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="PATH", help="JSONL file (plain or .gz).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")

    def handle(self, *args, path, dry_run, **options):
        with user_errors():
            outcome, counts = llm_calls_import(path=path, dry_run=dry_run)
        if outcome is None:
            self.say(imported_before(path.name))
            return
        self.say(self.style.SUCCESS(llm_calls_summary(path.name, counts, dry_run=dry_run)))
