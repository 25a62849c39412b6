from pathlib import Path

from costs.catalog.services.gpu_prices import FORMATS, prices_refresh
from heliox.commands import HelioxCommand, counts_listed, user_errors
from jobs.models import Provider


class Command(HelioxCommand):
    help = "Load the GPU price catalog: the shipped default, a Heliox CSV or a SkyPilot vms.csv."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="Catalog file(s); default: shipped.")
        parser.add_argument("--format", choices=FORMATS, default="heliox", dest="fmt", help="File format.")
        parser.add_argument(
            "--provider", choices=Provider.values, help="Provider of a SkyPilot file (default: its folder name)."
        )
        parser.add_argument(
            "--if-stale",
            action="store_true",
            help="Do nothing while the catalog is younger than PRICE_STALENESS_SECONDS.",
        )

    def handle(self, *args, paths, fmt, provider, if_stale, **options):
        with user_errors():
            result = prices_refresh(paths=paths or None, fmt=fmt, provider=provider, if_stale=if_stale)
        if result.refresh is None:
            self.say(f"Catalog is fresh: {result.skipped_reason}. Nothing to do.")
            return
        r = result.refresh
        self.say(
            self.style.SUCCESS(
                f"Loaded {r.source} ({r.format}): {r.rows_read} rows read, {r.prices_opened} prices opened, "
                f"{r.prices_closed} closed, {r.prices_corrected} corrected, "
                f"{r.instance_types_saved} instance types saved."
            )
        )
        if r.rows_skipped:
            listed = counts_listed(r.skipped, verbosity=options["verbosity"])
            self.say(self.style.WARNING(f"Skipped {r.rows_skipped} row(s) Heliox does not price: {listed}."))
