"""The PostgreSQL fast path for CSV jobs: it imports exactly what the row parser would, or leaves the file to it."""

import dataclasses
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from heliox.errors import InputError
from jobs.models import ImportRecord, Job
from jobs.services.imports import JobImportOptions, jobs_import
from teams.models import Team

pytestmark = pytest.mark.postgres
HEADER = ["team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time", "end_time",
          "status", "external_id"]  # fmt: skip
FIELDS = ("external_id", "team__name", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing",
          "start_time", "end_time", "status", "metadata")  # fmt: skip


def import_file(path, **options):
    return jobs_import(path=path, options=JobImportOptions(fmt="csv", **options))


def stored_jobs():
    return sorted(Job.objects.values_list(*FIELDS), key=repr)


def test_a_clean_file_is_checked_in_sql_and_never_parsed_in_python(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        "nlp,llama-3-8b,aws,h100,8,us-east-1,spot,2025-03-10T08:00:00Z,2025-03-10T10:30:00.9Z,,run-1\n"
        " nlp ,llama-3-8b,gcp,A100,2,,,2025-03-10 09:00:00+02:00,Unknown,,run-2\n"
        "vision,,gcp,a100_80gb,1,,,,,pending,run-3\n"
    )

    with mock.patch("jobs.services.job_rows.RowParser.heliox", side_effect=AssertionError("parsed in Python")):
        outcome, counts = import_file(path)

    assert counts.copied
    assert (counts.read, counts.kept, counts.created, counts.teams_created) == (3, 3, 3, ["nlp", "vision"])
    assert stored_jobs() == [
        ("run-1", "nlp", "llama-3-8b", "aws", "H100", 8, "us-east-1", "spot", datetime(2025, 3, 10, 8, tzinfo=UTC),
         datetime(2025, 3, 10, 10, 30, tzinfo=UTC), "succeeded", {}),
        ("run-2", "nlp", "llama-3-8b", "gcp", "A100", 2, "", "on_demand", datetime(2025, 3, 10, 7, tzinfo=UTC), None,
         "running", {}),
        ("run-3", "vision", "", "gcp", "A100-80GB", 1, "", "on_demand", None, None, "pending", {}),
    ]  # fmt: skip
    # run-2 runs from 2025-03-10 07:00 until now: every day since needs a rollup.
    assert outcome.affected_days.ranges() == [(date(2025, 3, 10), datetime.now(UTC).date() + timedelta(days=1))]
    assert (outcome.record.rows_read, outcome.record.totals["created"]) == (3, 3)


def test_a_corrected_file_updates_changed_jobs_and_counts_the_rest_unchanged(postgres_only, db, tmp_path):
    first, second = tmp_path / "monday.csv", tmp_path / "tuesday.csv"
    row = "nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,{end},{status},{key}\n"
    first.write_text(",".join(HEADER) + "\n" + row.format(end="", status="running", key="a")
                     + row.format(end="2025-03-10T09:00:00Z", status="", key="b"))  # fmt: skip
    second.write_text(",".join(HEADER) + "\n" + row.format(end="2025-03-10T10:00:00Z", status="failed", key="a")
                      + row.format(end="2025-03-10T09:00:00Z", status="succeeded", key="b")
                      + row.format(end="", status="", key="c"))  # fmt: skip
    import_file(first)
    kept = dict(Job.objects.values_list("external_id", "id"))

    _, counts = import_file(second)

    assert counts.copied
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 1)
    assert sorted(Job.objects.values_list("external_id", "status", "end_time")) == [
        ("a", "failed", datetime(2025, 3, 10, 10, tzinfo=UTC)),
        ("b", "succeeded", datetime(2025, 3, 10, 9, tzinfo=UTC)),
        ("c", "running", None),
    ]
    assert {key: Job.objects.get(external_id=key).id for key in "ab"} == kept


