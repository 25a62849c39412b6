"""Every file reader bounds a line, a field and a JSON value, compressed or not, and stays in bounded memory.

The "bombs" are small gzip files that expand to a gigabyte: the same 1 MiB member
compressed once and repeated (a gzip stream may hold many members), so building one
costs milliseconds. Before the bounds, such a file took 2-8 GB of memory to refuse.
"""

import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from heliox.reading import MAX_LINE_BYTES, open_text
from jobs.models import ImportRecord

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30
JOBS_HEADER = b"team,model_name,provider,gpu_type,gpu_count,region,pricing,start_time,end_time,status,external_id\n"
FOCUS_HEADER = b"BilledCost,BillingCurrency,ChargePeriodStart,ConsumedQuantity,ProviderName,ChargeDescription\n"


def bomb(path: Path, head: bytes, fill: bytes = b"a", size: int = GIB, tail: bytes = b"") -> Path:
    """A gzip file: `head`, then `size` bytes of `fill` repeated, then `tail`; a few MB on disk at most."""
    block = gzip.compress((fill * (1 << 20))[: 1 << 20], compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(head))
        for _ in range(size >> 20):
            out.write(block)
        out.write(gzip.compress(tail))
    return path


def long_line(path: Path, head: bytes, tail: bytes = b"\n") -> Path:
    """A plain file whose next line after `head` is 3 MiB long."""
    path.write_bytes(head + b"a" * (3 << 20) + tail)
    return path


# What each importer and loader says of a line, a field or a JSON value past its bound.
CASES = {
    "jobs-csv-header": (["import_jobs", "--format", "csv"], b"team,", b"", r"line 1: line longer than 1,048,576 bytes"),
    "jobs-csv-row": (["import_jobs", "--format", "csv"], JOBS_HEADER + b"nlp,", b"", r"line 2: line longer than"),
    "jobs-csv-quoted": (["import_jobs", "--format", "csv"], JOBS_HEADER + b'nlp,"', b"a\n",
                        r"line \d+: not valid CSV \(a field longer than 131,072 characters\)"),
    "jobs-json": (["import_jobs", "--format", "json"], b'[{"team": "', b"", r"column item 1: a JSON value longer than"),
    "jobs-json-deep": (["import_jobs", "--format", "json"], b"[", b"[", r"column item 1: nested deeper than 32 levels"),
    "jobs-jsonl": (["import_jobs", "--format", "json"], b'{"team": "', b"", r"line 1: line longer than"),
    "sacct": (["import_jobs", "--format", "sacct"], b"1|1|c|", b"", r"line 1: line longer than"),
    "focus-line": (["import_billing"], FOCUS_HEADER + b"1,USD,", b"", r"line 2: line longer than"),
    "focus-field": (["import_billing"], FOCUS_HEADER + b'1,USD,2025-03-10,1,AWS,"', b"x\n",
                    r"line \d+: not valid CSV \(a field longer than 131,072 characters\)"),
    "llm-calls": (["import_llm_calls"], b'{"team": "', b"", r"line 1: line longer than"),
    "gpu-prices": (["refresh_prices"], b"provider,gpu_type,", b"", r"line 1: line longer than"),
    "litellm": (["refresh_model_prices", "--format", "litellm"], b'{"gpt": {"mode": "', b"",
                r"column entry 1: a JSON value longer than"),
}  # fmt: skip
if importlib.util.find_spec("focus_validator"):  # the optional extra reads the file with pandas: bounded first
    CASES["focus-validate"] = (
        ["import_billing", "--validate"],
        FOCUS_HEADER + b"1,USD,",
        b"",
        r"line 2: line longer than",
    )


def command(case: str, path: Path) -> list[str]:
    name, *options = CASES[case][0]
    return [name, str(path), *options, *(["--no-progress"] if name in ("import_jobs", "import_billing") else [])]


