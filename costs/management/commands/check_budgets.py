from django.core.management.base import CommandError
from django.utils import timezone

from costs.budgets.selectors import INVALID
from costs.budgets.services.alerts import budgets_check
from heliox.commands import HelioxCommand, calendar_day


class Command(HelioxCommand):
    help = (
        "Check every active budget, send due alerts (e-mail, webhook) once per threshold and period, and "
        "once per window when a team's GPU efficiency is under the budget's min_efficiency_pct."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=calendar_day, help="Day to evaluate (default: today, UTC).")
        parser.add_argument("--dry-run", action="store_true", help="Show statuses and due alerts; send nothing.")

    def handle(self, *args, date, dry_run, **options):
        as_of = date or timezone.now().date()
        checks = budgets_check(as_of=as_of, dry_run=dry_run)
        if not checks:
            self.say("No active budgets.")
            return
        header = ("team", "period", "budget", "spent", "%", "projected", "status", "efficiency", "alerts")
        rows = []
        for check in checks:
            s = check.status
            if s.status == INVALID:
                alerts = "-"
            elif dry_run:
                alerts = ", ".join(f"{kind} {t}%" for kind, t in check.due) or "-"
            else:
                alerts = f"{len(check.sent)} sent, {len(check.failed)} failed"
                alerts += f", {len(check.queued)} queued" if check.queued else ""
                alerts += f", {len(check.deferred)} deferred" if check.deferred else ""
            period = f"{s.period_start}..{s.period_end}" if s.period_start else s.budget.period
            efficiency = check.efficiency.label() if check.efficiency else "-"
            rows.append((s.budget.team.name, period, f"{s.budget.amount_usd:,}", _figure(s.spent),
                         _figure(s.percent), _figure(s.projected), s.status, efficiency, alerts))  # fmt: skip
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.say("  ".join(str(value).ljust(widths[i]) for i, value in enumerate(row)).rstrip())
        if dry_run:
            self.say(f"As of {as_of} (dry run: the alerts listed would be due; nothing was sent).")
        failed = sum(len(check.failed) for check in checks)
        if failed:
            self.say(self.style.WARNING(f"{failed} alert(s) failed; they are retried on a later run."))
        for check in checks:
            for *_, why in check.deferred[:1]:
                self.say(self.style.WARNING(
                    f"{check.status.budget.team.name}: {len(check.deferred)} webhook alert(s) deferred to a later "
                    f"run ({why})."
                ))  # fmt: skip
        # An invalid budget (a row out of bounds) needs a person: exit 1, after every other budget was served.
        invalid = [check.status for check in checks if check.status.status == INVALID]
        if invalid:
            names = "; ".join(f"{s.budget.team.name} {s.budget.period} ({s.problem})" for s in invalid)
            raise CommandError(
                f"{len(invalid)} budget{'s' if len(invalid) > 1 else ''} could not be checked: {names}. "
                "Every other budget was checked and alerted; fix these in the admin."
            )


def _figure(value) -> str:
    return "-" if value is None else f"{value:,}"
