import argparse
import csv
from decimal import Decimal

from costs.billing.allocation import IDLE_MODES, SEPARATE
from costs.usage.selectors.fx import spend_summary_in
from costs.usage.selectors.shown import shown_row, shown_rows
from costs.usage.selectors.spend import GROUP_BY_FIELDS, KINDS, group_by_parse, spend_summary
from heliox.commands import HelioxCommand, iso_date, user_errors
from heliox.csv_safety import safe_cell

COLUMNS = ("gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd", "idle_usd", "billed_usd",
           "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct", "waste_usd",
           "allocated_waste_usd")  # fmt: skip


def _group_by(value: str) -> list[str]:
    try:
        return group_by_parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cell(value) -> str:
    """A table cell: numbers with thousands separators (12,345.67), unknown as "-"."""
    if value is None:
        return "-"
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class Command(HelioxCommand):
    help = "Print GPU spend for UTC days [start, end): GPU-hours, estimated, allocated, idle, billed, with totals."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=iso_date, required=True, help="First UTC day (YYYY-MM-DD).")
        parser.add_argument("--end", type=iso_date, required=True, help="Day after the last one (exclusive).")
        parser.add_argument(
            "--group-by",
            type=_group_by,
            default=["team"],
            help=f"Comma list of {', '.join(GROUP_BY_FIELDS)}, label:<key>.",
        )
        parser.add_argument("--idle", choices=IDLE_MODES, default=SEPARATE, help="Idle kept apart, or shared.")
        parser.add_argument("--format", choices=["table", "csv"], default="table", dest="fmt")
        parser.add_argument("--kind", choices=KINDS, default="gpu", help="GPU jobs, LLM API calls, or all.")
        parser.add_argument("--currency", default="USD", help="Convert at each day's rate (set_fx_rate).")

    def handle(self, *args, start, end, group_by, idle, fmt, kind, currency, **options):
        currency, rates = currency.upper(), []
        with user_errors():
            if currency == "USD":
                report = spend_summary(start=start, end=end, group_by=group_by, idle=idle, kind=kind)
            else:
                report, rates = spend_summary_in(currency=currency, start=start, end=end, group_by=group_by,
                                                 idle=idle, kind=kind)  # fmt: skip
        columns = [c for c in COLUMNS if kind != "llm" or c in ("llm_usd", "total_usd")]
        if kind != "gpu":
            columns += [c for c in ("llm_usd", "total_usd") if c not in columns]
        columns = [c if currency == "USD" or not c.endswith("_usd") else c[:-4] + "_" + currency.lower()
                   for c in columns]  # fmt: skip
        header = [*report.group_by, *columns]
        # Unknown figures (nothing measured, every GPU-hour unpriced) are None: empty in the CSV, "-" in the table.
        shown = shown_rows(report.rows)
        rows = [[row[name] for name in report.group_by] + [row.get(c) for c in columns] for row in shown]
        totals = shown_row(report.totals)
        total = ["TOTAL", *[""] * (len(report.group_by) - 1)] + [totals.get(c) for c in columns]
        if fmt == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(header)
            for row in [*rows, total]:
                writer.writerow([safe_cell("" if value is None else value) for value in row])
            return
        cells = [[_cell(v) for v in row] for row in [header, *rows, total]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        numeric = len(report.group_by)
        for index, row in enumerate(cells):
            line = "  ".join(
                value.rjust(widths[i]) if i >= numeric else value.ljust(widths[i]) for i, value in enumerate(row)
            )
            self.stdout.write(line)
            if index == 0 or index == len(cells) - 2:
                self.stdout.write("  ".join("-" * w for w in widths))
        used = "; ".join(f"1 USD = {r.rate_per_usd} {r.currency} from {r.as_of}" for r in rates)
        self.say(f"{currency}{' at ' + used if used else ''}; GPU-hours; UTC days [{start}, {end}); "
                          f"idle {idle}; billed covers days with a bill; efficiency = used / measured GPU-hours "
                          f"('-', and used and waste, when none is measured); estimated (and allocated, idle kept "
                          f"apart) '-' when every GPU-hour is unpriced.")  # fmt: skip
