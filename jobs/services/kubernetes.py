"""Kubernetes GPU pods as Heliox jobs, assembled from kube-state-metrics and DCGM exporter series.

Pure work on query answers, no database. A sync window is read in chunks (PROMETHEUS_CHUNK_HOURS):
for each chunk one instant query per metric, over the whole chunk with a range selector
(`max_over_time(...[R])`), grouped by pod: so the number of queries grows with the days
synced, never with the pods. `Cluster` folds each chunk's answers into one `Pod` per pod
uid (the latest chunk wins for what changes: phase, labels, node) and turns every pod
that held GPUs into a `JobRow`.

Utilisation is DCGM's `DCGM_FI_DEV_GPU_UTIL` (0-100 per GPU) averaged over every sample of
every GPU of the pod (a gap in the series is time not measured, not 0 %), and the peak of
`DCGM_FI_DEV_FB_USED` (MiB) on any of its GPUs. Series are matched to pods by their
`namespace` and `pod` labels (dcgm-exporter's Kubernetes mapping); to Slurm jobs by `hpc_job`.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from heliox.validation import text_problem
from jobs.gpus import gpu_type_name, unknown_gpu_type_name
from jobs.labels import KEY_PATTERN, MAX_LABELS, MAX_VALUE_LENGTH, UNLABELLED
from jobs.models import JobStatus, Pricing, Provider, UtilSource
from jobs.prometheus import Sample
from jobs.services.job_rows import JobRow
from jobs.utilisation import mem_gib, util_percent

GPU_REQUESTS = 'kube_pod_container_resource_requests{resource="nvidia_com_gpu"}'
ONLY_GPU_PODS = " and on (uid) max by (uid) (max_over_time(" + GPU_REQUESTS + "[$R]))"
POD = "namespace, pod, uid"
UNFINISHED = 'kube_pod_status_phase{phase=~"Pending|Running|Unknown"}'
# One instant query each per chunk, evaluated at the chunk's end over the chunk ($R); $STEP: subquery step.
# A restarted kube-state-metrics (a new `instance`) writes each series again under new labels: the GPU
# requests are summed over the pod's containers, each counted once (its largest over the copies).
POD_QUERIES = {
    "gpus": f"sum by ({POD}) (max by ({POD}, container) (max_over_time({GPU_REQUESTS}[$R])))",
    "start": f"max by ({POD}) (max_over_time(kube_pod_start_time[$R])){ONLY_GPU_PODS}",
    "completion": f"max by ({POD}) (max_over_time(kube_pod_completion_time[$R])){ONLY_GPU_PODS}",
    "phase": f"(last_over_time(kube_pod_status_phase[$R]) == 1){ONLY_GPU_PODS}",
    # When the pod was last seen unfinished: a pod deleted while it ran stops there, and so does a pod that
    # failed without a completion time (evicted: its containers' ends unknown), however long it is kept after.
    # To the subquery's step: 4-5 times faster than the scrapes' own times (timestamp() of a selector).
    "seen": f"max by ({POD}) (max_over_time(timestamp({UNFINISHED} == 1)[$R:$STEP]))" + ONLY_GPU_PODS,
    "labels": f"last_over_time(kube_pod_labels[$R]){ONLY_GPU_PODS}",
    "node": f'max by ({POD}, node) (last_over_time(kube_pod_info{{node!=""}}[$R])){ONLY_GPU_PODS}',
    "node_labels": "last_over_time(kube_node_labels[$R])",
    "node_info": "max by (node, provider_id) (last_over_time(kube_node_info[$R]))",
}
# $BY: `namespace, pod` for pods, `hpc_job` for Slurm jobs; $KEY: the label that must be set (pod, hpc_job);
# $OPEN and $CLOSE: what wraps each series before it is grouped (FOR_PODS, FOR_SLURM_JOBS).
DCGM_QUERIES = {
    "util_sum": 'sum by ($BY) ($OPEN sum_over_time(DCGM_FI_DEV_GPU_UTIL{$KEY!=""}[$R]) $CLOSE)',
    "util_count": 'sum by ($BY) ($OPEN count_over_time(DCGM_FI_DEV_GPU_UTIL{$KEY!=""}[$R]) $CLOSE)',
    "mem_max": 'max by ($BY) ($OPEN max_over_time(DCGM_FI_DEV_FB_USED{$KEY!=""}[$R]) $CLOSE)',
}
# Scraped without honor_labels (the default of the dcgm-exporter and GPU operator charts' ServiceMonitors),
# DCGM's `namespace` and `pod` become `exported_namespace` and `exported_pod`, and `namespace` and `pod`
# name the exporter's own pod: the exported labels, where a series has them, name the GPU's pod.
FOR_PODS = {
    "BY": "namespace, pod", "KEY": "pod", "OPEN": "label_replace(label_replace(",
    "CLOSE": ', "namespace", "$1", "exported_namespace", "(.+)"), "pod", "$1", "exported_pod", "(.+)")',
}  # fmt: skip
FOR_SLURM_JOBS = {"BY": "hpc_job", "KEY": "hpc_job", "OPEN": "", "CLOSE": ""}


def expression(template: str, **values: str) -> str:
    """A query template with its $NAME placeholders filled."""
    for name, value in values.items():
        template = template.replace(f"${name}", value)
    return template


# The cloud a node runs in, from the scheme of its spec.providerID (kube_node_info's provider_id).
PROVIDER_IDS = {"aws": Provider.AWS, "gce": Provider.GCP, "azure": Provider.AZURE, "oci": Provider.OCI}
GPU_PRODUCT = "label_nvidia_com_gpu_product"  # set by NVIDIA's GPU feature discovery
INSTANCE_TYPE = "label_node_kubernetes_io_instance_type"
REGION = "label_topology_kubernetes_io_region"
SPOT_LABELS = {
    "label_eks_amazonaws_com_capacity_type": "SPOT",
    "label_cloud_google_com_gke_spot": "true",
    "label_kubernetes_azure_com_scalesetpriority": "spot",
    "label_karpenter_sh_capacity_type": "spot",
}
UNASSIGNED = "unassigned"
# A pod never leaves these phases: a copy of its series from before a kube-state-metrics restart that
# still says Running must not undo them, whatever order Prometheus answers in.
FINAL_PHASES = ("Succeeded", "Failed")


def label_name(key: str) -> str:
    """kube-state-metrics' name of a label key: `app.kubernetes.io/team` -> `label_app_kubernetes_io_team`."""
    return "label_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


