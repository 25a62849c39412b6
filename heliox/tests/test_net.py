"""Outgoing webhooks: public addresses only (after DNS), pinned to the checked address, within a deadline."""

import http.server
import socket
import threading
import time

import pytest

from heliox.net import DeliveryError, UnsafeURLError, check_url, post_json


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers `status` (with a Location for redirects) and records (Host header, path, body)."""

    status, seen = 200, []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append((self.headers["Host"], self.path, body))
        self.send_response(Recorder.status)
        if 300 <= Recorder.status < 400:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Recorder.status, Recorder.seen = 200, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://metadata.example.com/", "link-local"),  # a public name for the metadata service
        ("http://intranet.example.com/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),  # IPv4 inside IPv6
        ("http://[64:ff9b::a9fe:a9fe]/hook", "link-local"),  # NAT64 of 169.254.169.254
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.64.0.1/hook", "non-public"),  # carrier-grade NAT
        ("http://240.0.0.1/hook", "reserved"),
    ],
)
def test_internal_addresses_are_refused_after_resolution(url, kind, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(UnsafeURLError, match=f"a {kind} address: webhooks may only reach public addresses"):
        check_url(url)


def test_public_hosts_pass_and_unknown_ones_are_refused(settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = []
    target = check_url("https://hooks.slack.com/services/T0/B0/x?y=1")
    assert (target.host, target.port, target.path, target.addresses) == (
        "hooks.slack.com", 443, "/services/T0/B0/x?y=1", ("2600:1f18:24e6:b900::1", "54.84.61.11"),
    )  # fmt: skip
    with pytest.raises(UnsafeURLError, match=r"nowhere\.example\.com does not resolve"):
        check_url("https://nowhere.example.com/hook")
    with pytest.raises(UnsafeURLError, match="credentials in the URL"):
        check_url("https://user:secret@hooks.example.com/hook")


def test_a_host_that_also_resolves_to_an_internal_address_is_refused(fake_dns, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = []
    fake_dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(UnsafeURLError, match=r"10\.0\.0\.7, a private address"):
        check_url("https://mixed.example.com/hook")


def test_the_setting_allows_named_internal_hosts_and_networks(settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["intranet.example.com", "192.168.0.0/16"]
    assert check_url("http://intranet.example.com/hook").addresses == ("10.1.2.3",)
    assert check_url("http://192.168.1.10/hook").addresses == ("192.168.1.10",)
    with pytest.raises(UnsafeURLError):
        check_url("http://10.1.2.3/hook")  # the name was allowed, not its address


def test_delivery_connects_to_the_address_it_checked_not_a_second_answer(server, fake_dns, settings):
    # DNS rebinding: the first answer is allowed; any later lookup would point elsewhere (nothing listens there).
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    answers = iter([["127.0.0.1"]])
    fake_dns["rebind.example.com"] = lambda: next(answers, ["127.0.0.2"])
    post_json(f"http://rebind.example.com:{server}/hook?x=1", {"text": "hi"}, deadline=time.monotonic() + 5)
    assert Recorder.seen == [(f"rebind.example.com:{server}", "/hook?x=1", b'{"text": "hi"}')]


def test_delivery_checks_the_address_again(server, fake_dns, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = []
    fake_dns["rebind.example.com"] = ["127.0.0.1"]  # public when saved, loopback now
    with pytest.raises(UnsafeURLError, match="loopback"):
        post_json(f"http://rebind.example.com:{server}/hook", {"text": "hi"}, deadline=time.monotonic() + 5)
    assert Recorder.seen == []


def test_redirects_are_not_followed(server, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    Recorder.status = 302
    with pytest.raises(DeliveryError, match=r"HTTP 302 \(redirects are not followed\)"):
        post_json(f"http://127.0.0.1:{server}/hook", {"text": "hi"}, deadline=time.monotonic() + 5)
    assert len(Recorder.seen) == 1


@pytest.fixture
def silent_server():
    """Accepts connections and never answers (nor reads)."""
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def dripping_server():
    """Answers one byte of a status line every 0.1 s, forever: each read succeeds, the answer never ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.mark.parametrize("kind", ["silent", "dripping"])
def test_a_server_that_never_finishes_answering_is_cut_off_at_the_deadline(kind, request, settings):
    settings.BUDGET_WEBHOOK_ALLOWED_HOSTS, settings.BUDGET_WEBHOOK_TIMEOUT = ["127.0.0.1"], 5.0
    port = request.getfixturevalue(f"{kind}_server")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failure:
        post_json(f"http://127.0.0.1:{port}/hook", {"text": "hi"}, deadline=started + 0.8)
    elapsed = time.monotonic() - started
    assert failure.value.timed_out
    assert 0.7 < elapsed < 1.5
