"""Outgoing HTTP to URLs that users type in (budget webhooks), without letting them reach inside the network.

A URL's host is resolved and every address it resolves to must be public: loopback,
link-local (169.254.169.254, the cloud metadata service), private, shared, reserved,
multicast and unspecified addresses are refused, unless the host or the address is
listed in BUDGET_WEBHOOK_ALLOWED_HOSTS. The check runs when a URL is saved and again
before each delivery, and the delivery connects to the very address that was checked
(the Host header and TLS name stay the host's), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot redirect it. Redirects are not
followed. Every delivery runs against a deadline: a watchdog shuts the socket when it
passes, however slowly the other side drips its answer.
"""

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits
DNS_TIMEOUT = 5.0  # seconds a lookup may take before the URL counts as unresolvable


class UnsafeURLError(ValueError):
    """The URL may not be fetched: malformed, unresolvable, or it reaches a non-public address."""


class DeliveryError(RuntimeError):
    """The POST failed: connection, timeout or a non-2xx answer. `timed_out` when the deadline or timeout hit."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`addresses`, all of them allowed) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (an IP literal resolves to itself). Tests replace this with a fake DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve_within(host: str, port: int, timeout: float) -> list[str]:
    """resolve() with a time limit: getaddrinfo cannot be interrupted, so it runs in a daemon thread."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    answer: dict = {}

    def lookup():
        try:
            answer["addresses"] = resolve(host, port)
        except (OSError, UnicodeError) as error:
            answer["error"] = error

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    if thread.is_alive():
        raise UnsafeURLError(f"{host} did not resolve within {timeout:.0f} s")
    if "error" in answer or not answer.get("addresses"):
        raise UnsafeURLError(f"{host} does not resolve")
    return answer["addresses"]


def address_kind(address: IPAddress) -> str:
    """'' for a public address, else what it is (loopback, link-local, private...)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "" if address.is_global else "non-public"


def _allowed(host: str, address: IPAddress) -> bool:
    for entry in settings.BUDGET_WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        if entry == host:
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name, not this one
    return False


def check_url(url: str, *, timeout: float = DNS_TIMEOUT) -> Target:
    """Parse and resolve `url`; raise UnsafeURLError unless every address it resolves to may be reached."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURLError(f"not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURLError("not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("credentials in the URL are not supported")
    host = parts.hostname.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve_within(host, port, timeout)
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = address_kind(address)
        if kind and not _allowed(host, address):
            where = f"{host} is" if text == host else f"{host} resolves to {address},"
            raise UnsafeURLError(
                f"{where} a {kind} address: webhooks may only reach public addresses "
                "(or hosts listed in BUDGET_WEBHOOK_ALLOWED_HOSTS)"
            )
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return Target(parts.scheme, host, port, path, tuple(addresses))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Talks to `host` (Host header) at `address`, the one that was checked."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS; the certificate is verified against the host name, not the address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _post_once(target: Target, address: str, body: bytes, deadline: float) -> int:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeliveryError("no time left in this run", timed_out=True)
    # When the deadline comes first, the watchdog (at `remaining`) cuts the request off, not a socket timeout
    # at the same instant: which of the two fired used to be a race, and the error says which limit was hit.
    timeout = settings.BUDGET_WEBHOOK_TIMEOUT if remaining > settings.BUDGET_WEBHOOK_TIMEOUT else remaining + 1.0
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target.host, target.port, address, timeout)
    expired = threading.Event()

    def cut_off():  # wakes a read blocked on a server that answers too slowly
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body, headers={"Content-Type": "application/json",
                                                                     "User-Agent": "Heliox budget alerts"})  # fmt: skip
        response = connection.getresponse()
        return response.status
    except TimeoutError as error:
        raise DeliveryError(f"no answer within {timeout:.1f} s", timed_out=True) from error
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set():
            raise DeliveryError("no answer before the run's time budget ran out", timed_out=True) from error
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    finally:
        watchdog.cancel()
        connection.close()


def post_json(url: str, payload: dict, *, deadline: float) -> None:
    """POST `payload` as JSON to `url` before `deadline` (time.monotonic()); raise UnsafeURLError or DeliveryError.

    The URL is checked again (its DNS may have changed since it was saved) and the
    connection goes to an address that was checked. A 2xx answer is success; a
    redirect is a failure (never followed).
    """
    target = check_url(url, timeout=min(DNS_TIMEOUT, max(deadline - time.monotonic(), 0.0)))
    body = json.dumps(payload).encode()
    status = None
    for address in target.addresses:
        try:
            status = _post_once(target, address, body, deadline)
            break
        except DeliveryError as error:
            if error.timed_out or address == target.addresses[-1]:
                raise
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""))