@pytest.mark.parametrize("case", CASES)
def test_a_plain_file_with_a_line_or_value_past_the_bound_is_refused_naming_it(case, tmp_path, db):
    _, head, fill, message = CASES[case]
    path = tmp_path / f"{case}.txt"
    if fill == b"a\n" or fill == b"x\n" or fill == b"[":  # a quoted field over many lines; nesting
        path.write_bytes(head + fill * ((3 << 20) // len(fill)))
    else:
        long_line(path, head)
    with pytest.raises(CommandError, match=message) as error:
        call_command(*command(case, path))
    assert str(error.value).startswith(str(path))


@pytest.mark.parametrize("case", CASES)
def test_a_gzip_bomb_is_refused_naming_the_line(case, tmp_path, db):
    _, head, fill, message = CASES[case]
    path = bomb(tmp_path / f"{case}.gz", head, fill or b"a", size=64 << 20)
    with pytest.raises(CommandError, match=message):
        call_command(*command(case, path))


def test_a_line_at_the_bound_is_read(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_bytes(b"a" * MAX_LINE_BYTES + b"\n" + b"b\r\nc\rd\n")
    assert [len(line) for line in open_text(path)] == [MAX_LINE_BYTES + 1, 3, 2, 2]


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        return ""
    user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys
    import django
    from django.core.management import CommandError, call_command
    from django.db import transaction

    django.setup()
    if os.environ.get("MIGRATE"):
        call_command("migrate", verbosity=0)
    results = {}
    for name, args in json.loads(sys.argv[1]).items():
        with transaction.atomic():  # the test database stays as it was
            try:
                call_command(*args)
                results[name] = "imported"
            except CommandError as error:
                results[name] = str(error)
            transaction.set_rollback(True)
    # The peak of this process's own memory: VmHWM (Linux). getrusage's ru_maxrss would do elsewhere, but on
    # Linux it keeps the parent's size across fork and exec, so it would measure pytest, not the imports.
    try:
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB -> MiB
    print(json.dumps({"results": results, "peak_mib": peak}))
    """
)


@pytest.mark.django_db
def test_gigabyte_bombs_of_every_format_stay_under_300_mb(tmp_path):
    """Each importer and loader on a 1.3 MB .gz that expands to 1 GiB on one line or in one value."""
    commands = {case: command(case, bomb(tmp_path / f"{case}.gz", CASES[case][1], CASES[case][2] or b"a"))
                for case in CASES}  # fmt: skip
    assert max(os.path.getsize(args[1]) for args in commands.values()) < 2_000_000
    env = {**os.environ, "DEBUG": "on", "DJANGO_SETTINGS_MODULE": "heliox.settings"}
    if url := _database_url():
        env["DATABASE_URL"] = url  # the test database, written in transactions that roll back
    else:
        env["DATABASE_URL"], env["MIGRATE"] = f"sqlite:///{tmp_path / 'db.sqlite3'}", "1"
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for case, (*_, message) in CASES.items():
        assert re.search(message, report["results"][case]), (case, report["results"][case])
    assert report["peak_mib"] < 300, report


def test_the_admin_upload_of_a_bomb_is_a_failed_import_record(
    staff_client, tmp_path, django_capture_on_commit_callbacks
):
    path = bomb(tmp_path / "jobs.csv.gz", b"team,", size=256 << 20)
    file = SimpleUploadedFile(path.name, path.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:jobs_importrecord_upload"),
                                     {"file": file, "kind": "jobs", "format": "csv"})  # fmt: skip
    assert response.status_code == 302
    record = ImportRecord.objects.get()
    assert record.status == "failed"
    assert record.error == "jobs.csv.gz, line 1: line longer than 1,048,576 bytes"
    assert record.error in staff_client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        (
            "jobs.csv",
            JOBS_HEADER + b"nlp,m,aws,H100,1,,,0001-01-01T00:00:00+01:00,,,j-1\n",
            ["import_jobs", "--format", "csv"],
            r"jobs\.csv, line 2, column start_time: out of range \(year 1 to 9999, in UTC\)",
        ),
        (
            "jobs.json",
            b'[{"team": "nlp", "metadata": {"k": "\\u0000"}}]',
            ["import_jobs", "--format", "json"],
            r"jobs\.json, column item 1\.metadata\.k: contains a NUL character",
        ),
        (
            "surrogate.jsonl",
            b'{"team": "nlp", "metadata": {"k": "\\ud800"}}',
            ["import_jobs", "--format", "json"],
            r"surrogate\.jsonl, line 1, column metadata\.k: contains a lone surrogate",
        ),
        (
            "jobs.jsonl",
            b'{"team": "nlp", "provider": "aws\\u0000"}\n',
            ["import_jobs", "--format", "json"],
            r"jobs\.jsonl, line 1, column provider: contains a NUL character",
        ),
        (
            "meta.csv",
            b"team,provider,gpu_type,gpu_count,start_time,external_id,metadata\nnlp,aws,H100,1,2025-03-10,"
            b'j,"' + b'{""a"": ' * 40 + b"1" + b"}" * 40 + b'"\n',
            ["import_jobs", "--format", "csv"],
            r"meta\.csv, line 2, column metadata(\.a)+: nested deeper than 32 levels",
        ),
        (
            "focus.csv",
            FOCUS_HEADER + b"1,USD,0001-01-01T00:00:00+01:00,1,AWS,x\n",
            ["import_billing"],
            r"focus\.csv, line 2, column ChargePeriodStart: out of range",
        ),
    ],
)
def test_values_no_column_can_hold_are_a_command_error_naming_the_line(name, content, args, message, tmp_path, db):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command(args[0], str(path), *args[1:])


def test_the_admin_upload_of_a_bill_with_a_field_too_long_is_a_failed_record(
    staff_client, django_capture_on_commit_callbacks
):
    content = FOCUS_HEADER + b'1,USD,2025-03-10,1,AWS,"' + b"x" * 131_073 + b'"\n'
    file = SimpleUploadedFile("focus.csv", content)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:jobs_importrecord_upload"),
                                     {"file": file, "kind": "billing", "format": "focus"})  # fmt: skip
    assert response.status_code == 302
    record = ImportRecord.objects.get()
    assert (record.kind, record.status) == ("billing", "failed")
    assert record.error == "focus.csv, line 2: not valid CSV (a field longer than 131,072 characters)"
    assert record.error in staff_client.get(response.url).content.decode()


def test_validate_refuses_a_bill_too_large_for_pandas_before_reading_it(tmp_path, db):
    pytest.importorskip("focus_validator")
    path = bomb(tmp_path / "big.csv.gz", FOCUS_HEADER, b"1,USD,2025-03-10,1,AWS,x\n", size=40 << 20)
    with pytest.raises(CommandError, match=r"big\.csv\.gz, column --validate: larger than 32 MiB: too large for"):
        call_command("import_billing", str(path), "--validate", "--no-progress")


JOB_LINE = b"nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,j-%d\n"
TRUNCATED = {
    "jobs.csv.gz": (["import_jobs", "--format", "csv", "--no-progress"],
                    JOBS_HEADER + b"".join(JOB_LINE % n for n in range(3000))),
    "jobs.json.gz": (["import_jobs", "--format", "json", "--no-progress"],
                     b"[" + b",".join(b'{"team": "nlp", "external_id": "j-%d"}' % n for n in range(3000)) + b"]"),
    "bill.csv.gz": (["import_billing", "--no-progress"], FOCUS_HEADER + b"1,USD,2025-03-10,1,AWS,x\n" * 3000),
    "prices.json.gz": (["refresh_model_prices", "--format", "litellm"],
                       b"{" + b",".join(b'"m-%d": {"mode": "chat"}' % n for n in range(3000)) + b"}"),
}  # fmt: skip


@pytest.mark.parametrize("name", TRUNCATED)
def test_a_truncated_gzip_file_is_a_command_error_naming_it(name, tmp_path, db):
    """A .gz cut short (a download that stopped) was an EOFError traceback on the jobs' fast paths."""
    args, content = TRUNCATED[name]
    path = tmp_path / name
    path.write_bytes(gzip.compress(content)[:-40])
    with pytest.raises(CommandError, match=r"not a valid gzip file \(truncated or corrupt\)") as error:
        call_command(args[0], str(path), *args[1:])
    assert str(error.value).startswith(str(path))
    assert ImportRecord.objects.filter(status="succeeded").count() == 0


LONE = r"json: contains a lone surrogate \(not valid Unicode\): "


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"team": "nlp", "external_id": "\\ud800"}]', LONE + r'"\\ud800"$'),
        (b'[{"team": "nlp"}, {"team": "nlp", "model_name": "a\\udfffb"}]', LONE + r'"a\\udfffb"$'),
        (b'[{"team": "nlp", "metadata": {"k\\uDBFF": 1}}]', LONE + r'"k\\uDBFF"$'),
    ],
)
def test_a_lone_surrogate_in_a_json_array_is_an_error_not_a_question_mark(content, message, tmp_path, db):
    """ijson's C backend turned a lone \\ud800 into '?' and the job was stored with external id '?'."""
    path = tmp_path / "jobs.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_jobs", str(path), "--format", "json", "--no-progress")
    assert ImportRecord.objects.filter(status="succeeded").count() == 0


