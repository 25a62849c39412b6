"""Import speed and memory on PostgreSQL: 1,000,000 job rows (CSV) and a 1,000,000-line FOCUS bill.

    .venv/bin/python bench/bench_imports.py [--rows 1000000]

Writes its own files to a temporary folder, then measures, each in a fresh process
(so that peak memory is the import's own): a bare COPY of the jobs CSV into a table
with the file's columns, then into one identical to jobs_job (key, created_at, the
seven indexes); `import_jobs` of the CSV on the COPY fast path and through the row
parser; `import_jobs` of a corrected copy over those jobs (a tenth changed) and of
the file with every field quoted; and `import_billing` of the FOCUS file. Targets
(issue #4): jobs under 30 s and within 2x the bare COPY into the identical table;
FOCUS under 45 s; peak memory under 300 MB.
"""

import argparse
import csv
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import peak_rss_mb, setup_django

FLEET = [("aws", "H100"), ("gcp", "A100"), ("azure", "A100-80GB"), ("lambda", "H100"), ("coreweave", "H100")]
HEADER = ["team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
          "status", "external_id"]  # fmt: skip
FOCUS_HEADER = ["BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ConsumedQuantity",
                "ProviderName", "ChargeDescription", "ResourceName", "Tags"]  # fmt: skip


def write_jobs(path: Path, rows: int, corrected: bool = False, quoting: int = csv.QUOTE_MINIMAL) -> None:
    """Jobs in a year; `corrected`: the same jobs, every tenth now failed (a scheduler's later export)."""
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=quoting)
        writer.writerow(HEADER)
        for n in range(rows):
            provider, gpu = FLEET[n % len(FLEET)]
            begin = start + timedelta(seconds=rng.randrange(365 * 86400))
            end = begin + timedelta(seconds=rng.randrange(300, 86400))
            writer.writerow([f"team-{n % 8}", f"model-{n % 13}", provider, gpu, 1 + n % 8, "", "on_demand",
                             begin.isoformat(), end.isoformat(), "failed" if corrected and n % 10 == 0 else "succeeded",
                             f"job-{n}"])  # fmt: skip