def instant(value: str) -> datetime | None:
    """A Unix time in seconds as Prometheus writes it ('1741600000', '1.7416e+09'); None for 0 or not a number."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not seconds or seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return datetime.fromtimestamp(round(seconds), tz=UTC)


@dataclass(slots=True)
class Usage:
    """DCGM samples of one pod or Slurm job: their sum and count (utilisation), the largest memory in MiB."""

    util_sum: Decimal = Decimal(0)
    util_count: int = 0
    mem_mib: Decimal | None = None

    def figures(self) -> tuple[Decimal | None, Decimal | None]:
        """(average utilisation %, peak GiB); None where DCGM said nothing."""
        util = util_percent(min(max(self.util_sum / self.util_count, Decimal(0)), Decimal(100))) if (
            self.util_count) else None  # fmt: skip
        return util, (mem_gib(self.mem_mib / 1024) if self.mem_mib is not None else None)


@dataclass(slots=True)
class Pod:
    uid: str
    namespace: str
    name: str
    gpus: int = 0
    start: datetime | None = None
    completion: datetime | None = None
    phase: str = ""
    seen: datetime | None = None
    node: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)


@dataclass
class Settings:
    """What turns pods into jobs: the cluster's name and where teams come from."""

    cluster: str
    team_label: str = "team"
    namespace_teams: dict[str, str] = field(default_factory=dict)
    model_label: str = "model"
    gpu_map: dict[str, str] = field(default_factory=dict)
    stale: timedelta = timedelta(minutes=5)  # Prometheus' lookback: a pod unseen for longer is gone