def test_surrogate_pairs_and_escaped_backslashes_in_a_json_array_are_text(tmp_path, db):
    from heliox.reading import json_array_items

    path = tmp_path / "ok.json"
    path.write_bytes(b'[{"a": "\\ud83d\\ude00", "b": "\\\\ud800", "c": "' + b"x" * 70_000 + b'\\ud83d\\ude00"}]')
    [(_, item)] = list(json_array_items(path))
    assert (item["a"], item["b"], item["c"][-2:]) == ("\U0001f600", "\\ud800", "x\U0001f600")


@pytest.mark.parametrize("kind", ["jobs", "billing"])
def test_a_csv_header_that_repeats_a_column_is_refused_naming_it(db, tmp_path, kind):
    # csv.DictReader would keep the second gpu_count (or BilledCost) and drop the first without a word.
    header = (JOBS_HEADER.replace(b"\n", b",gpu_count\n") if kind == "jobs"
              else FOCUS_HEADER.replace(b"\n", b",BilledCost\n"))  # fmt: skip
    path = tmp_path / "repeated.csv"
    path.write_bytes(header)
    command = (("import_jobs", str(path), "--format", "csv", "--no-progress") if kind == "jobs"
               else ("import_billing", str(path)))  # fmt: skip
    column = "gpu_count" if kind == "jobs" else "BilledCost"
    with pytest.raises(CommandError, match=rf"repeated\.csv, line 1: column '{column}' appears more than once"):
        call_command(*command)
