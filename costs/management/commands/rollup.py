from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from costs.usage.services.backlog import usage_rollup_backlog
from costs.usage.services.fanout import rollup_enqueue, rollup_recent_enqueue
from costs.usage.services.rollup import usage_rollup
from heliox.commands import HelioxCommand, iso_date, progress_bar, user_errors


class Command(HelioxCommand):
    help = "Rebuild the daily usage rollups and the bill allocation for UTC days [start, end)."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=iso_date, help="First UTC day (default: yesterday).")
        parser.add_argument("--end", type=iso_date, help="Day after the last one, exclusive (default: tomorrow).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")
        parser.add_argument(
            "--async", action="store_true", dest="run_async",
            help="Queue one task per day (per month past 92 days) for the workers instead of rolling up here.",
        )  # fmt: skip

    def handle(self, *args, start, end, no_progress, run_async, **options):
        today = timezone.now().date()
        owed = start is None and end is None  # the default run also rolls up the days changes left owed
        start = start or today - timedelta(days=1)
        end = end or today + timedelta(days=1)
        if start >= end:
            raise CommandError(f"--start ({start}) must be before --end ({end}); --end is exclusive")
        if end > today + timedelta(days=1):  # days still to come hold no usage: a typo'd year would run for hours
            raise CommandError(f"--end ({end}) is past tomorrow ({today + timedelta(days=1)}): days to come have "
                               "no usage to roll up")  # fmt: skip
        days = (end - start).days
        if run_async:
            sent = rollup_recent_enqueue(today=today) if owed else rollup_enqueue(ranges=[(start, end)])
            self.say(self.style.SUCCESS(f"Queued {sent} rollup task(s) for {days} day(s) [{start}, {end})"
                                        + (" and the days owed." if owed else ".")))  # fmt: skip
            return
        with progress_bar(total=days, desc="rollup", unit="day", enabled=not no_progress) as bar, user_errors():
            summary = usage_rollup(start=start, end=end, progress=lambda day: bar.update())
            backlog = usage_rollup_backlog() if owed else []
        self.say(
            self.style.SUCCESS(
                f"Rolled up {summary.days} day(s) [{start}, {end}): {summary.rows} team rows, "
                f"{summary.jobs} job-days, {summary.gpu_hours:,} GPU-h, ${summary.estimated_usd:,} estimated."
            )
        )
        if backlog:
            ranges = ", ".join(f"[{part.start}, {part.end})" for part in backlog)
            self.say(f"Rolled up {sum(part.days for part in backlog)} day(s) that changes to jobs left owed: {ranges}.")
        if summary.llm_calls:
            self.say(
                f"LLM: {summary.llm_calls:,} calls, ${summary.llm_usd:,}"
                + (f"; {summary.llm_unpriced_calls:,} unpriced (no model price)" if summary.llm_unpriced_calls else "")
            )
        if summary.unpriced_jobs:
            self.say(
                self.style.WARNING(
                    f"Unpriced: {summary.unpriced_jobs} job-day(s), {summary.unpriced_gpu_hours:,} GPU-h have no "
                    "catalog price (not counted as $0). Add cloud prices with `manage.py refresh_prices`; for "
                    "on-prem GPUs, set your own cost per GPU-hour: a Heliox CSV row "
                    "`on-prem,<GPU type>,<cluster or empty>,on_demand,<USD per GPU-hour>,<from>,<source>` "
                    "loaded with `manage.py refresh_prices PATH`, or admin > GPU prices > Add."
                )
            )
