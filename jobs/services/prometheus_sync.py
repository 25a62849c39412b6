"""Syncing Kubernetes GPU pods (and DCGM utilisation) from Prometheus into jobs: incremental and idempotent.

`prometheus_sync` reads the window [since, until) chunk by chunk (jobs.services.kubernetes), turns
each pod that held GPUs into a job keyed `<cluster>:<pod uid>` (provider from the node's
providerID), and writes them with the same batched upserts as `import_jobs`: a second
sync of the same window changes nothing, a running pod is stored without an end and
gets it from a later sync. Utilisation is read over each pod's whole life (from the
earliest start among the pods seen), so a pod that spans two syncs is measured the same
way in both. Slurm jobs that DCGM's job mapping labels `hpc_job` get their utilisation
when their whole run lies inside that window. Each run is logged as an ImportRecord
(kind `prometheus`), whose `until` is where the next sync without --since starts.
"""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from heliox.errors import InputError
from jobs.models import ImportRecord, Job, Provider, UtilSource, to_second
from jobs.prometheus import Prometheus
from jobs.services.changes import AffectedDays
from jobs.services.job_rows import BATCH, JobImportCounts, JobImportOptions, JobRow
from jobs.services.kubernetes import (
    DCGM_QUERIES,
    FINAL_PHASES,
    FOR_PODS,
    FOR_SLURM_JOBS,
    POD_QUERIES,
    Cluster,
    Settings,
    Usage,
    add_usage,
    chunks,
    expression,
    range_of,
)
from jobs.services.records import options_key
from jobs.services.write_portable import TeamResolver, write_batch_portable
from jobs.services.write_postgres import write_postgres
from jobs.times import job_times_problem

# Each chunk [start, end) is queried at end - 1 ms over a range of its length - 1 ms: Prometheus 2 includes
# both ends of a range, so a sample at a chunk boundary counts once, in the chunk it starts.
LAST_MS = timedelta(milliseconds=1)


@dataclass
class SyncOutcome:
    """What a sync did: the window, the jobs written (`counts`), the days they changed, and the queries it made."""

    since: datetime
    until: datetime
    counts: JobImportCounts
    affected_days: AffectedDays
    pods: int = 0
    unassigned: int = 0
    measured: int = 0
    slurm_measured: int = 0
    queries: int = 0
    record: ImportRecord | None = None
    teams: list[str] = field(default_factory=list)


def sync_settings(cluster: str) -> Settings:
    return Settings(
        cluster=cluster, team_label=settings.PROMETHEUS_TEAM_LABEL, namespace_teams=settings.PROMETHEUS_NAMESPACE_TEAMS,
        model_label=settings.PROMETHEUS_MODEL_LABEL, gpu_map={k.lower(): v for k, v in settings.GPU_TYPE_MAP.items()},
    )  # fmt: skip


def _source_key(url: str, cluster: str) -> dict:
    return {"url": url.rstrip("/"), "cluster": cluster}


def last_synced(url: str, cluster: str) -> datetime | None:
    """Where the last successful sync of this Prometheus and cluster stopped; None if there was none."""
    records = ImportRecord.objects.filter(
        kind=ImportRecord.Kind.PROMETHEUS, status=ImportRecord.Status.SUCCEEDED,
        options_sha256=options_key(_source_key(url, cluster)),
    )  # fmt: skip
    record = records.order_by("-created_at").first()
    return datetime.fromisoformat(record.totals["until"]) if record and record.totals.get("until") else None


