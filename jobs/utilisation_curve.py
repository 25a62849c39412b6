"""A job's GPU utilisation curve, asked of Prometheus when the job page is opened.

Only for jobs whose utilisation DCGM measured: a Kubernetes pod synced by `sync_prometheus`
(matched by its `namespace` and `pod`, kept in the job's metadata) or a Slurm job that DCGM's
job mapping named (`hpc_job` = the job's scheduler id). One range query over the job's run
[start, end or now]: per point, the mean over the job's GPUs of each GPU's mean over the step
before it (so a gap in the series is a gap in the curve, never 0 %), at most MAX_POINTS points.
Nothing is asked when PROMETHEUS_URL is empty; a Prometheus that fails or is slow gives the
reason, never an error page. Curves are kept in the cache (CACHES): a finished job's for an hour
(its samples do not change), a running job's for one step, a failure for 30 s, so that reloading a
page, or many people opening one job, asks Prometheus once.
"""

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from heliox.errors import InputError
from jobs.models import Job, Provider, UtilSource
from jobs.prometheus import Prometheus

MAX_POINTS = 300
MIN_STEP_SECONDS = 60
TIMEOUT_SECONDS = 3.0
FINISHED_SECONDS, FAILED_SECONDS = 3600, 30  # how long a finished job's curve and a failure are kept
SERIES = "avg_over_time(DCGM_FI_DEV_GPU_UTIL{$MATCH}[$STEPs])"


@dataclass
class Curve:
    """The points (aware UTC time, percent) or, when Prometheus could not give them, why."""

    points: list[tuple[datetime, Decimal]] = field(default_factory=list)
    unavailable: str = ""
    step: int = 0


def promql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def series_match(job: Job) -> list[str] | None:
    """The DCGM label matchers of the job's GPUs (any of them), or None when its utilisation did not come from DCGM.

    A pod's GPUs carry its `namespace` and `pod`, or `exported_namespace` and `exported_pod` when
    Prometheus scraped DCGM without honor_labels (jobs.services.kubernetes.FOR_PODS)."""
    if job.gpu_util_source != UtilSource.DCGM or job.start_time is None:
        return None
    pod = (job.metadata or {}).get("kubernetes") if isinstance(job.metadata, dict) else None
    if isinstance(pod, dict) and pod.get("namespace") and pod.get("pod"):
        namespace, name = promql_string(str(pod["namespace"])), promql_string(str(pod["pod"]))
        return [f'namespace={namespace}, pod={name}, exported_pod=""',
                f"exported_namespace={namespace}, exported_pod={name}"]  # fmt: skip
    if job.provider == Provider.ON_PREM and job.external_id:
        return [f"hpc_job={promql_string(job.external_id)}"]
    return None


def utilisation_curve(*, job: Job, now: datetime | None = None) -> Curve | None:
    """The job's curve; None (and no request) without PROMETHEUS_URL or for a job DCGM did not measure."""
    match = series_match(job)
    start = job.start_time
    if not settings.PROMETHEUS_URL or match is None or start is None:
        return None
    end = max(job.end_time or now or timezone.now(), start)
    step = max(MIN_STEP_SECONDS, math.ceil((end - start).total_seconds() / MAX_POINTS))
    query = "avg(" + " or ".join(SERIES.replace("$MATCH", m).replace("$STEP", str(step)) for m in match) + ")"
    # A running job's curve is asked again once a step has passed (its end moves with now).
    when = int(end.timestamp()) // step if job.end_time is None else "end"
    asked = f"{settings.PROMETHEUS_URL}|{query}|{start.isoformat()}|{when}"
    key = "curve:" + hashlib.sha256(asked.encode()).hexdigest()
    curve = cache.get(key)
    if curve is None:
        curve = _ask(query, start, end, step)
        kept = FAILED_SECONDS if curve.unavailable else FINISHED_SECONDS if job.end_time else step
        cache.set(key, curve, kept)
    return curve


def _ask(query: str, start: datetime, end: datetime, step: int) -> Curve:
    try:
        client = Prometheus(url=settings.PROMETHEUS_URL, timeout=min(TIMEOUT_SECONDS, settings.PROMETHEUS_TIMEOUT))
        series = client.query_range(query, start, end, step)
        points = [(datetime.fromtimestamp(t, tz=UTC), Decimal(value)) for t, value in (series[0] if series else [])]
    except InputError as error:
        return Curve(unavailable=error.message, step=step)
    except (InvalidOperation, ValueError, OverflowError):
        return Curve(unavailable="Prometheus answered values that are not numbers", step=step)
    return Curve(points=[(t, v) for t, v in points if v.is_finite()], step=step)


def curve_chart(curve: Curve) -> dict:
    """The curve as the job page's chart series (floats, for drawing only): every step from the first point to
    the last, null where Prometheus had no sample (a gap in the line, never 0 %)."""
    if not curve.points:
        return {"labels": [], "data": []}
    first = curve.points[0][0]
    at = {round((t - first).total_seconds() / curve.step): float(v) for t, v in curve.points}  # step n -> value
    times = [first + timedelta(seconds=curve.step * n) for n in range(max(at) + 1)]
    return {"labels": [t.strftime("%Y-%m-%d %H:%M") for t in times], "data": [at.get(n) for n in range(len(times))]}
