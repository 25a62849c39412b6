"""The job page's utilisation curve, asked of the real Prometheus of test_prometheus_sync (same cluster).

Each point is the mean over the job's GPUs of each GPU's mean over the step before it: constant
segments give exact values, and the serving pod's two-hour gap is a gap in the points, never 0 %.
"""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.test import Client

from jobs.models import Job, Provider, UtilSource
from jobs.tests.factories import JobFactory
from jobs.tests.prometheus_server import PrometheusServer, build_blocks
from jobs.tests.test_prometheus_sync import SECOND_UNTIL, D, H, dcgm_families, node_families, pod_families, sync
from jobs.utilisation_curve import MAX_POINTS, curve_chart, utilisation_curve

STEP = timedelta(seconds=240)  # the serving pod's 20 hours / MAX_POINTS


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """test_prometheus_sync's cluster, served by its own Prometheus."""
    folder = tmp_path_factory.mktemp("prometheus")
    server = PrometheusServer(build_blocks([*pod_families(), *node_families(), *dcgm_families()], folder)).start()
    yield server
    server.stop()


@pytest.fixture
def pods(org, cluster, settings):  # org first: the pods of team nlp land in its team nlp
    settings.PROMETHEUS_NAMESPACE_TEAMS = {"inference": "serving"}
    sync(cluster.url, "--since", D.isoformat(), "--until", SECOND_UNTIL.isoformat())
    settings.PROMETHEUS_URL = cluster.url
    return {job.external_id: job for job in Job.objects.all()}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_curve_of_a_pod_has_its_gap(pods):
    curve = utilisation_curve(job=pods["kube:uid-serve"])

    assert (curve.unavailable, curve.step) == ("", 240)
    # 90 % from 06:00 to 08:00 (the 08:00 point still averages 07:56-07:59), no sample 08:04-09:56, 30 % from 10:00.
    assert curve.points == [(D + 30 * H + n * STEP, Decimal(90)) for n in range(31)] + [
        (D + 30 * H + n * STEP, Decimal(30)) for n in range(60, MAX_POINTS + 1)
    ]
    chart = curve_chart(curve)
    assert len(chart["data"]) == MAX_POINTS + 1
    assert chart["data"][29:32] == [90.0, 90.0, None]
    assert chart["data"][59:61] == [None, 30.0]
    assert chart["labels"][:2] == ["2025-03-11 06:00", "2025-03-11 06:04"]


def test_curve_averages_the_pods_gpus_and_a_slurm_job_by_hpc_job(pods, org):
    train = utilisation_curve(job=pods["kube:uid-train"])
    assert train.step == 60
    assert train.points == [(D + 22 * H + n * timedelta(minutes=1), Decimal(70)) for n in range(241)]  # 60 and 80

    slurm = JobFactory(team=org["teams"]["nlp"], provider=Provider.ON_PREM, external_id="4242",
                       start_time=D + 2 * H, end_time=D + 4 * H, gpu_util_source=UtilSource.DCGM)  # fmt: skip
    assert utilisation_curve(job=slurm).points == [(D + 2 * H + n * timedelta(minutes=1), Decimal(55))
                                                   for n in range(121)]  # fmt: skip


def test_job_page_draws_the_curve_and_its_json(pods, org):
    bob = client_of(org["users"]["bob"])  # an nlp member: the training pod is nlp's
    train = pods["kube:uid-train"]

    page = bob.get(f"/jobs/{train.pk}/")
    assert page.status_code == 200
    assert b'data-chart="job_utilisation"' in page.content
    assert b'id="hx-chart-data"' in page.content
    data = bob.get(f"/jobs/{train.pk}/?format=json").json()
    assert data["job_utilisation"]["data"] == [70.0] * 241
    assert data["utilisation_unavailable"] == ""
    assert bob.get(f"/jobs/{pods['kube:uid-serve'].pk}/").status_code == 404  # the serving team's
    assert bob.get(f"/jobs/{pods['kube:uid-serve'].pk}/?format=json").status_code == 404


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_prometheus_down_still_renders_the_page(org, settings):
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{closed_port()}"
    job = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM,
                     metadata={"kubernetes": {"namespace": "ml", "pod": "llama-train-0"}})  # fmt: skip
    bob = client_of(org["users"]["bob"])

    page = bob.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    assert b"utilisation curve unavailable: Prometheus did not answer: [Errno 111] Connection refused" in page.content
    assert b'data-chart="job_utilisation"' not in page.content
    unavailable = bob.get(f"/jobs/{job.pk}/?format=json").json()["utilisation_unavailable"]
    assert unavailable == "Prometheus did not answer: [Errno 111] Connection refused"


