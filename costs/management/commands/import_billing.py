from pathlib import Path

from django.core.management.base import CommandError

from costs.billing.money import to_cents
from costs.billing.services.focus import FORMATS, billing_import
from heliox.commands import HelioxCommand, progress_bar, user_errors
from jobs.management.queueing import queue_import
from jobs.services.records import imported_before


class Command(HelioxCommand):
    help = "Import a FOCUS billing file (CSV, plain or .gz) into daily GPU CostSnapshots; all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="PATH", help="FOCUS CSV file (plain or .gz).")
        parser.add_argument("--format", choices=FORMATS, default="focus", dest="fmt", help="File format.")
        parser.add_argument("--replace", action="store_true", help="Replace the bill of the days/providers it covers.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument(
            "--validate", action="store_true",
            help="Check the file against the FOCUS spec with focus-validator first (requirements-focus.txt).",
        )  # fmt: skip
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")
        parser.add_argument(
            "--async", action="store_true", dest="run_async",
            help="Store the file and queue its import for a worker (CELERY_BROKER_URL); print the import record.",
        )  # fmt: skip

    def handle(self, *args, path, fmt, replace, dry_run, validate, no_progress, run_async, **options):
        if run_async:
            if validate:
                raise CommandError("--validate runs here, before the import: leave out --async to use it")
            parameters = {"format": fmt, "replace": replace, "dry_run": dry_run}
            queue_import(self, path=path, kind="billing", parameters=parameters)
            return
        with progress_bar(total=None, desc="import", unit="line", enabled=not no_progress) as bar, user_errors():
            outcome, counts = billing_import(path=path, fmt=fmt, replace=replace, dry_run=dry_run, validate=validate,
                                             progress=bar.update)  # fmt: skip
        if outcome is None:
            self.say(imported_before(path.name))
            return
        verb = "Would import" if dry_run else "Imported"
        self.say(
            self.style.SUCCESS(
                f"{verb} {path.name}: {counts.read:,} lines read, {counts.kept:,} GPU lines kept, "
                f"{counts.skipped:,} skipped; ${counts.cost_usd:,} over {counts.gpu_hours:,.4f} GPU-h "
                f"in {len(counts.cells)} day/provider/GPU cells."
            )
        )
        for (day, provider, gpu_type), cell in sorted(counts.cells.items()):
            credits = f"  ({cell.credits} credit/refund line(s) netted)" if cell.credits else ""
            self.say(
                f"  {day} {provider:10} {gpu_type:10} ${to_cents(cell.cost):,}  {cell.gpu_hours:,.4f} GPU-h{credits}"
            )
        if counts.replaced:
            self.say(f"Replaced {counts.replaced} existing day cell(s).")
        if counts.added_to_existing and not replace:
            self.say(
                self.style.WARNING(
                    f"{counts.added_to_existing} cell(s) already had a bill; amounts were added. "
                    "If this file corrects an earlier one, re-run with --replace."
                )
            )
