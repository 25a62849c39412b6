import argparse
from datetime import UTC, datetime

from django.conf import settings

from heliox.commands import HelioxCommand, progress_bar, user_errors
from jobs.services.changes import rollups_follow
from jobs.services.prometheus_sync import SyncOutcome, prometheus_sync


def moment(value: str) -> datetime:
    """argparse type: an ISO date or date-time, UTC unless it names its zone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(HelioxCommand):
    help = "Sync Kubernetes GPU pods and DCGM utilisation from Prometheus into jobs (incremental, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=None, help="Prometheus base URL (default: the PROMETHEUS_URL setting).")
        parser.add_argument("--since", type=moment, help="Start of the window (default: where the last sync stopped).")
        parser.add_argument("--until", type=moment, help="End of the window (default: now).")
        parser.add_argument("--cluster", default=None, help="Cluster name in job ids (default PROMETHEUS_CLUSTER).")
        parser.add_argument("--dry-run", action="store_true", help="Read and report; write nothing.")
        parser.add_argument("--no-rollup", action="store_true", help="Do not roll up the affected days afterwards.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, url, since, until, cluster, dry_run, no_rollup, no_progress, **options):
        url, cluster = url or settings.PROMETHEUS_URL, cluster or settings.PROMETHEUS_CLUSTER
        with progress_bar(total=None, desc="sync", unit="chunk", enabled=not no_progress) as bar, user_errors():
            if not url:
                raise ValueError("--url: no Prometheus URL (pass --url or set PROMETHEUS_URL)")
            outcome = prometheus_sync(url=url, cluster=cluster, since=since, until=until, dry_run=dry_run,
                                      progress=bar.update)  # fmt: skip
        self.say(self.style.SUCCESS(summary(outcome, dry_run=dry_run)))
        if outcome.teams:
            self.say(f"{'Would create' if dry_run else 'Created'} teams: {', '.join(outcome.teams)}")
        if not dry_run:
            followed = rollups_follow(outcome.affected_days, enabled=not no_rollup)
            if followed:
                self.say(followed)


def summary(outcome: SyncOutcome, *, dry_run: bool = False) -> str:
    counts = outcome.counts
    return (
        f"{'Would sync' if dry_run else 'Synced'} [{outcome.since.isoformat()}, {outcome.until.isoformat()}): "
        f"{outcome.pods:,} GPU pods ({counts.created:,} new, {counts.updated:,} updated, {counts.unchanged:,} "
        f"unchanged; {outcome.unassigned:,} without a team, {outcome.measured:,} with DCGM utilisation), "
        f"{outcome.slurm_measured:,} Slurm jobs measured, {outcome.queries:,} queries."
    )