class Cluster:
    """The pods and nodes read so far; `add` one query's answer for one chunk, in chunk order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pods: dict[str, Pod] = {}
        self.nodes: dict[str, dict[str, str]] = {}  # node -> kube_node_labels' labels, plus provider_id

    def _pod(self, labels: dict[str, str]) -> Pod | None:
        uid = labels.get("uid", "")
        if not uid:
            return None
        pod = self.pods.get(uid)
        if pod is None:
            pod = self.pods[uid] = Pod(uid=uid, namespace=labels.get("namespace", ""), name=labels.get("pod", ""))
        return pod

    def add(self, name: str, samples: list[Sample]) -> None:
        if name in ("node_labels", "node_info"):
            for sample in samples:
                node = sample.labels.get("node", "")
                if node:
                    self.nodes.setdefault(node, {}).update(sample.labels)
            return
        if name == "labels":
            self._add_labels(samples)
            return
        for sample in samples:
            pod = self._pod(sample.labels)
            if pod is None:
                continue
            if name == "gpus":
                pod.gpus = max(pod.gpus, int(float(sample.value)))
            elif name == "start":
                pod.start = instant(sample.value) or pod.start
            elif name == "completion":
                pod.completion = instant(sample.value) or pod.completion
            elif name == "phase" and pod.phase not in FINAL_PHASES:
                pod.phase = sample.labels.get("phase", pod.phase)
            elif name == "seen":
                pod.seen = max(filter(None, (pod.seen, instant(sample.value))), default=None)
            elif name == "node":
                pod.node = sample.labels.get("node", pod.node)

    def _add_labels(self, samples: list[Sample]) -> None:
        """A chunk's pod labels replace the earlier chunks'. Within the chunk, the copies of a pod's series are
        merged: kube-state-metrics restarted to export more labels (a new allowlist) writes a second copy
        beside the old one, and which comes last is Prometheus' choice."""
        chunk: dict[str, dict[str, str]] = {}
        for sample in samples:
            if (pod := self._pod(sample.labels)) is not None:
                labels = chunk.setdefault(pod.uid, {})
                labels.update({k: v for k, v in sample.labels.items() if k.startswith("label_") and v})
        for uid, labels in chunk.items():
            self.pods[uid].labels = labels

    def add_usage(self, name: str, samples: list[Sample], start: datetime, end: datetime) -> None:
        """One DCGM answer of the chunk [start, end], matched to the pod of that name alive in the chunk."""
        by_name: dict[tuple[str, str], list[Pod]] = {}
        for pod in self.pods.values():
            if pod.start and pod.start <= end and (self.end_of(pod)[0] or end) >= start:
                by_name.setdefault((pod.namespace, pod.name), []).append(pod)
        for sample in samples:
            pods = by_name.get((sample.labels.get("namespace", ""), sample.labels.get("pod", "")))
            if pods:  # a name reused within one chunk: the pod that started last
                add_usage(max(pods, key=lambda p: p.start or start).usage, name, sample.value)

    def end_of(self, pod: Pod, until: datetime | None = None) -> tuple[datetime | None, str]:
        """When the pod released its GPUs (None while it runs) and its job status."""
        if pod.phase in FINAL_PHASES:
            status = JobStatus.SUCCEEDED if pod.phase == "Succeeded" else JobStatus.FAILED
            return pod.completion or pod.seen, status
        if until is not None and pod.seen is not None and pod.seen < until - self.settings.stale:
            return pod.seen, JobStatus.CANCELLED  # deleted while it ran: its series stopped
        return None, JobStatus.RUNNING

    def team(self, pod: Pod) -> str:
        settings = self.settings
        return (pod.labels.get(label_name(settings.team_label)) or settings.namespace_teams.get(pod.namespace)
                or UNASSIGNED)[:100]  # fmt: skip

    def job_row(self, pod: Pod, until: datetime) -> JobRow:
        node = self.nodes.get(pod.node, {})
        end, status = self.end_of(pod, until)
        if end is not None and pod.start is not None and end < pod.start:
            end = pod.start
        util, mem = pod.usage.figures()
        skip = {label_name(self.settings.team_label), label_name(self.settings.model_label)}
        kubernetes = {"namespace": pod.namespace, "pod": pod.name, "node": pod.node, "uid": pod.uid,
                      "instance_type": node.get(INSTANCE_TYPE, "")}  # fmt: skip
        return JobRow(
            line=0, team=self.team(pod), model_name=pod.labels.get(label_name(self.settings.model_label), "")[:200],
            provider=PROVIDER_IDS.get(node.get("provider_id", "").partition(":")[0], Provider.ON_PREM),
            gpu_type=self.gpu_type(node.get(GPU_PRODUCT, "")), gpu_count=pod.gpus,
            region=(node.get(REGION) or self.settings.cluster)[:64], pricing=self.pricing(node),
            start_time=pod.start, end_time=end, status=status, external_id=f"{self.settings.cluster}:{pod.uid}"[:128],
            metadata={"kubernetes": kubernetes},
            labels=cost_labels({k[6:]: v for k, v in sorted(pod.labels.items()) if k not in skip}),
            gpu_util_avg=util, gpu_mem_peak_gib=mem,
            gpu_util_source=UtilSource.DCGM if util is not None or mem is not None else "",
        )  # fmt: skip

    def gpu_type(self, product: str) -> str:
        """`NVIDIA-H100-80GB-HBM3` (GPU feature discovery) -> H100; unknown products kept as their own type."""
        if not product:
            return "unknown"
        return gpu_type_name(product, self.settings.gpu_map) or unknown_gpu_type_name(product)[:32]

    @staticmethod
    def pricing(node: dict[str, str]) -> str:
        spot = any(node.get(key, "").lower() == value.lower() for key, value in SPOT_LABELS.items())
        return Pricing.SPOT if spot else Pricing.ON_DEMAND


def cost_labels(labels: dict[str, str]) -> dict[str, str]:
    """The pod's other labels as the job's cost labels: those a label may be (jobs.labels), at most MAX_LABELS."""
    kept = {key.lower(): value for key, value in labels.items()
            if KEY_PATTERN.match(key.lower()) and value.strip() and len(value) <= MAX_VALUE_LENGTH
            and value != UNLABELLED and not text_problem(value)}  # fmt: skip
    return dict(list(kept.items())[:MAX_LABELS])


def add_usage(usage: Usage, name: str, value: str) -> None:
    try:
        number = Decimal(value)
    except ArithmeticError:
        return
    if not number.is_finite():
        return
    if name == "util_sum":
        usage.util_sum += number
    elif name == "util_count":
        usage.util_count += int(number)
    elif usage.mem_mib is None or number > usage.mem_mib:
        usage.mem_mib = number


def chunks(start: datetime, end: datetime, hours: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into pieces of `hours`, the last one shorter."""
    pieces, step = [], timedelta(hours=hours)
    while start < end:
        pieces.append((start, min(start + step, end)))
        start += step
    return pieces


def range_of(start: datetime, end: datetime) -> str:
    """The range selector of the chunk [start, end) when evaluated at `end` - 1 ms: its length less 1 ms."""
    return f"{int((end - start).total_seconds() * 1000) - 1}ms"
