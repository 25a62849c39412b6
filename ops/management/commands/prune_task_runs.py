from django.core.management.base import CommandError

from heliox.commands import HelioxCommand
from ops.services import task_runs_prune


class Command(HelioxCommand):
    help = "Delete task-run log rows older than TASK_RUN_RETENTION_DAYS (beat runs this daily; cron without workers)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help="Keep this many days instead of TASK_RUN_RETENTION_DAYS."
        )

    def handle(self, *args, days: int | None = None, **options):
        if days is not None and days < 0:
            raise CommandError(f"--days must be 0 or more, not {days}")
        outcome = task_runs_prune(retention_days=days)
        self.say(
            self.style.SUCCESS(f"Deleted {outcome['deleted']} task runs; marked {outcome['lost']} lost runs failed.")
        )
