from django.core.management.base import CommandError
from django.utils import timezone

from costs.demo.services import demo_data_exists, demo_load
from heliox.commands import HelioxCommand, iso_date, progress_bar
from jobs.times import time_floor


class Command(HelioxCommand):
    help = "Fill an empty database with a realistic demo organisation (teams, ~20,000 jobs, prices, bills)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="Random seed: same seed, same data.")
        parser.add_argument("--days", type=int, default=90, help="Days of history up to --as-of (default 90).")
        parser.add_argument("--as-of", type=iso_date, help="Last day of the demo (default: today, UTC).")
        parser.add_argument("--reset", action="store_true", help="Delete all Heliox data first.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing (exit 0) if data exists.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, seed, days, as_of, reset, if_empty, no_progress, **options):
        if days < 1:
            raise CommandError(f"--days must be at least 1, got {days}")
        self.check_days(days, as_of)
        if demo_data_exists():
            if if_empty:
                self.say("The database holds data already; no demo data loaded.")
                return
            if not reset:
                raise CommandError(
                    "The database is not empty: seed_demo only fills an empty database. "
                    "Use --reset to delete all teams, jobs, prices and bills first."
                )
        with progress_bar(total=days, desc="seed_demo", unit="day", enabled=not no_progress) as bar:
            # One transaction: a seed that fails leaves the data it would have replaced.
            summary = demo_load(reset=reset, seed=seed, days=days, as_of=as_of, progress=bar.update)
        self.say(
            self.style.SUCCESS(
                f"Demo data: {summary.teams} teams, {summary.jobs:,} jobs ({summary.running} running) over "
                f"{summary.days} days, {summary.bills:,} daily bills."
            )
        )

    @staticmethod
    def check_days(days: int, as_of) -> None:
        """The demo's days must be days a job may start on: from HELIOX_JOB_TIME_FLOOR to today."""
        today = timezone.now().date()
        if as_of is not None and as_of > today:
            raise CommandError(f"--as-of {as_of} is after today ({today}): the demo's jobs are jobs that ran")
        last = as_of or today
        floor = time_floor().date()
        room = max((last - floor).days + 1, 0)
        if days > room:
            raise CommandError(
                f"--days {days} up to {last} would start on a day before HELIOX_JOB_TIME_FLOOR ({floor}), "
                f"where no job may start: at most {room} days"
            )
