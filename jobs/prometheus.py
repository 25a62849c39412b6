"""A small client of the Prometheus HTTP API: instant queries, bounded answers, errors that name the query.

The URL is the operator's (a setting or `sync_prometheus --url`), so it may point inside
the network. What comes back is bounded like every file Heliox reads (heliox/reading.py):
an answer larger than PROMETHEUS_MAX_RESPONSE_BYTES is refused, naming the query, before
it is parsed; a slow server meets PROMETHEUS_TIMEOUT.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from heliox.errors import InputError
from heliox.reading import CHUNK


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels (without __name__) and its value as Prometheus wrote it."""

    labels: dict[str, str]
    value: str


@dataclass
class Prometheus:
    """Instant queries against one Prometheus; `queries` counts the requests made."""

    url: str
    timeout: float = field(default_factory=lambda: settings.PROMETHEUS_TIMEOUT)
    max_bytes: int = field(default_factory=lambda: settings.PROMETHEUS_MAX_RESPONSE_BYTES)
    queries: int = 0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("not an http(s) URL of a Prometheus server", field="--url", value=self.url)
        self.url = self.url.rstrip("/")

    def query(self, expression: str, at: datetime) -> list[Sample]:
        """The instant vector of `expression` evaluated at `at`. InputError naming the query on any failure."""
        self.queries += 1
        body = urllib.parse.urlencode({"query": expression, "time": f"{at.timestamp():.3f}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __post_init__
            f"{self.url}/api/v1/query", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = self._read(response, expression)
        except urllib.error.HTTPError as error:
            raw = self._read(error, expression)  # Prometheus explains a bad query in its JSON body
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise InputError(f"Prometheus did not answer: {reason}", path=self.url, field=expression) from None
        return self._samples(raw, expression)

    def _read(self, response, expression: str) -> bytes:
        chunks, size = [], 0
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise InputError(
                    f"the answer is larger than PROMETHEUS_MAX_RESPONSE_BYTES ({self.max_bytes:,} bytes); "
                    "sync a shorter window (--since) or raise the setting", path=self.url, field=expression,
                )  # fmt: skip
            chunks.append(chunk)
        return b"".join(chunks)

    def _samples(self, raw: bytes, expression: str) -> list[Sample]:
        try:
            answer = json.loads(raw)
        except ValueError:
            raise InputError("the answer is not JSON (is this a Prometheus URL?)", path=self.url,
                             field=expression) from None  # fmt: skip
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error", "unknown error") if isinstance(answer, dict) else "unexpected answer"
            raise InputError(f"Prometheus refused the query: {error}", path=self.url, field=expression)
        data = answer.get("data") or {}
        if data.get("resultType") != "vector":
            raise InputError("expected an instant vector", path=self.url, field=expression)
        samples = []
        for series in data.get("result") or []:
            labels = dict(series.get("metric") or {})
            labels.pop("__name__", None)
            samples.append(Sample(labels=labels, value=str(series["value"][1])))
        return samples