def prometheus_sync(
    *, url: str, cluster: str, since: datetime | None = None, until: datetime | None = None, dry_run: bool = False,
    progress=None,
) -> SyncOutcome:  # fmt: skip
    """Read GPU pods of [since, until) from Prometheus and upsert them as jobs, all or nothing.

    `since` defaults to where the last sync stopped (else PROMETHEUS_LOOKBACK_DAYS before
    `until`), `until` to now. InputError names the URL and the query when Prometheus fails.
    """
    if not cluster or len(cluster) > 64:
        raise InputError("a cluster name of 1 to 64 characters is required", field="--cluster", value=cluster)
    client = Prometheus(url)
    until = to_second(until or timezone.now())
    assert until is not None
    since = since or last_synced(url, cluster) or until - timedelta(days=settings.PROMETHEUS_LOOKBACK_DAYS)
    if since >= until:
        raise InputError("must be before the end of the window", field="--since", value=since.isoformat())
    started = time.perf_counter()
    state = Cluster(sync_settings(cluster))
    _read_pods(client, state, since, until, progress)
    _forget_stored_finished(state, since)
    first = min([since, *(pod.start for pod in state.pods.values() if pod.start)]) - timedelta(minutes=1)
    slurm = _read_usage(client, state, first, until, progress)
    rows = [state.job_row(pod, until) for pod in state.pods.values() if pod.gpus > 0 and pod.start]
    rows_check_times(rows, f"prometheus {cluster}", until)
    outcome = SyncOutcome(since=since, until=until, counts=JobImportCounts(), affected_days=AffectedDays(until))
    outcome.pods = len(rows)
    outcome.unassigned = sum(1 for row in rows if row.team == "unassigned")
    outcome.measured = sum(1 for row in rows if row.gpu_util_source)
    with transaction.atomic():
        _write(rows, f"prometheus {cluster}", outcome)
        outcome.slurm_measured = _slurm_usage(slurm, first, until, outcome.affected_days)
        outcome.queries = client.queries
        outcome.record = _record(url, cluster, outcome, int((time.perf_counter() - started) * 1000))
        if dry_run:
            transaction.set_rollback(True)
    return outcome


def rows_check_times(rows: list[JobRow], source: str, until: datetime) -> None:
    """jobs.times' bounds on the pods' jobs, as on every import: InputError naming the pod and the field."""
    for row in rows:
        if problem := job_times_problem(row.start_time, row.end_time, now=until):
            raise InputError(problem[1], path=f"{source}, pod {row.external_id}", field=problem[0],
                             value=getattr(row, problem[0]).isoformat())  # fmt: skip


def _read_pods(client: Prometheus, state: Cluster, since: datetime, until: datetime, progress) -> None:
    step = f"{settings.PROMETHEUS_STEP_SECONDS}s"
    for start, end in chunks(since, until, settings.PROMETHEUS_CHUNK_HOURS):
        for name, template in POD_QUERIES.items():
            state.add(name, client.query(expression(template, R=range_of(start, end), STEP=step), end - LAST_MS))
        if progress:
            progress(1)


def _forget_stored_finished(state: Cluster, since: datetime) -> None:
    """Drop the pods that finished before the window and are stored so already: nothing in them can change.

    Kubernetes keeps a finished pod until it is deleted (a Job's pods without a TTL, a CronJob's
    history), and kube-state-metrics exports it as long: each sync would otherwise read DCGM again
    back to its start. Its job was written, with its whole life's utilisation, by the sync that
    saw it finish (the same end and status); a pod seen finished for the first time is kept. An evicted
    pod (Failed, no completion time) that the window never sees unfinished has no end in it: left out too.
    """
    cluster = state.settings.cluster
    finished = {}
    for uid, pod in list(state.pods.items()):
        end, status = state.end_of(pod)
        if end is None and pod.phase in FINAL_PHASES:  # evicted and kept: no completion time, not seen unfinished
            del state.pods[uid]  # in the window: it ended before, and an earlier sync had its end
        elif end is not None and end <= since:
            finished[f"{cluster}:{uid}"[:128]] = (uid, to_second(end), status)
    ids = list(finished)
    for offset in range(0, len(ids), BATCH):
        stored = Job.objects.filter(external_id__in=ids[offset : offset + BATCH])
        for external_id, end_time, status in stored.values_list("external_id", "end_time", "status"):
            uid, end, expected = finished[external_id]
            if (end_time, status) == (end, expected):
                del state.pods[uid]


