"""sync_prometheus on series labelled as real scrapes label them, against a real Prometheus.

- kube-state-metrics restarts in the middle of a pod's life (a rolling update, an evicted pod):
  it comes back under a new `instance` label, so Prometheus holds two copies of each of the
  pod's series in one chunk; the old one stops while the pod runs, the new one sees it finish.
  The labels are those of kube-prometheus-stack's ServiceMonitor (job, instance, endpoint,
  service); the new instance's address sorts before the old one, so the old copy's `Running`
  is answered last.
- DCGM is scraped without honor_labels (the dcgm-exporter and GPU operator charts' default):
  its `namespace` and `pod` are renamed `exported_namespace` and `exported_pod`, and
  `namespace` and `pod` name the exporter's own pod.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from jobs.models import ImportRecord, Job
from jobs.prometheus import Sample
from jobs.services.kubernetes import Cluster, Settings
from jobs.tests.prometheus_server import PrometheusServer, build_blocks
from jobs.tests.test_prometheus_sync import minutes
from jobs.utilisation_curve import utilisation_curve

D = datetime(2025, 3, 10, tzinfo=UTC)
H = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
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
# Finished two days before, and kept by Kubernetes (a Job's pod without a TTL): exported all along.
KEPT = {"namespace": "ml", "pod": "eval-x2k9q", "uid": "0d5e"}
KEPT_START, KEPT_END = D - 48 * H, D - 46 * H
EVICTED = {"namespace": "ml", "pod": "infer-7c", "uid": "e71c"}  # 01:00-03:00, then Failed and kept


def copies(start: datetime, end: datetime, value=lambda t: 1.0, pod=POD, **labels: str):
    """The series of both kube-state-metrics instances: the old one until the restart, the new one after."""
    return [({**ksm, **pod, **labels}, [(t, value(t)) for t, _ in minutes(a, b)])
            for ksm, a, b in ((OLD, start, RESTART), (NEW, RESTART, end)) if a < b]  # fmt: skip


def pod_series(pod: dict, start: datetime, end: datetime, gone: datetime, containers: int, final="Succeeded"):
    """kube-state-metrics' series of a pod of `containers` containers of 4 GPUs each, Running then `final`.
    An evicted pod (`Failed`) has no completion time: its containers were killed, their ends unknown."""
    requests = [copies(start, gone, lambda t: 4.0, pod, container=f"c{n}", node="n1", resource="nvidia_com_gpu",
                       unit="integer") for n in range(containers)]  # fmt: skip
    final, last = end.timestamp(), final
    phases = [copies(start, gone, lambda t, busy=busy: float(busy(t)), pod, phase=phase)
              for phase, busy in (("Running", lambda t: t < final), (last, lambda t: t >= final))]  # fmt: skip
    return {
        "kube_pod_container_resource_requests": [series for copy in requests for series in copy],
        "kube_pod_start_time": copies(start, gone, lambda t: start.timestamp(), pod),
        "kube_pod_completion_time": copies(end, gone, lambda t: final, pod) if last == "Succeeded" else [],
        "kube_pod_status_phase": [series for copy in phases for series in copy],
        "kube_pod_labels": copies(start, gone, pod=pod, label_team="nlp"),
        "kube_pod_info": copies(start, gone, pod=pod, node="n1", host_ip="10.0.0.1"),
    }


def families():
    train, kept = pod_series(POD, START, END, GONE, 2), pod_series(KEPT, KEPT_START, KEPT_END, D + 24 * H, 1)
    evicted = pod_series(EVICTED, D + 1 * H, D + 3 * H, D + 24 * H, 1, final="Failed")
    # Pending for capacity half an hour before it started: its requests, with no node yet, are other series.
    unscheduled = [({**OLD, **POD, "container": f"c{n}", "node": "", "resource": "nvidia_com_gpu", "unit": "integer"},
                    minutes(START - 30 * MINUTE, START, 4)) for n in range(2)]  # fmt: skip
    train["kube_pod_container_resource_requests"] += unscheduled
    for name, series in train.items():
        yield name, series + kept[name] + evicted[name]
    exporter = {"job": "nvidia-dcgm-exporter", "instance": "10.0.0.1:9400", "namespace": "gpu-operator",
                "pod": "nvidia-dcgm-exporter-x7k2p", "container": "nvidia-dcgm-exporter", "Hostname": "n1"}  # fmt: skip
    used = {"exported_namespace": "ml", "exported_pod": "llama-train-0", "exported_container": "c0"}
    evaluated = {"exported_namespace": "ml", "exported_pod": "eval-x2k9q", "exported_container": "c0", "gpu": "2"}
    yield (
        "DCGM_FI_DEV_GPU_UTIL",
        [
            ({**exporter, **used, "gpu": "0"}, minutes(START, END, 25)),
            ({**exporter, **used, "gpu": "1"}, minutes(START, END, 35)),
            ({**exporter, "gpu": "7"}, minutes(D, D + 24 * H, 0)),  # no pod's: not counted
            ({**exporter, **evaluated}, minutes(KEPT_START, KEPT_END, 50)),
        ],
    )
    yield "DCGM_FI_DEV_FB_USED", [({**exporter, **used, "gpu": "0"}, minutes(START, END, 30720))]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    server = PrometheusServer(build_blocks(families(), tmp_path_factory.mktemp("restart"))).start()
    yield server
    server.stop()


@pytest.fixture
def synced(db, prometheus):
    call_command("sync_prometheus", "--url", prometheus.url, "--cluster", "kube", "--no-progress", "--no-rollup",
                 "--since", D.isoformat(), "--until", (D + 24 * H).isoformat())  # fmt: skip
    return Job.objects.get(external_id="kube:7f1c2a9e")


def test_a_restart_of_kube_state_metrics_neither_doubles_gpus_nor_reopens_the_pod(synced):
    # Before: 24 GPUs (each container counted once per copy: two instances, and no node while it waited) and
    # `cancelled` at 12:04, when last seen Running.
    assert (synced.gpu_count, synced.start_time, synced.end_time, synced.status) == (8, START, END, "succeeded")


def test_dcgm_scraped_without_honor_labels_measures_the_pod_and_draws_its_curve(synced, prometheus, settings):
    # Before: unmeasured (no series named the pod). (25 + 35) / 2 = 30 %; 30720 MiB = 30 GiB.
    assert (synced.gpu_util_avg, synced.gpu_mem_peak_gib, synced.gpu_util_source) == (
        Decimal("30.00"), Decimal("30.000"), "dcgm")  # fmt: skip
    settings.PROMETHEUS_URL = prometheus.url
    curve = utilisation_curve(job=synced)
    assert curve is not None
    assert curve.unavailable == ""
    # 8 hours in 96 s steps, both ends included: 301 points, each the mean of the two GPUs.
    assert (curve.step, len(curve.points), {value for _, value in curve.points}) == (96, 301, {Decimal(30)})


def test_an_evicted_pod_ends_when_last_seen_unfinished_however_long_it_is_kept(synced):
    evicted = Job.objects.get(external_id="kube:e71c")
    # Before: it ended when last scraped, 23:59 (the Running series goes on at 0 while the pod is kept).
    assert (evicted.start_time, evicted.end_time, evicted.status) == (D + 1 * H, D + 3 * H - MINUTE, "failed")


def test_a_finished_pod_kept_by_kubernetes_is_read_once(db, prometheus, capsys):
    def sync(since: datetime, until: datetime) -> int:
        call_command("sync_prometheus", "--url", prometheus.url, "--cluster", "kube", "--no-progress", "--no-rollup",
                     "--since", since.isoformat(), "--until", until.isoformat())  # fmt: skip
        return ImportRecord.objects.order_by("-created_at").first().totals["queries"]

    # The first sync that sees it reads DCGM back to its start: a chunk of pods, DCGM from 2 days before (3 chunks).
    assert sync(D, D + 13 * H) == 9 + 3 * 6
    assert Job.objects.get(external_id="kube:0d5e").gpu_util_avg == Decimal("50.00")
    # Later syncs forget it (stored finished, the same end): DCGM of their own window only. Before: 9 + 4 x 6.
    assert sync(D + 13 * H, D + 24 * H) == 9 + 6
    assert "Synced [2025-03-10T13:00:00+00:00, 2025-03-11T00:00:00+00:00): 0 GPU pods" in capsys.readouterr().out
    kept = Job.objects.get(external_id="kube:0d5e")
    assert (kept.gpu_count, kept.start_time, kept.end_time, kept.status, kept.gpu_util_avg) == (
        4, KEPT_START, KEPT_END, "succeeded", Decimal("50.00"))  # fmt: skip
    # The evicted pod, kept too, without a completion time nor a moment unfinished in that window: left alone.
    evicted = Job.objects.get(external_id="kube:e71c")
    assert (evicted.end_time, evicted.status) == (D + 3 * H - MINUTE, "failed")


def test_a_final_phase_is_kept_whatever_order_the_copies_come_in():
    cluster = Cluster(Settings(cluster="k"))
    cluster.add(
        "phase", [Sample({**POD, **NEW, "phase": "Succeeded"}, "1"), Sample({**POD, **OLD, "phase": "Running"}, "1")]
    )
    assert cluster.pods["7f1c2a9e"].phase == "Succeeded"
    cluster.add("phase", [Sample({**POD, "phase": "Running"}, "1")])  # a later chunk's stale copy
    assert cluster.pods["7f1c2a9e"].phase == "Succeeded"


def test_the_copies_of_a_pods_labels_are_merged_within_a_chunk():
    cluster = Cluster(Settings(cluster="k", namespace_teams={"ml": "research"}))
    before = {**POD, **OLD}  # kube-state-metrics without the allowlist: no pod label
    after = {**POD, **NEW, "label_team": "nlp", "label_project": "pretrain"}  # restarted with it
    cluster.add("labels", [Sample(after, "1"), Sample(before, "1")])
    pod = cluster.pods["7f1c2a9e"]
    # Before: the copy answered last won, here the one without labels: the namespace's team, no project.
    assert (cluster.team(pod), pod.labels) == ("nlp", {"label_team": "nlp", "label_project": "pretrain"})
    cluster.add("labels", [Sample({**POD, **NEW, "label_team": "vision"}, "1")])  # a later chunk: its labels
    assert (cluster.team(pod), pod.labels) == ("vision", {"label_team": "vision"})
