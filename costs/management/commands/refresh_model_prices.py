from pathlib import Path

from costs.catalog.services.model_prices import FORMATS, model_prices_refresh
from heliox.commands import HelioxCommand, counts_listed, user_errors


class Command(HelioxCommand):
    help = "Load the LLM price catalog: the shipped default, a Heliox CSV or LiteLLM's model prices JSON."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path, metavar="PATH", help="Catalog file; default: shipped.")
        parser.add_argument("--format", choices=FORMATS, default="heliox", dest="fmt", help="File format.")
        parser.add_argument(
            "--if-stale",
            action="store_true",
            help="Do nothing while the catalog is younger than MODEL_PRICE_STALENESS_SECONDS.",
        )

    def handle(self, *args, path, fmt, if_stale, **options):
        with user_errors():
            result = model_prices_refresh(path=path, fmt=fmt, if_stale=if_stale)
        if result.refresh is None:
            self.say(f"Model catalog is fresh: {result.skipped_reason}. Nothing to do.")
            return
        r = result.refresh
        self.say(self.style.SUCCESS(
            f"Loaded {r.source} ({r.format}): {r.rows_read} entries read, {r.rows_read - r.rows_skipped} models "
            f"priced, {r.prices_opened} prices opened, {r.prices_closed} closed, {r.prices_corrected} corrected."
        ))  # fmt: skip
        if r.rows_skipped:
            listed = counts_listed(r.skipped, verbosity=options["verbosity"])
            self.say(self.style.WARNING(f"Skipped {r.rows_skipped} entries: {listed}."))