@pytest.mark.django_db
def test_a_job_from_a_csv_asks_nothing(org, settings, monkeypatch):
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"

    def no_request(*args, **kwargs):
        raise AssertionError("asked Prometheus")

    monkeypatch.setattr("jobs.prometheus.urllib.request.urlopen", no_request)
    job = JobFactory(team=org["teams"]["nlp"], gpu_util_avg=Decimal("50.00"), gpu_util_source=UtilSource.IMPORT)
    page = client_of(org["users"]["bob"]).get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    assert b"hx-job-curve" not in page.content
    assert b"unavailable" not in page.content
    assert utilisation_curve(job=job, now=datetime(2025, 3, 11, tzinfo=UTC)) is None


@pytest.mark.django_db
def test_no_prometheus_url_no_curve(org, settings):
    settings.PROMETHEUS_URL = ""
    job = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM,
                     metadata={"kubernetes": {"namespace": "ml", "pod": "llama-train-0"}})  # fmt: skip
    assert utilisation_curve(job=job) is None
    assert b"hx-job-curve" not in client_of(org["users"]["bob"]).get(f"/jobs/{job.pk}/").content


class Answer(BaseHTTPRequestHandler):
    """A server that answers /api/v1/query_range with `self.server.body` after `self.server.delay` seconds."""

    def do_POST(self):
        time.sleep(self.server.delay)
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("body", "delay", "reason"), [
    (b"<html>login</html>", 0, "the answer is not JSON (is this a Prometheus URL?)"),
    (b'{"status": "success", "data": {"resultType": "vector", "result": []}}', 0, "expected a range vector"),
    (b'{"status": "error", "error": "parse error"}', 0, "Prometheus refused the query: parse error"),
    (b"{}", 1.0, "Prometheus did not answer: timed out"),
])  # fmt: skip
@pytest.mark.django_db
def test_a_bad_or_slow_answer_is_a_note(org, settings, monkeypatch, body, delay, reason):
    monkeypatch.setattr("jobs.utilisation_curve.TIMEOUT_SECONDS", 0.3)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.body, server.delay = body, delay
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{server.server_port}"
    job = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM, external_id="77",
                     provider=Provider.ON_PREM)  # fmt: skip
    try:
        page = client_of(org["users"]["bob"]).get(f"/jobs/{job.pk}/")
    finally:
        server.shutdown()
        server.server_close()
    assert page.status_code == 200
    assert f"utilisation curve unavailable: {reason}".encode() in page.content


class Counted(Answer):
    def do_POST(self):
        self.server.asked += 1
        super().do_POST()


@pytest.mark.django_db
def test_curves_are_kept_finished_for_an_hour_running_for_a_step(org, settings, monkeypatch):
    """Reloading a finished job's page asks Prometheus once; a running job's curve is asked again once its end has
    moved by a step (the step of a 2-hour run is 60 s); a failure is kept for 30 s, not an hour."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counted)
    point = (
        b'{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[%d, "40"]]}]}}'
    )
    server.body, server.delay, server.asked = point % D.timestamp(), 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{server.server_port}"
    kept = []

    class Spy:  # the real cache, with how long each curve is kept noted
        def get(self, key):
            return cache.get(key)

        def set(self, key, value, seconds):
            kept.append(seconds)
            cache.set(key, value, seconds)

    monkeypatch.setattr("jobs.utilisation_curve.cache", Spy())
    finished = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM, external_id="78",
                          provider=Provider.ON_PREM, start_time=D, end_time=D + 2 * H)  # fmt: skip
    running = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM, external_id="79",
                         provider=Provider.ON_PREM, start_time=D, end_time=None)  # fmt: skip
    try:
        for _ in range(3):
            assert utilisation_curve(job=finished).points == [(D, Decimal(40))]
        assert server.asked == 1
        for now in (D + 2 * H, D + 2 * H + timedelta(seconds=59), D + 2 * H + timedelta(seconds=60)):
            assert utilisation_curve(job=running, now=now).points == [(D, Decimal(40))]
        assert server.asked == 3  # the first two are in the same 60-second step
    finally:
        server.shutdown()
        server.server_close()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{closed_port()}"
    assert utilisation_curve(job=finished).unavailable.startswith("Prometheus did not answer")
    assert kept == [3600, 60, 60, 30]
