from pathlib import Path

from costs.llm.services.imports import llm_calls_import, llm_calls_summary
from heliox.commands import HelioxCommand, user_errors
from jobs.management.queueing import queue_import
from jobs.services.records import imported_before


class Command(HelioxCommand):
    help = (
        "Import LLM calls from a JSON Lines file (one call per line, API fields; team by id or name); all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="PATH", help="JSONL file (plain or .gz).")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument(
            "--async", action="store_true", dest="run_async",
            help="Store the file and queue its import for a worker (CELERY_BROKER_URL); it rolls up the days after.",
        )  # fmt: skip

    def handle(self, *args, path, dry_run, run_async, **options):
        if run_async:
            queue_import(self, path=path, kind="llm_calls", parameters={"format": "jsonl", "dry_run": dry_run})
            return
        with user_errors():
            outcome, counts = llm_calls_import(path=path, dry_run=dry_run)
        if outcome is None:
            self.say(imported_before(path.name))
            return
        self.say(self.style.SUCCESS(llm_calls_summary(path.name, counts, dry_run=dry_run)))
