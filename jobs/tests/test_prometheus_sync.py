"""sync_prometheus against a real Prometheus: GPU pods from kube-state-metrics, utilisation from DCGM.

The cluster (two nodes in two clouds, three GPU pods and a CPU pod) is written as
OpenMetrics, built into blocks with promtool and served by `prometheus` on a free port.
Hand-computed: GPU-hours, utilisation (a DCGM series with a two-hour gap), the rollup's
cost, efficiency and waste to the cent; a second sync changes nothing; a running pod is finished by a later sync.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from costs.catalog.tests.factories import GpuPriceFactory
from costs.usage.models import UsageSnapshot
from costs.usage.selectors.spend import spend_summary
from costs.usage.services.rollup import usage_rollup
from heliox.errors import InputError
from jobs import tasks
from jobs.models import ImportRecord, Job
from jobs.prometheus import Prometheus, Sample
from jobs.services.kubernetes import Cluster, Settings
from jobs.tests.prometheus_server import PrometheusServer, build_blocks

D = datetime(2025, 3, 10, tzinfo=UTC)
H = timedelta(hours=1)
MINUTE = 60.0
FIRST_UNTIL, SECOND_UNTIL = D + 42 * H, D + 54 * H  # 2025-03-11 18:00, 2025-03-12 06:00
NODES = {
    "gpu-a": {"provider_id": "aws:///us-east-1a/i-0abc123", "product": "NVIDIA-H100-80GB-HBM3",
              "instance": "p5.48xlarge", "region": "us-east-1"},
    "gpu-g": {"provider_id": "gce://ml-prod/us-central1-a/gke-gpu-g", "product": "NVIDIA-A100-SXM4-80GB",
              "instance": "a2-ultragpu-1g", "region": "us-central1"},
}  # fmt: skip
# uid: namespace, pod, node, GPUs per container, start, completion, final phase, pod labels
PODS = {
    "uid-train": ("ml", "llama-train-0", "gpu-a", (4, 4), D + 22 * H, D + 26 * H, "Succeeded",
                  {"team": "nlp", "model": "llama-3-70b", "project": "pretrain"}),
    "uid-serve": ("inference", "vllm-0", "gpu-g", (1,), D + 30 * H, D + 50 * H, "Succeeded", {"app": "vllm"}),
    "uid-orphan": ("scratch", "notebook", "gpu-a", (2,), D + 12 * H, D + 14 * H, "Failed", {}),
    "uid-cpu": ("ml", "etl", "gpu-a", (), D + 1 * H, D + 3 * H, "Succeeded", {"team": "nlp"}),
}  # fmt: skip


def minutes(start: datetime, end: datetime, value: float = 1.0):
    """A sample a minute in [start, end)."""
    first, last = start.timestamp(), end.timestamp()
    return [(first + n * MINUTE, value) for n in range(int((last - first) // MINUTE))]


def pod_labels(uid: str) -> dict[str, str]:
    namespace, pod = PODS[uid][:2]
    return {"namespace": namespace, "pod": pod, "uid": uid}


def pod_families():
    alive = {uid: (p[4], p[5] + 5 * timedelta(minutes=1)) for uid, p in PODS.items()}  # deleted 5 min after the end
    yield "kube_pod_container_resource_requests", [
        ({**pod_labels(uid), "container": f"c{n}", "node": p[2], "resource": "nvidia_com_gpu", "unit": "integer"},
         minutes(*alive[uid], gpus)) for uid, p in PODS.items() for n, gpus in enumerate(p[3])
    ]  # fmt: skip
    yield "kube_pod_start_time", [(pod_labels(uid), minutes(*alive[uid], p[4].timestamp())) for uid, p in PODS.items()]
    yield "kube_pod_completion_time", [(pod_labels(uid), minutes(p[5], alive[uid][1], p[5].timestamp()))
                                       for uid, p in PODS.items()]  # fmt: skip
    yield "kube_pod_status_phase", [
        ({**pod_labels(uid), "phase": phase},
         [(t, float(phase == ("Running" if t < p[5].timestamp() else p[6]))) for t, _ in minutes(*alive[uid])])
        for uid, p in PODS.items() for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown")
    ]  # fmt: skip
    yield "kube_pod_labels", [
        ({**pod_labels(uid), **{f"label_{k}": v for k, v in p[7].items()}}, minutes(*alive[uid]))
        for uid, p in PODS.items()
    ]  # fmt: skip
    yield "kube_pod_info", [({**pod_labels(uid), "node": p[2], "host_ip": "10.0.0.1"}, minutes(*alive[uid]))
                            for uid, p in PODS.items()]  # fmt: skip


def node_families():
    span = (D - H, D + 60 * H)
    yield "kube_node_info", [({"node": node, "provider_id": n["provider_id"], "kernel_version": "6.1"}, minutes(*span))
                             for node, n in NODES.items()]  # fmt: skip
    yield "kube_node_labels", [
        ({"node": node, "label_nvidia_com_gpu_product": n["product"], "label_node_kubernetes_io_instance_type":
          n["instance"], "label_topology_kubernetes_io_region": n["region"]}, minutes(*span))
        for node, n in NODES.items()
    ]  # fmt: skip


def dcgm_families():
    train = {"namespace": "ml", "pod": "llama-train-0", "container": "c0", "Hostname": "gpu-a"}
    serve = {"namespace": "inference", "pod": "vllm-0", "container": "c0", "Hostname": "gpu-g"}
    idle = {"namespace": "", "pod": "", "container": "", "Hostname": "gpu-a", "gpu": "7"}  # no pod: not a job's
    serve_util = minutes(D + 30 * H, D + 32 * H, 90) + minutes(D + 34 * H, D + 50 * H, 30)  # a gap 08:00-10:00
    yield (
        "DCGM_FI_DEV_FB_USED",
        [
            ({**train, "gpu": "0"}, minutes(D + 22 * H, D + 26 * H, 40960)),
            ({**train, "gpu": "1"}, minutes(D + 22 * H, D + 26 * H, 61440)),
            ({**serve, "gpu": "0"}, minutes(D + 30 * H, D + 50 * H, 20480)),
        ],
    )
    yield (
        "DCGM_FI_DEV_GPU_UTIL",
        [
            ({**train, "gpu": "0"}, minutes(D + 22 * H, D + 26 * H, 60)),
            ({**train, "gpu": "1"}, minutes(D + 22 * H, D + 26 * H, 80)),
            ({**serve, "gpu": "0"}, serve_util),
            (idle, minutes(D, D + 50 * H, 0)),
            ({"hpc_job": "4242", "gpu": "0", "Hostname": "slurm-7"}, minutes(D + 2 * H, D + 4 * H, 55)),
        ],
    )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prometheus")
    server = PrometheusServer(build_blocks([*pod_families(), *node_families(), *dcgm_families()], folder)).start()
    yield server
    server.stop()


@pytest.fixture
def synced(db, prometheus, settings):
    settings.PROMETHEUS_NAMESPACE_TEAMS = {"inference": "serving"}
    GpuPriceFactory(provider="aws", gpu_type="H100", usd_per_gpu_hour=Decimal("4.0000"))
    GpuPriceFactory(provider="gcp", gpu_type="A100-80GB", usd_per_gpu_hour=Decimal("3.5000"))
    return prometheus


def sync(url, *args):
    call_command("sync_prometheus", "--url", url, "--cluster", "kube", "--no-progress", "--no-rollup", *args)


def jobs():
    return list(Job.objects.order_by("external_id").values_list(
        "external_id", "team__name", "provider", "gpu_type", "gpu_count", "region", "start_time", "end_time", "status",
        "gpu_util_avg", "gpu_mem_peak_gib", "gpu_util_source"))  # fmt: skip


TRAIN = ("kube:uid-train", "nlp", "aws", "H100", 8, "us-east-1", D + 22 * H, D + 26 * H, "succeeded",
         Decimal("70.00"), Decimal("60.000"), "dcgm")  # fmt: skip
ORPHAN = ("kube:uid-orphan", "unassigned", "aws", "H100", 2, "us-east-1", D + 12 * H, D + 14 * H, "failed",
          None, None, "")  # fmt: skip


def test_sync_reads_gpu_pods_teams_and_utilisation(synced, capsys):
    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())

    assert jobs() == [
        ORPHAN,
        # Running: no end yet. DCGM: 120 samples at 90 %, a gap, 480 at 30 %: (10800 + 14400) / 600 = 42 %.
        ("kube:uid-serve", "serving", "gcp", "A100-80GB", 1, "us-central1", D + 30 * H, None, "running",
         Decimal("42.00"), Decimal("20.000"), "dcgm"),
        TRAIN,  # 8 GPUs over two containers; 2 GPUs report, at 60 % and 80 %; peak 61440 MiB = 60 GiB
    ]  # fmt: skip
    train = Job.objects.get(external_id="kube:uid-train")
    assert (train.model_name, train.labels) == ("llama-3-70b", {"project": "pretrain"})
    assert train.metadata["kubernetes"]["instance_type"] == "p5.48xlarge"
    assert "3 GPU pods (3 new, 0 updated, 0 unchanged; 1 without a team, 2 with DCGM" in capsys.readouterr().out

    usage_rollup(start=D.date(), end=date(2025, 3, 12), now=FIRST_UNTIL)
    rows = UsageSnapshot.objects.values_list("date", "team__name", "provider", "gpu_type", "gpu_hours",
                                             "estimated_cost_usd")  # fmt: skip
    assert sorted(rows) == [
        (date(2025, 3, 10), "nlp", "aws", "H100", Decimal("16.0000"), Decimal("64.00")),  # 22:00-24:00 x 8
        (date(2025, 3, 10), "unassigned", "aws", "H100", Decimal("4.0000"), Decimal("16.00")),
        (date(2025, 3, 11), "nlp", "aws", "H100", Decimal("16.0000"), Decimal("64.00")),  # 00:00-02:00 x 8
        (date(2025, 3, 11), "serving", "gcp", "A100-80GB", Decimal("12.0000"), Decimal("42.00")),  # 06:00-18:00
    ]
    efficiency = UsageSnapshot.objects.values_list("date", "team__name", "used_gpu_hours", "unmeasured_gpu_hours",
                                                   "waste_usd")  # fmt: skip
    assert sorted(efficiency) == [
        (date(2025, 3, 10), "nlp", Decimal("11.2000"), Decimal("0.0000"), Decimal("19.20")),  # 70 %: $64 x 30 %
        (date(2025, 3, 10), "unassigned", Decimal("0.0000"), Decimal("4.0000"), Decimal("0.00")),  # no DCGM series
        (date(2025, 3, 11), "nlp", Decimal("11.2000"), Decimal("0.0000"), Decimal("19.20")),
        (date(2025, 3, 11), "serving", Decimal("5.0400"), Decimal("0.0000"), Decimal("24.36")),  # 42 %: $42 x 58 %
    ]
    totals = spend_summary(start=D.date(), end=date(2025, 3, 12), group_by=()).totals
    # 27.44 used of 44 measured GPU-hours; the orphan's 4 GPU-hours are unmeasured, not 0 % busy.
    assert (totals["efficiency_pct"], totals["waste_usd"], totals["unmeasured_gpu_hours"]) == (
        Decimal("62.4"), Decimal("62.76"), Decimal("4.0000"))  # fmt: skip


def test_a_second_sync_changes_nothing_and_a_later_one_finishes_the_running_pod(synced, capsys):
    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    first = jobs()
    updated = dict(Job.objects.values_list("external_id", "updated_at"))

    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    assert jobs() == first
    assert dict(Job.objects.values_list("external_id", "updated_at")) == updated
    assert "(0 new, 0 updated, 3 unchanged;" in capsys.readouterr().out

    sync(synced.url, "--until", SECOND_UNTIL.isoformat())  # from where the last sync stopped
    out = capsys.readouterr().out
    assert f"Synced [{FIRST_UNTIL.isoformat()}, {SECOND_UNTIL.isoformat()})" in out
    assert "1 GPU pods (0 new, 1 updated, 0 unchanged;" in out
    # Measured over its whole life, not only the new window: (120 x 90 + 960 x 30) / 1080 = 36.67 %.
    assert jobs()[1] == ("kube:uid-serve", "serving", "gcp", "A100-80GB", 1, "us-central1", D + 30 * H, D + 50 * H,
                         "succeeded", Decimal("36.67"), Decimal("20.000"), "dcgm")  # fmt: skip
    assert ImportRecord.objects.filter(kind="prometheus", status="succeeded").count() == 3


def test_slurm_jobs_get_dcgm_utilisation_by_hpc_job(synced):
    from jobs.tests.factories import JobFactory

    slurm = JobFactory(provider="on-prem", external_id="4242", gpu_count=1, start_time=D + 2 * H, end_time=D + 4 * H)
    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    slurm.refresh_from_db()
    assert (slurm.gpu_util_avg, slurm.gpu_util_source) == (Decimal("55.00"), "dcgm")


def test_query_count_grows_with_days_not_pods(synced):
    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    record = ImportRecord.objects.get(kind="prometheus")
    # 42 hours: 2 chunks x 9 pod queries; DCGM from a minute before the window: 2 chunks x 6 queries.
    assert record.totals["queries"] == 2 * 9 + 2 * 6


def test_unreachable_prometheus_and_bad_window_are_command_errors(db, settings):
    with pytest.raises(CommandError, match=r"http://127.0.0.1:9, column .*: Prometheus did not answer"):
        sync("http://127.0.0.1:9", "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    with pytest.raises(CommandError, match="--url: not an http"):
        sync("file:///etc/passwd")
    with pytest.raises(CommandError, match="--since: must be before the end of the window"):
        sync("http://127.0.0.1:9", "--since", FIRST_UNTIL.isoformat(), "--until", D.isoformat())
    assert Job.objects.count() == 0


def test_bad_query_and_oversized_answer_name_the_query(synced):
    with pytest.raises(InputError, match=r"column sum\(: Prometheus refused the query: .*parse error"):
        Prometheus(synced.url).query("sum(", D)
    with pytest.raises(InputError, match=r"column kube_pod_info\[1d\]: the answer is larger than .* \(300 bytes\)"):
        Prometheus(synced.url, max_bytes=300).query("kube_pod_info[1d]", D + 24 * H)


def test_pods_deleted_while_running_end_when_last_seen():
    cluster = Cluster(Settings(cluster="k"))
    labels = {"namespace": "a", "pod": "p", "uid": "u"}
    cluster.add("gpus", [Sample(labels, "2")])
    cluster.add("start", [Sample(labels, str(D.timestamp()))])
    cluster.add("phase", [Sample({**labels, "phase": "Running"}, "1")])
    cluster.add("seen", [Sample(labels, str((D + H).timestamp()))])
    row = cluster.job_row(cluster.pods["u"], until=D + 3 * H)
    assert (row.end_time, row.status, row.team, row.gpu_type, row.provider) == (
        D + H,
        "cancelled",
        "unassigned",
        "unknown",
        "on-prem",
    )


def test_the_beat_task_syncs_from_where_the_last_sync_stopped(
    synced, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PROMETHEUS_URL, settings.PROMETHEUS_CLUSTER = synced.url, "kube"
    sync(synced.url, "--since", D.isoformat(), "--until", FIRST_UNTIL.isoformat())
    monkeypatch.setattr("jobs.services.prometheus_sync.timezone.now", lambda: SECOND_UNTIL)

    # 12 hours of pods (1 chunk x 9 queries); DCGM from a minute before the running pod's start (2 chunks x 6).
    with django_capture_on_commit_callbacks(execute=True):  # the rollup of the changed days follows the commit
        assert tasks.sync_prometheus() == {"pods": 1, "created": 0, "updated": 1, "queries": 9 + 12}
    assert Job.objects.get(external_id="kube:uid-serve").end_time == D + 50 * H
    # It ran until 02:00 on the 12th: 2 GPU-hours that day, rolled up by the task.
    assert UsageSnapshot.objects.get(date=date(2025, 3, 12), team__name="serving").gpu_hours == Decimal(2)
    settings.PROMETHEUS_URL = ""
    assert tasks.sync_prometheus() == {"skipped": "PROMETHEUS_URL is not set"}
