import argparse
from pathlib import Path

from django.core.management import CommandError

from heliox.commands import HelioxCommand, progress_bar, user_errors
from jobs.gpus import parse_gpu_map
from jobs.management.queueing import queue_import
from jobs.models import Provider
from jobs.services.changes import rollups_follow
from jobs.services.imports import (
    FORMATS,
    SACCT_FIELDS,
    JobImportOptions,
    jobs_import,
    skip_details,
    unknown_gpu_types_note,
)
from jobs.services.records import imported_before


def gpu_map(value: str) -> str:
    """argparse type for --gpu-map: NAME=TYPE pairs, comma-separated (checked here; merged in gpu_maps)."""
    try:
        parse_gpu_map(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def gpu_maps(values: list[str]) -> dict[str, str]:
    """Every --gpu-map as one map; a name mapped to two types by two of them is an error naming both."""
    try:
        return parse_gpu_map(",".join(values))
    except ValueError as error:
        raise CommandError(f"--gpu-map: {error}") from None


class Command(HelioxCommand):
    help = "Import job records from a Heliox CSV or JSON file or Slurm sacct output; all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, metavar="PATH", help="File to import (plain or .gz).")
        parser.add_argument("--format", choices=FORMATS, required=True, dest="fmt", help="File format.")
        parser.add_argument("--provider", choices=Provider.values, help="sacct: provider (default on-prem).")
        parser.add_argument("--gpu-type", help="sacct: GPU type when AllocTRES says gres/gpu=N without a type.")
        parser.add_argument(
            "--gpu-map", type=gpu_map, action="append", default=[], metavar="NAME=TYPE[,NAME=TYPE]",
            help="A site's GPU type names, e.g. a100_80=A100-80GB (over the GPU_TYPE_MAP setting; repeatable).",
        )  # fmt: skip
        parser.add_argument(
            "--team-from", default="account", choices=SACCT_FIELDS, help="sacct: field naming the team."
        )
        parser.add_argument(
            "--timezone", default="UTC", help="Zone of times written without one (sacct: the cluster's)."
        )
        parser.add_argument("--no-create-teams", action="store_true", help="Refuse rows of teams that do not exist.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--no-rollup", action="store_true", help="Do not roll up the affected days afterwards.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")
        parser.add_argument(
            "--async", action="store_true", dest="run_async",
            help="Store the file and queue its import for a worker (CELERY_BROKER_URL); print the import record.",
        )  # fmt: skip

    def handle(self, *args, path, fmt, provider, gpu_type, gpu_map, team_from, timezone, no_create_teams, dry_run,
               no_rollup, no_progress, run_async, **options):  # fmt: skip
        site_map = gpu_maps(gpu_map)
        if run_async:
            parameters = {"format": fmt, "provider": provider, "gpu_type": gpu_type, "team_from": team_from,
                          "timezone": timezone, "gpu_map": site_map,
                          "create_teams": not no_create_teams, "dry_run": dry_run, "no_rollup": no_rollup}  # fmt: skip
            queue_import(self, path=path, kind="jobs", parameters=parameters)
            return
        options = JobImportOptions(
            fmt=fmt, provider=provider, gpu_type=gpu_type, team_from=team_from, create_teams=not no_create_teams,
            timezone=timezone, gpu_map=site_map, dry_run=dry_run,
        )  # fmt: skip
        with progress_bar(total=None, desc="import", unit="job", enabled=not no_progress) as bar, user_errors():
            outcome, counts = jobs_import(path=path, options=options, progress=bar.update)
        if outcome is None:
            self.say(imported_before(path.name, with_options=True))
            return
        verb = "Would import" if dry_run else "Imported"
        self.say(
            self.style.SUCCESS(
                f"{verb} {path.name}: {counts.read:,} rows read, {counts.kept:,} GPU jobs "
                f"({counts.created:,} new, {counts.updated:,} updated, {counts.unchanged:,} unchanged), "
                f"{counts.skipped:,} skipped{skip_details(counts) or ' (no GPUs)'}."
            )
        )
        if counts.teams_created:
            self.say(f"{'Would create' if dry_run else 'Created'} teams: {', '.join(counts.teams_created)}")
        if counts.unknown_gpu_types:
            self.say(self.style.WARNING(unknown_gpu_types_note(counts)))
        if not dry_run:
            followed = rollups_follow(outcome.affected_days, enabled=not no_rollup)  # outside a transaction: now
            if followed:
                self.say(followed)