def test_imported_jobs_get_uuid7_keys_in_file_order(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(",".join(HEADER) + "\n" + "".join(
        f"nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,{key}\n" for key in ("z", "a", "m", "b")))  # fmt: skip

    import_file(path)

    ids = list(Job.objects.order_by("id").values_list("external_id", "id"))
    assert [key for key, _ in ids] == ["z", "a", "m", "b"]
    assert {(uuid.version, uuid.variant) for _, uuid in ids} == {(7, "specified in RFC 4122")}


def test_fields_quoted_whole_stay_on_the_fast_path(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text('"' + '","'.join(HEADER) + '"\n'
                    'nlp,"llama, 8b",aws,"H100","2",,"",2025-03-10T08:00:00Z,"",,"run ""1"""\n')  # fmt: skip

    _, counts = import_file(path)

    assert counts.copied
    assert list(Job.objects.values_list("model_name", "gpu_type", "gpu_count", "pricing", "external_id")) == [
        ("llama, 8b", "H100", 2, "on_demand", 'run "1"')
    ]


@pytest.mark.parametrize(
    ("model_field", "model_name"),
    [('ll"ama', 'll"ama'), ('"llama"8b', "llama8b"), (' "llama"', '"llama"'), ('"llama\n8b"', "llama\n8b")],
)
def test_a_stray_quote_or_a_quoted_line_break_leaves_the_file_to_the_row_parser(postgres_only, db, tmp_path,
                                                                                model_field, model_name):  # fmt: skip
    path = tmp_path / "jobs.csv"
    path.write_text(",".join(HEADER) + f"\nnlp,{model_field},aws,H100,1,,,2025-03-10T08:00:00Z,,,run-1\n")

    _, counts = import_file(path)

    assert not counts.copied
    assert Job.objects.get().model_name == model_name


def test_a_bad_row_is_named_by_the_row_parser_and_nothing_is_written(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    good = "nlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,run-{}\n"
    path.write_text(",".join(HEADER) + "\n" + good.format(1) + good.format(2).replace("03-10", "02-30"))

    with pytest.raises(InputError, match="line 3, column start_time: not an ISO 8601 date-time"):
        import_file(path)

    assert (Job.objects.count(), Team.objects.count()) == (0, 0)
    assert ImportRecord.objects.get().status == ImportRecord.Status.FAILED


def test_unknown_team_is_refused_naming_its_line_when_teams_are_not_created(postgres_only, db, tmp_path):
    Team.objects.create(name="nlp")
    path = tmp_path / "jobs.csv"
    path.write_text(",".join(HEADER) + "\nnlp,m,aws,H100,1,,,,,pending,a\nrobotics,m,aws,H100,1,,,,,pending,b\n")

    with pytest.raises(
        InputError, match=r"line 3, column team: unknown team\(s\), not created .*: 'robotics' \(line 3\)\."
    ):
        import_file(path, create_teams=False)

    assert Job.objects.count() == 0


def test_dry_run_on_the_fast_path_counts_and_writes_nothing(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(",".join(HEADER) + "\nnlp,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,a\n")

    outcome, counts = import_file(path, dry_run=True)

    assert counts.copied
    assert counts.created == 1
    assert (Job.objects.count(), Team.objects.count()) == (0, 0)
    assert outcome.record.status == ImportRecord.Status.DRY_RUN


# --- the fast path against the row parser, on generated files ------------------------------------

# Per column: values the row parser accepts (drawn more often, so that many files import), then odd ones.
VALUES = {
    "team": (["nlp", " nlp ", "vision\t", "Équipe", "\u00a0nlp", "nlp\u3000"], ["", "t" * 101, 'n"lp']),
    "model_name": (["", "llama", " m ", '"m, 8b"', '"say ""hi"""'], ["m" * 201, '"m"x', ' "m"', '"m']),
    "provider": (["aws", "gcp", " aws"], ["AWS", "ibm", ""]),
    "gpu_type": (["H100", "h100", "a100_80gb", "A100-80GB", "L4", "\u212a80", "gpu_x", "h100\u00a0", "A1.0",
                  "nvidia_rtx_a6000", "NVIDIA_H200"],
                 ["H 100", "-H100", "g" * 33, ""]),
    "gpu_count": (["1", "8", "01", "+1", " 2 ", "1_0", "\u0663"], ["0", "two", "", "1234567890", "-1"]),
    "region": (["", "us-east-1"], ["r" * 65]),
    "pricing": (["", "spot", "on_demand"], ["Spot", "free"]),
    "start_time": (["2025-03-10T08:00:00Z", "2025-03-10 08:00", "2025-03-10", "2025-03-10T08:00:00.123456+02:00",
                    "2025-03-10T08:00:00.1234567", "Unknown", "NULL", "2025-03-10T08:00:00+0530",
                    "2025-03-10T23:00:00-05:00", "2025-03-10T08:00:59.999999Z", "2025-03-10T08", "0999-03-10"],
                   ["", "2025-02-30T00:00:00", "2025-03-10T24:00:00", "10/03/2025", "yesterday"]),
    "end_time": (["", "2025-03-11T09:00:00Z", "None", "2025-03-11"], ["2025-03-10T07:00:00Z", "2025-03-10T08:00:60"]),
    "status": (["", "succeeded", "running", "pending", "failed"], ["done", " cancelled"]),
    "external_id": (["j1", "j2", " j1", "j3"], ["", "x" * 129]),
    "metadata": (["", "{}"], ["[1]"]),
    "extra": (["", "whatever"], []),
}  # fmt: skip
# Values the fast path takes as they are: files drawn from these alone compare the two paths' values.
CLEAN = {
    "team": ["nlp", " nlp ", "vision\t", "Équipe", "\u00a0nlp", "nlp\u3000", "a b", "t" * 100],
    "model_name": ["", "llama", " m ", "m" * 200, 'say "hi", then go'],
    "provider": ["aws", "gcp", "on-prem"],
    "gpu_type": ["H100", "h100", "a100_80gb", "A100-80GB", "L4", "gpu-x.2", "RTX_A6000", "g" * 32,
                 "nvidia_a100-sxm4-80gb", "tesla_v100-sxm2-16gb", "a100_80"],
    "gpu_count": ["1", "8", "01", "123456789"],
    "region": ["", "us-east-1", " eu ", "r" * 64],
    "pricing": ["", "spot", "on_demand", "reserved"],
    "start_time": ["2025-03-10T08:00:00Z", "2025-03-10 08:00", "2025-03-10", "2025-03-10T08:00:00.123456+02:00",
                   "Unknown", "NULL", "2025-03-10T23:00:00-05:00", "2025-03-10T08:00:59.999999Z",
                   "2025-03-10T08:00:00.5", "1999-12-31T23:59:59+23:59"],
    "end_time": ["", "2025-03-11T09:00:00Z", "None", "2025-03-11", "null", "2025-03-12T00:00:00+14:00"],
    "status": ["", "succeeded", "running", "pending", "failed", "cancelled"],
    "external_id": ["j1", "j2", " j1", "j3", "x" * 128],
    "metadata": [""],
    "extra": ["", "whatever"],
}  # fmt: skip
MUTATIONS = ["none", "none", "none", "none", "crlf", "bom", "blank line", "end marker", "quoted", "ragged", "nul"]


@st.composite
def csv_files(draw):
    columns = draw(st.sampled_from([HEADER, HEADER[::-1], [*HEADER, "metadata"], [*HEADER, "extra", "team"],
                                    [c for c in HEADER if c != "region"]]))  # fmt: skip
    clean = draw(st.booleans())
    values = {c: st.sampled_from(CLEAN[c] if clean else VALUES[c][0] * 8 + VALUES[c][1]) for c in set(columns)}
    rows = draw(st.lists(st.fixed_dictionaries(values), max_size=5))
    quoted = draw(st.sets(st.sampled_from(columns))) if clean else set()  # these columns quoted whole

    def field(row, column):
        value = row[column]
        return '"' + value.replace('"', '""') + '"' if column in quoted else value

    lines = [",".join(columns)] + [",".join(field(row, c) for c in columns) for row in rows]
    mutation = "none" if clean else draw(st.sampled_from(MUTATIONS))
    if mutation == "blank line":
        lines.insert(1, "")
    elif mutation == "end marker":
        lines.insert(len(lines) // 2 + 1, "\\.")
    elif mutation == "quoted" and rows:
        lines[1] = '"' + lines[1].replace(",", '","') + '"'
    elif mutation == "ragged" and rows:
        lines[-1] += ",surplus"
    elif mutation == "nul" and rows:
        lines[-1] = lines[-1].replace(",", ",\x00", 1)
    text = ("\r\n" if mutation == "crlf" else "\n").join(lines) + "\n"
    return ("\ufeff" if mutation == "bom" else "") + text


def outcome_of(path, fast: bool):
    """What an import leaves behind (jobs, teams, counts, or the error), then undone."""
    patch = nullcontext() if fast else mock.patch("jobs.services.imports.copy_csv_fast", return_value=False)
    with transaction.atomic(), patch:
        try:
            outcome, counts = import_file(path)
        except InputError as error:
            result = ("error", str(error))
        else:
            summary = dataclasses.asdict(counts)
            copied = summary.pop("copied")
            summary["days"] = outcome.affected_days.ranges()  # a running job counts until now (today)
            result = ("imported", stored_jobs(), sorted(Team.objects.values_list("name", flat=True)), summary)
            if fast:
                event(f"copied in SQL: {copied}")
        transaction.set_rollback(True)
    return result


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_files())
def test_the_fast_path_agrees_with_the_row_parser(postgres_only, db, tmp_path, text):
    path = tmp_path / "jobs.csv"
    path.write_bytes(text.encode())

    assert outcome_of(path, fast=True) == outcome_of(path, fast=False)


def test_a_file_that_is_not_utf8_goes_to_the_row_parser_and_is_refused_by_name(postgres_only, db, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_bytes((",".join(HEADER) + "\nÉquipe,m,aws,H100,1,,,2025-03-10T08:00:00Z,,,a\n").encode("latin-1"))

    with pytest.raises(InputError, match=r"jobs\.csv, line 2: not UTF-8 text"):
        import_file(path)

    assert Job.objects.count() == 0


def test_a_job_stored_by_another_writer_during_the_import_is_updated_not_duplicated(postgres_only, transactional_db,
                                                                                     tmp_path):  # fmt: skip
    import threading

    from django.db import connection as main_connection

    team = Team.objects.create(name="nlp")
    path = tmp_path / "jobs.csv"
    row = "nlp,m,aws,H100,{count},,,2025-03-10T08:00:00Z,,,{key}\n"
    path.write_text(",".join(HEADER) + "\n" + "".join(row.format(count=2, key=key) for key in "abc"))
    inserted, release = threading.Event(), threading.Event()

    def other_writer():  # stores job b in a transaction that commits while the import inserts
        from django.db import connection

        try:
            with transaction.atomic():
                Job.objects.create(team=team, provider="aws", external_id="b", gpu_type="H100", gpu_count=1)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    inserted.wait(10)
    threading.Timer(1.0, release.set).start()  # the import's INSERT waits on key b until then
    _, counts = import_file(path)
    writer.join()
    main_connection.close()

    assert counts.copied
    assert (counts.created, counts.updated, counts.unchanged) == (2, 1, 0)
    assert sorted(Job.objects.values_list("external_id", "gpu_count")) == [("a", 2), ("b", 2), ("c", 2)]