def write_focus(path: Path, rows: int) -> None:
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FOCUS_HEADER)
        for n in range(rows):
            hour = start + timedelta(hours=rng.randrange(365 * 24))
            gpu_line = n % 10 == 0
            description = ("$98.32 per On Demand Linux p5.48xlarge Instance Hour" if gpu_line
                           else "$0.08 per GB-month of General Purpose (gp3) provisioned storage")  # fmt: skip
            writer.writerow([f"{rng.uniform(0, 98.32):.8f}", "USD", hour.strftime("%Y-%m-%d %H:%M:%S"),
                             (hour + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"), f"{rng.random():.6f}",
                             "AWS", description, "NULL", "NULL"])  # fmt: skip


KEY_COLUMNS = "id uuid PRIMARY KEY DEFAULT gen_random_uuid(), created_at timestamptz DEFAULT now(), "


def measure(kind: str, path: Path) -> None:
    """Runs in a child process: one measurement, printed as `seconds peak_mib`."""
    setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # start clean: no flush of the previous measurement's writes in this one
    if kind in ("copy", "copy-indexed"):
        elapsed = measure_bare_copy(path, indexed=kind == "copy-indexed")
    elif kind in ("jobs", "jobs-rows", "jobs-update"):
        elapsed = measure_jobs_import(kind, path)
    else:
        from costs.billing.models import CostSnapshot
        from costs.billing.services.focus import billing_import
        from costs.catalog.services.gpu_prices import prices_refresh
        from jobs.models import ImportRecord

        prices_refresh()
        CostSnapshot.objects.all().delete()
        ImportRecord.objects.all().delete()
        started = time.perf_counter()
        billing_import(path=path)
        elapsed = time.perf_counter() - started
    print(f"{elapsed:.3f} {peak_rss_mb():.0f}")


def measure_bare_copy(path: Path, *, indexed: bool) -> float:
    """The file's columns; `indexed` adds what jobs_job has: a random UUID key, created_at and
    the same indexes (jobs_job's seven, with the team's name where jobs_job has its id)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
        cursor.execute(
            "CREATE TABLE bench_bare_copy ("
            + (KEY_COLUMNS if indexed else "")
            + "team text, model_name text, provider text, gpu_type text, gpu_count integer, region text, "
            "pricing text, start_time timestamptz, end_time timestamptz, status text, external_id text)"
        )
        if indexed:
            for columns in ("team, status", "provider, gpu_type", "start_time", "end_time", "created_at"):
                cursor.execute(f"CREATE INDEX ON bench_bare_copy ({columns})")
            cursor.execute("CREATE UNIQUE INDEX ON bench_bare_copy (provider, external_id)")
        started = time.perf_counter()
        columns = ", ".join(HEADER)
        sql = f"COPY bench_bare_copy ({columns}) FROM STDIN (FORMAT csv, HEADER true)"
        with cursor.cursor.copy(sql) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_bare_copy")
    return elapsed


def measure_jobs_import(kind: str, path: Path) -> float:
    from contextlib import nullcontext
    from unittest import mock

    from django.db import connection

    from jobs.models import ImportRecord, Job
    from jobs.services import imports

    if kind != "jobs-update":  # "jobs-update" imports a corrected file over the jobs already there
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Job._meta.db_table}")
    ImportRecord.objects.all().delete()
    # "jobs-rows": the path of a file that the COPY fast path cannot vouch for (a stray quote, metadata...).
    fast = mock.patch.object(imports, "copy_csv_fast", return_value=False) if kind == "jobs-rows" else nullcontext()
    started = time.perf_counter()
    with fast:
        _, counts = imports.jobs_import(path=path, options=imports.JobImportOptions(fmt="csv"))
    elapsed = time.perf_counter() - started
    assert counts.copied == (kind != "jobs-rows")
    assert counts.created + counts.updated + counts.unchanged == Job.objects.count()
    if kind == "jobs-update":
        assert counts.updated == Job.objects.filter(status="failed").count() > 0
    return elapsed


def child(kind: str, path: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, str(path)], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    return float(out[-2]), int(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        jobs_csv, focus_csv = Path(folder) / "jobs.csv", Path(folder) / "focus.csv"
        corrected_csv, quoted_csv = Path(folder) / "jobs-corrected.csv", Path(folder) / "jobs-quoted.csv"
        write_jobs(jobs_csv, args.rows)
        write_jobs(corrected_csv, args.rows, corrected=True)
        write_jobs(quoted_csv, args.rows, quoting=csv.QUOTE_ALL)
        write_focus(focus_csv, args.rows)
        print(f"files: jobs.csv {jobs_csv.stat().st_size / 2**20:.0f} MiB, focus.csv "
              f"{focus_csv.stat().st_size / 2**20:.0f} MiB, {args.rows:,} rows each")  # fmt: skip
        copy_s, copy_mb = child("copy", jobs_csv)
        indexed_s, _ = child("copy-indexed", jobs_csv)
        jobs_s, jobs_mb = child("jobs", jobs_csv)
        rows_s, rows_mb = child("jobs-rows", jobs_csv)
        update_s, update_mb = child("jobs-update", corrected_csv)
        quoted_s, quoted_mb = child("jobs", quoted_csv)
        focus_s, focus_mb = child("focus", focus_csv)
    print(f"bare COPY of jobs.csv:   {copy_s:6.1f} s  peak {copy_mb} MiB")
    print(f"bare COPY, jobs_job's UUID key and indexes: {indexed_s:6.1f} s")
    print(f"import_jobs (csv):       {jobs_s:6.1f} s  peak {jobs_mb} MiB  ({jobs_s / copy_s:.1f}x the bare COPY, "
          f"{jobs_s / indexed_s:.1f}x the indexed one)")  # fmt: skip
    print(f"import_jobs, row parser: {rows_s:6.1f} s  peak {rows_mb} MiB  (a file that COPY cannot take as it is)")
    print(f"import_jobs, corrected:  {update_s:6.1f} s  peak {update_mb} MiB  (the same jobs again, a tenth changed)")
    print(f"import_jobs, all quoted: {quoted_s:6.1f} s  peak {quoted_mb} MiB  (every field in quotes)")
    print(f"import_billing (focus):  {focus_s:6.1f} s  peak {focus_mb} MiB")


if __name__ == "__main__":
    main()
