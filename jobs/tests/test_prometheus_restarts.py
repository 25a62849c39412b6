"""sync_prometheus when kube-state-metrics restarts in the middle of a pod's life, against a real Prometheus.

A restarted kube-state-metrics (a rolling update, an evicted pod) comes back under a new
`instance` label, so Prometheus holds two copies of each of the pod's series in one chunk:
the old one stops while the pod runs, the new one sees it finish. The labels are those of
kube-prometheus-stack's ServiceMonitor (job, instance, endpoint, service). The new
instance's address sorts before the old one, so the old copy's `Running` is answered last.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from jobs.kubernetes import Cluster, Settings
from jobs.models import Job
from jobs.prometheus import Sample
from jobs.tests.prometheus_server import PrometheusServer, build_blocks
from jobs.tests.test_prometheus_sync import minutes

D = datetime(2025, 3, 10, tzinfo=UTC)
H = timedelta(hours=1)
START, RESTART, END = D + 4 * H, D + 6 * H, D + 12 * H
GONE = END + timedelta(minutes=5)
OLD = {
    "job": "kube-state-metrics",
    "instance": "10.1.0.5:8080",
    "endpoint": "http",
    "service": "kps-kube-state-metrics",
}
NEW = {**OLD, "instance": "10.1.0.10:8080"}  # sorts first
POD = {"namespace": "ml", "pod": "llama-train-0", "uid": "7f1c2a9e"}


def copies(start: datetime, end: datetime, value=lambda t: 1.0, **labels: str):
    """The series of both kube-state-metrics instances: the old one until the restart, the new one after."""
    return [({**ksm, **POD, **labels}, [(t, value(t)) for t, _ in minutes(a, b)])
            for ksm, a, b in ((OLD, start, RESTART), (NEW, RESTART, end))]  # fmt: skip


def families():
    yield "kube_pod_container_resource_requests", [
        *copies(START, GONE, lambda t: 4.0, container="c0", node="n1", resource="nvidia_com_gpu", unit="integer"),
        *copies(START, GONE, lambda t: 4.0, container="c1", node="n1", resource="nvidia_com_gpu", unit="integer"),
    ]  # fmt: skip
    yield "kube_pod_start_time", copies(START, GONE, lambda t: START.timestamp())
    yield "kube_pod_completion_time", [({**NEW, **POD}, minutes(END, GONE, END.timestamp()))]
    final = END.timestamp()
    yield "kube_pod_status_phase", [
        series for phase, busy in (("Running", lambda t: t < final), ("Succeeded", lambda t: t >= final))
        for series in copies(START, GONE, lambda t, busy=busy: float(busy(t)), phase=phase)
    ]  # fmt: skip
    yield "kube_pod_labels", copies(START, GONE, label_team="nlp")
    yield "kube_pod_info", copies(START, GONE, node="n1", host_ip="10.0.0.1")
    yield "DCGM_FI_DEV_GPU_UTIL", [({**POD, "container": "c0", "gpu": "0", "Hostname": "n1"}, minutes(START, END, 25))]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    server = PrometheusServer(build_blocks(families(), tmp_path_factory.mktemp("restart"))).start()
    yield server
    server.stop()


def test_a_restart_of_kube_state_metrics_neither_doubles_gpus_nor_reopens_the_pod(db, prometheus):
    call_command("sync_prometheus", "--url", prometheus.url, "--cluster", "kube", "--no-progress", "--no-rollup",
                 "--since", D.isoformat(), "--until", (D + 24 * H).isoformat())  # fmt: skip
    # Before: 16 GPUs (each container counted once per copy) and `cancelled` at 12:04, when last seen Running.
    assert list(Job.objects.values_list("gpu_count", "start_time", "end_time", "status", "gpu_util_avg")) == [
        (8, START, END, "succeeded", Decimal("25.00"))
    ]


def test_a_final_phase_is_kept_whatever_order_the_copies_come_in():
    cluster = Cluster(Settings(cluster="k"))
    cluster.add(
        "phase", [Sample({**POD, **NEW, "phase": "Succeeded"}, "1"), Sample({**POD, **OLD, "phase": "Running"}, "1")]
    )
    assert cluster.pods["7f1c2a9e"].phase == "Succeeded"
    cluster.add("phase", [Sample({**POD, "phase": "Running"}, "1")])  # a later chunk's stale copy
    assert cluster.pods["7f1c2a9e"].phase == "Succeeded"