def _read_usage(client: Prometheus, state: Cluster, first: datetime, until: datetime, progress) -> dict[str, Usage]:
    """DCGM's figures over [first, until): folded into the pods, and returned per Slurm job id (hpc_job)."""
    slurm: dict[str, Usage] = {}
    for start, end in chunks(first, until, settings.PROMETHEUS_CHUNK_HOURS):
        selector = range_of(start, end)
        for name, template in DCGM_QUERIES.items():
            pods = expression(template, R=selector, **FOR_PODS)
            state.add_usage(name, client.query(pods, end - LAST_MS), start, end)
            for sample in client.query(expression(template, R=selector, **FOR_SLURM_JOBS), end - LAST_MS):
                add_usage(slurm.setdefault(sample.labels.get("hpc_job", ""), Usage()), name, sample.value)
        if progress:
            progress(1)
    slurm.pop("", None)
    return slurm


def _write(rows: list, source: str, outcome: SyncOutcome) -> None:
    """Upsert the pods' jobs through the import writers; only changed jobs add their days."""
    counts, days, path = outcome.counts, AffectedDays(outcome.until), Path(source)
    counts.read = counts.kept = len(rows)
    if connection.vendor == "postgresql":
        write_postgres(iter(rows), path, JobImportOptions(fmt="prometheus"), counts, days)
    else:
        teams = TeamResolver(path, True, counts)
        iterator = iter(rows)
        while batch := list(islice(iterator, BATCH)):
            write_batch_portable(batch, teams, counts, days)
    if counts.created or counts.updated:
        outcome.affected_days.merge(days)
    outcome.teams = counts.teams_created


def _slurm_usage(slurm: dict[str, Usage], first: datetime, until: datetime, days: AffectedDays) -> int:
    """Give on-prem jobs named by DCGM's `hpc_job` their utilisation, when their run lies inside [first, until)."""
    changed = []
    ids = list(slurm)
    for offset in range(0, len(ids), BATCH):
        jobs = Job.objects.filter(provider=Provider.ON_PREM, external_id__in=ids[offset : offset + BATCH],
                                  start_time__gte=first, end_time__lte=until)  # fmt: skip
        for job in jobs:
            util, mem = slurm[job.external_id or ""].figures()
            if (util, mem) != (job.gpu_util_avg, job.gpu_mem_peak_gib) and (util is not None or mem is not None):
                job.gpu_util_avg, job.gpu_mem_peak_gib, job.gpu_util_source = util, mem, UtilSource.DCGM
                changed.append(job)
                days.add(job.start_time, job.end_time)
    Job.objects.bulk_update(changed, ["gpu_util_avg", "gpu_mem_peak_gib", "gpu_util_source", "updated_at"],
                            batch_size=1000)  # fmt: skip
    return len(changed)


def _record(url: str, cluster: str, outcome: SyncOutcome, duration_ms: int) -> ImportRecord:
    source = _source_key(url, cluster)
    counts = outcome.counts
    window = f"{url}|{cluster}|{outcome.since.isoformat()}|{outcome.until.isoformat()}"
    return ImportRecord.objects.create(
        kind=ImportRecord.Kind.PROMETHEUS, file_name=f"{cluster} @ {url}"[:500], format="prometheus",
        sha256=hashlib.sha256(window.encode()).hexdigest(), options=source, options_sha256=options_key(source),
        status=ImportRecord.Status.SUCCEEDED, rows_read=outcome.pods, rows_kept=outcome.pods,
        totals={"since": outcome.since.isoformat(), "until": outcome.until.isoformat(), "created": counts.created,
                "updated": counts.updated, "unchanged": counts.unchanged, "teams_created": counts.teams_created,
                "unassigned": outcome.unassigned, "measured": outcome.measured,
                "slurm_measured": outcome.slurm_measured, "queries": outcome.queries},
        duration_ms=duration_ms, run_by="sync_prometheus",
    )  # fmt: skip
