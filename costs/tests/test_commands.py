import json
import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, get_commands
from django.utils import timezone

from costs.billing.tests.factories import CostSnapshotFactory
from costs.budgets.tests.factories import BudgetFactory
from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import UsageSnapshot
from jobs.tests.factories import JobFactory
from teams.tests.factories import TeamFactory


@pytest.fixture
def small_org(db):
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4"))
    JobFactory(team=TeamFactory(name="=cmd|calc"), start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 4, tzinfo=UTC))  # fmt: skip
    JobFactory(team=TeamFactory(name="nlp"), gpu_type="B200", start_time=datetime(2025, 3, 10, 1, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 2, tzinfo=UTC))  # fmt: skip
    CostSnapshotFactory(date=date(2025, 3, 10), cost_usd=Decimal("15.00"))


def test_rollup_command_builds_the_days_and_reports_unpriced_jobs(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")

    out = capsys.readouterr().out
    assert "Rolled up 1 day(s) [2025-03-10, 2025-03-11): 2 team rows, 2 job-days" in out
    assert "Unpriced: 1 job-day(s), 1.0000 GPU-h have no catalog price" in out
    assert "for on-prem GPUs, set your own cost per GPU-hour" in out
    assert "`on-prem,<GPU type>,<cluster or empty>,on_demand,<USD per GPU-hour>,<from>,<source>`" in out
    assert UsageSnapshot.objects.count() == 2


def test_rollup_command_refuses_an_empty_range(db):
    with pytest.raises(CommandError, match=r"--start \(2025-03-11\) must be before --end \(2025-03-10\)"):
        call_command("rollup", "--start", "2025-03-11", "--end", "2025-03-10")


def test_rollup_command_refuses_days_to_come(db):
    tomorrow = timezone.now().date() + timedelta(days=1)
    with pytest.raises(CommandError, match=rf"--end \(2030-11-01\) is past tomorrow \({tomorrow}\)"):
        call_command("rollup", "--start", "2025-03-10", "--end", "2030-11-01")
    call_command("rollup", "--start", str(tomorrow - timedelta(days=2)), "--end", str(tomorrow), "--no-progress")


def test_rollup_command_names_a_bad_date(db):
    with pytest.raises(CommandError, match="argument --start: not an ISO date \\(YYYY-MM-DD\\): '2025-13-01'"):
        call_command("rollup", "--start", "2025-13-01")


def test_report_csv_adds_up_and_escapes_formulas(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    capsys.readouterr()

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--format", "csv")

    assert capsys.readouterr().out.splitlines() == [
        "team,gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,idle_usd,billed_usd,used_gpu_hours,"
        "measured_gpu_hours,unmeasured_gpu_hours,efficiency_pct,waste_usd,allocated_waste_usd",
        # Nothing measured: used GPU-hours, efficiency and waste unknown (empty), never 0.
        "'=cmd|calc,3.0000,0.0000,12.00,12.00,0.00,,,0.0000,3.0000,,,",
        "(idle),0.0000,0.0000,0.00,0.00,3.00,,,0.0000,0.0000,,,",
        # Every GPU-hour unpriced: estimated and allocated unknown (empty), the unpriced GPU-hours beside them.
        "nlp,1.0000,1.0000,,,0.00,,,0.0000,1.0000,,,",
        "TOTAL,4.0000,1.0000,12.00,12.00,3.00,15.00,,0.0000,4.0000,,,",  # partly priced: the known part
    ]


def test_report_shows_a_total_unknown_only_when_nothing_in_it_is_known(small_org, capsys):
    JobFactory(team=TeamFactory(name="vision"), gpu_count=2, start_time=datetime(2025, 3, 10, 5, tzinfo=UTC),
               end_time=datetime(2025, 3, 10, 7, tzinfo=UTC), gpu_util_avg=Decimal("25.00"))  # fmt: skip
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    capsys.readouterr()

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--format", "csv", "--idle", "share")

    assert capsys.readouterr().out.splitlines() == [
        "team,gpu_hours,unpriced_gpu_hours,estimated_usd,allocated_usd,idle_usd,billed_usd,used_gpu_hours,"
        "measured_gpu_hours,unmeasured_gpu_hours,efficiency_pct,waste_usd,allocated_waste_usd",
        # The aws H100 bill ($15.00) shared by GPU-hours, 3 : 4; vision's 4 GPU-h at 25 %: 1 used, $12.00 wasted;
        # of its $8.57 share, 3 idle GPU-h of 4: $6.4275 -> $6.43.
        "vision,4.0000,0.0000,16.00,8.57,0.00,,1.0000,4.0000,0.0000,25.0,12.00,6.43",
        "'=cmd|calc,3.0000,0.0000,12.00,6.43,0.00,,,0.0000,3.0000,,,",
        # B200 has neither a price nor a bill: its share is the estimate it would follow, unknown too.
        "nlp,1.0000,1.0000,,,0.00,,,0.0000,1.0000,,,",
        # One team measured: the total's efficiency and waste are that team's, over its measured hours.
        "TOTAL,8.0000,1.0000,28.00,15.00,0.00,15.00,1.0000,4.0000,4.0000,25.0,12.00,6.43",
    ]


def test_report_table_has_a_totals_row(small_org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    capsys.readouterr()

    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "provider")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["provider", *["gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"],
                                "idle_usd", "billed_usd", "used_gpu_hours", "measured_gpu_hours",
                                "unmeasured_gpu_hours", "efficiency_pct", "waste_usd",
                                "allocated_waste_usd"]  # fmt: skip
    # Nothing measured: used GPU-hours, efficiency and waste "-" (unknown), never 0; partly priced: the estimate.
    assert lines[2].split() == ["aws", "4.0000", "1.0000", "12.00", "12.00", "3.00", "15.00", "-", "0.0000",
                                "4.0000", "-", "-", "-"]  # fmt: skip
    assert lines[4].split() == ["TOTAL", "4.0000", "1.0000", "12.00", "12.00", "3.00", "15.00", "-", "0.0000",
                                "4.0000", "-", "-", "-"]  # fmt: skip
    assert lines[5].endswith("efficiency = used / measured GPU-hours ('-', and used and waste, when none is "
                             "measured); estimated (and allocated, idle kept apart) '-' when every GPU-hour is "
                             "unpriced.")  # fmt: skip


def test_report_table_has_thousands_separators(db, capsys):
    from costs.usage.tests.factories import UsageSnapshotFactory

    UsageSnapshotFactory(team=TeamFactory(name="nlp"), gpu_hours=Decimal("12345.5000"),
                         estimated_cost_usd=Decimal("1234567.89"), allocated_usd=Decimal("1234567.89"))  # fmt: skip
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11")
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:7] == ["nlp", "12,345.5000", "0.0000", "1,234,567.89", "1,234,567.89", "-", "-"]
    assert lines[4].split()[:7] == ["TOTAL", "12,345.5000", "0.0000", "1,234,567.89", "1,234,567.89", "-", "-"]


def test_report_refuses_an_unknown_group(db):
    with pytest.raises(CommandError, match="argument --group-by: unknown group_by colour"):
        call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", "--group-by", "colour")


# --- every command is quiet at --verbosity 0 ------------------------------------------------------------------

FOCUS = Path(__file__).parent / "fixtures" / "focus_sample.csv"


def _inputs(tmp_path, org, *, write: bool = True) -> dict[str, list[str]]:
    """Arguments that make each command do real work on the org fixture's data (its files written in tmp_path)."""
    jobs = tmp_path / "jobs.csv"
    calls = tmp_path / "calls.jsonl"
    if write:
        jobs.write_text(
            "team,provider,gpu_type,gpu_count,start_time,end_time,external_id\n"
            "nlp,aws,H100,2,2025-03-10T05:00:00Z,2025-03-10T06:00:00Z,quiet-1\n"
        )
        call = {"team": "nlp", "provider": "openai", "model": "gpt-4o", "input_tokens": 10}
        calls.write_text(json.dumps(call) + "\n")
    return {
        "check_budgets": ["--date", "2025-03-10"],
        "create_api_token": ["alice"],
        "ensure_admin": [],
        "import_billing": [str(FOCUS), "--no-progress"],
        "import_jobs": [str(jobs), "--format", "csv", "--no-progress"],
        "import_llm_calls": [str(calls)],
        "prune_task_runs": ["--days", "0"],
        "refresh_model_prices": [],
        "refresh_prices": [],
        "report": ["--start", "2025-03-10", "--end", "2025-03-11"],
        "rollup": ["--start", "2025-03-10", "--end", "2025-03-11", "--no-progress"],
        "seed_demo": ["--if-empty", "--no-progress"],
        "set_fx_rate": ["ZAR", "18.20", "--date", "2025-03-01"],
        "sync_prometheus": ["--url", "STUB", "--since", "2025-03-09", "--until", "2025-03-10", "--no-progress"],
    }


@contextmanager
def empty_prometheus():
    """A stand-in Prometheus on a free port that answers every query with an empty vector."""

    class Empty(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def heliox_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app in ("ops", "teams", "jobs", "costs"))


def test_the_quiet_test_covers_every_command(tmp_path):
    assert sorted(_inputs(tmp_path, None)) == heliox_commands()


@pytest.mark.parametrize("name", sorted(_inputs(Path("."), None, write=False)))  # names only: no file in the cwd
def test_every_command_is_quiet_at_verbosity_0(name, org, tmp_path, capsys, monkeypatch):
    from costs.catalog.services.gpu_prices import prices_refresh

    monkeypatch.setenv("HELIOX_ADMIN_PASSWORD", "quiet-horse-battery")
    prices_refresh()  # instance types, so that the bill has GPU lines
    BudgetFactory(team=org["teams"]["nlp"], amount_usd=Decimal("10.00"))
    get_user_model().objects.create_superuser("root", "root@example.com", "x")
    arguments = _inputs(tmp_path, org)[name]

    with empty_prometheus() as url:
        call_command(name, *[url if argument == "STUB" else argument for argument in arguments], verbosity=0)
    out, err = capsys.readouterr()

    if name == "report":  # the report is what was asked for: its rows stay, its footnote goes
        assert out.splitlines()[0].split() == ["team", "gpu_hours", "unpriced_gpu_hours", "estimated_usd",
                                               "allocated_usd", "idle_usd", "billed_usd", "used_gpu_hours",
                                               "measured_gpu_hours", "unmeasured_gpu_hours", "efficiency_pct",
                                               "waste_usd", "allocated_waste_usd"]  # fmt: skip
        assert "TOTAL" in out
        assert "UTC days" not in out
    elif name == "create_api_token":  # the token itself, and nothing else
        assert len(out.split()) == 1
        assert err == ""
    else:
        assert (out, err) == ("", "")


def test_the_report_footnote_is_shown_from_verbosity_1(org, capsys):
    call_command("report", "--start", "2025-03-10", "--end", "2025-03-11", verbosity=1)
    assert "USD; GPU-hours; UTC days [2025-03-10, 2025-03-11)" in capsys.readouterr().out


def test_rollup_prints_its_summary_at_verbosity_1(org, capsys):
    call_command("rollup", "--start", "2025-03-10", "--end", "2025-03-11", "--no-progress")
    assert "Rolled up 1 day(s) [2025-03-10, 2025-03-11)" in capsys.readouterr().out


def test_ensure_admin_shows_a_generated_password_even_at_verbosity_0(db, capsys, monkeypatch):
    monkeypatch.delenv("HELIOX_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin", verbosity=0)
    assert capsys.readouterr().out.startswith("Admin login: admin / ")


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("99999999999999999999", "rate: at most 1,000,000,000 (got '99999999999999999999')"),
        ("0.000000001", "rate: at most 8 decimal places (got '1E-9')"),
        ("18.123456789", "rate: at most 8 decimal places (got '18.123456789')"),
    ],
)
def test_set_fx_rate_refuses_a_rate_the_column_cannot_hold(db, rate, message):
    """Past the column a rate was a DataError traceback on PostgreSQL (or a CHECK failure once rounded to 0)."""
    from costs.usage.models import FxRate

    with pytest.raises(CommandError) as error:
        call_command("set_fx_rate", "ZAR", rate)
    assert str(error.value) == message
    assert FxRate.objects.count() == 0
    call_command("set_fx_rate", "ZAR", "1000000000")
    call_command("set_fx_rate", "ZAR", "0.00000001", "--date", "2025-01-01")
    assert sorted(FxRate.objects.values_list("rate_per_usd", flat=True)) == [Decimal("1E-8"), Decimal(10**9)]
