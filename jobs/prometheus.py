"""A small client of the Prometheus HTTP API: instant and range queries, bounded answers, errors that name the query.

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
        data = self._ask("query", {"query": expression, "time": f"{at.timestamp():.3f}"}, expression, "vector")
        samples = []
        for series in data.get("result") or []:
            labels = dict(series.get("metric") or {})
            labels.pop("__name__", None)
            samples.append(Sample(labels=labels, value=str(series["value"][1])))
        return samples

    def query_range(self, expression: str, start: datetime, end: datetime, step: int) -> list[list[tuple[float, str]]]:
        """The range vector of `expression` over [start, end] every `step` seconds: per series, its
        (unix time, value as written) points. InputError naming the query on any failure."""
        params = {"query": expression, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
                  "step": str(step)}  # fmt: skip
        data = self._ask("query_range", params, expression, "matrix")
        try:
            return [[(float(t), str(v)) for t, v in series.get("values") or []] for series in data.get("result") or []]
        except (TypeError, ValueError, AttributeError):
            raise InputError("the answer's points are not (time, value) pairs", path=self.url,
                             field=expression) from None  # fmt: skip

    def _ask(self, endpoint: str, params: dict[str, str], expression: str, result_type: str) -> dict:
        self.queries += 1
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __post_init__
            f"{self.url}/api/v1/{endpoint}", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = self._read(response, expression)
        except urllib.error.HTTPError as error:
            raw = self._read(error, expression)  # Prometheus explains a bad query in its JSON body
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise InputError(f"Prometheus did not answer: {reason}", path=self.url, field=expression) from None
        return self._data(raw, expression, result_type)

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

    def _data(self, raw: bytes, expression: str, result_type: str) -> dict:
        try:
            answer = json.loads(raw)
        except ValueError:
            raise InputError("the answer is not JSON (is this a Prometheus URL?)", path=self.url,
                             field=expression) from None  # fmt: skip
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error", "unknown error") if isinstance(answer, dict) else "unexpected answer"
            raise InputError(f"Prometheus refused the query: {error}", path=self.url, field=expression)
        data = answer.get("data")
        if not isinstance(data, dict) or data.get("resultType") != result_type:
            raise InputError(f"expected a {'range' if result_type == 'matrix' else 'instant'} vector",
                             path=self.url, field=expression)  # fmt: skip
        return data
