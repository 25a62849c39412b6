"""sync_prometheus of a month of Kubernetes GPU pods against a real Prometheus, on PostgreSQL.

    .venv/bin/python bench/bench_prometheus.py [--pods 10000] [--days 30] [--scrape-minutes 10] [--blocks DIR]

Generates `--pods` GPU pods starting uniformly over `--days` days (30 min to 8 h each, 1-8
GPUs, 4 teams by label and one namespace without, two clouds), their kube-state-metrics
series and a DCGM series per pod (with a gap in one pod out of five), scraped every
`--scrape-minutes`; builds blocks with promtool, starts prometheus over them and times one
sync of the whole window, then a second sync of it (nothing changes). Anchor, same run:
the same queries sent to Prometheus with nothing done with the answers. Targets (issue
#18): under 60 s, under 300 MB, queries bounded (15 per day synced, whatever the pods).
"""

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, peak_rss_mb, setup_django

FIRST = datetime(2025, 5, 1, tzinfo=UTC)
NODES = {f"node-{n}": ((f"aws:///us-east-1a/i-{n:04d}", "NVIDIA-H100-80GB-HBM3") if n % 2 else
                       (f"gce://ml/us-central1-a/n-{n:04d}", "NVIDIA-A100-SXM4-80GB")) for n in range(40)}  # fmt: skip


def make_pods(count: int, days: int, rng: random.Random) -> list[tuple]:
    pods = []
    for n in range(count):
        start = FIRST + timedelta(seconds=rng.randrange(days * 86_400 - 9 * 3600))
        end = start + timedelta(minutes=rng.randrange(30, 480))
        team = {"team": f"team-{n % 4}", "project": f"p{n % 7}"} if n % 10 else {}
        pods.append((f"uid-{n:06d}", "ml" if team else "scratch", f"pod-{n}", f"node-{n % 40}", rng.randint(1, 8),
                     start, end, rng.randrange(5, 100), n % 5 == 0, team))  # fmt: skip
    return pods


def ticks(start: datetime, end: datetime, every: int, value: float = 1.0):
    first, step = int(start.timestamp()) // every * every + every, every
    return [(t, value) for t in range(first, int(end.timestamp()), step)]


def families(pods: list[tuple], days: int, every: int):
    def labels(p):
        return {"namespace": p[1], "pod": p[2], "uid": p[0]}

    alive = {p[0]: (p[5], p[6] + timedelta(minutes=5)) for p in pods}
    yield "kube_pod_container_resource_requests", (
        ({**labels(p), "container": "main", "node": p[3], "resource": "nvidia_com_gpu"},
         ticks(*alive[p[0]], every, p[4])) for p in pods
    )  # fmt: skip
    yield "kube_pod_start_time", ((labels(p), ticks(*alive[p[0]], every, p[5].timestamp())) for p in pods)
    yield "kube_pod_completion_time", ((labels(p), ticks(p[6], alive[p[0]][1], every, p[6].timestamp())) for p in pods)
    yield "kube_pod_status_phase", (
        ({**labels(p), "phase": phase}, [(t, float((t < p[6].timestamp()) == (phase == "Running")))
                                         for t, _ in ticks(*alive[p[0]], every)])
        for p in pods for phase in ("Running", "Succeeded")
    )  # fmt: skip
    yield "kube_pod_labels", (({**labels(p), **{f"label_{k}": v for k, v in p[9].items()}}, ticks(*alive[p[0]], every))
                              for p in pods)  # fmt: skip
    yield "kube_pod_info", (({**labels(p), "node": p[3]}, ticks(*alive[p[0]], every)) for p in pods)
    span = (FIRST - timedelta(hours=1), FIRST + timedelta(days=days, hours=1))
    yield "kube_node_info", (({"node": n, "provider_id": v[0]}, ticks(*span, every)) for n, v in NODES.items())
    yield "kube_node_labels", (({"node": n, "label_nvidia_com_gpu_product": v[1]}, ticks(*span, every))
                               for n, v in NODES.items())  # fmt: skip

    def dcgm(p, value):
        samples = ticks(p[5], p[6], every, value)
        return samples[: len(samples) // 3] + samples[2 * len(samples) // 3 :] if p[8] else samples

    yield "DCGM_FI_DEV_GPU_UTIL", (({"namespace": p[1], "pod": p[2], "gpu": "0"}, dcgm(p, p[7])) for p in pods)
    yield "DCGM_FI_DEV_FB_USED", (({"namespace": p[1], "pod": p[2], "gpu": "0"}, dcgm(p, 1024.0 * p[4])) for p in pods)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape-minutes", type=int, default=10)
    parser.add_argument(
        "--blocks", type=Path, help="Build the blocks into this folder (data/), or reuse them if there."
    )
    args = parser.parse_args()
    setup_django()
    sys.path.insert(0, str(ROOT))
    import pytest
    from django.conf import settings

    from jobs.models import Job
    from jobs.prometheus import Prometheus
    from jobs.services import kubernetes as k8s
    from jobs.services.prometheus_sync import LAST_MS, prometheus_sync
    from jobs.tests.prometheus_server import PrometheusServer, build_blocks

    settings.PROMETHEUS_STEP_SECONDS = args.scrape_minutes * 60
    Job.objects.filter(external_id__startswith="bench:").delete()
    pods = make_pods(args.pods, args.days, random.Random(18))
    with tempfile.TemporaryDirectory(prefix="heliox-bench-prom-") as folder:
        started = time.perf_counter()
        if args.blocks and (args.blocks / "data").is_dir():  # the same --pods, --days and --scrape-minutes
            data = args.blocks / "data"
        else:  # into --blocks (kept for the next run) or a temporary folder
            try:
                (args.blocks or Path(folder)).mkdir(parents=True, exist_ok=True)
                data = build_blocks(families(pods, args.days, args.scrape_minutes * 60), args.blocks or Path(folder))
            except pytest.skip.Exception as reason:
                sys.exit(f"cannot run: {reason}")
            print(f"blocks of {args.pods:,} pods over {args.days} days built in {time.perf_counter() - started:.1f} s")
        server = PrometheusServer(data).start(timeout=300)
        try:
            since, until = FIRST, FIRST + timedelta(days=args.days)
            client, started = Prometheus(server.url), time.perf_counter()
            for start, end in k8s.chunks(since, until, settings.PROMETHEUS_CHUNK_HOURS):
                step = f"{settings.PROMETHEUS_STEP_SECONDS}s"
                for template in k8s.POD_QUERIES.values():
                    client.query(k8s.expression(template, R=k8s.range_of(start, end), STEP=step), end - LAST_MS)
                for template in k8s.DCGM_QUERIES.values():
                    for labels in (k8s.FOR_PODS, k8s.FOR_SLURM_JOBS):
                        client.query(k8s.expression(template, R=k8s.range_of(start, end), **labels), end - LAST_MS)
            anchor = time.perf_counter() - started
            print(f"anchor: the same {client.queries} queries, answers unused: {anchor:.1f} s")
            for run in ("first sync", "second sync"):
                started = time.perf_counter()
                outcome = prometheus_sync(url=server.url, cluster="bench", since=since, until=until)
                took = time.perf_counter() - started
                counts = outcome.counts
                print(f"{run}: {outcome.pods:,} pods ({counts.created:,} new, {counts.updated:,} updated, "
                      f"{counts.unchanged:,} unchanged; {outcome.measured:,} measured, {outcome.unassigned:,} "
                      f"unassigned) in {took:.1f} s = {took / anchor:.2f}x the anchor; {outcome.queries} queries; "
                      f"peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
