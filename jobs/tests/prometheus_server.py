"""A real Prometheus over data that a test writes: OpenMetrics -> `promtool tsdb create-blocks-from` -> `prometheus`.

Used by the sync tests and by bench/bench_prometheus.py. Series are given as a generator
of metric families, each a (name, series) pair whose series yield (labels, samples);
samples are (unix seconds, value). `PrometheusServer.start` skips the test, saying why,
where promtool or prometheus is missing or cannot start.
"""

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from ops.testing import free_port

Series = tuple[dict[str, str], Iterable[tuple[float, float]]]
Family = tuple[str, Iterable[Series]]


def openmetrics_lines(families: Iterable[Family]) -> Iterator[str]:
    """The text of an OpenMetrics file: every family's samples together, each series in time order, then # EOF."""
    for name, series in families:
        yield f"# TYPE {name} gauge\n"
        for labels, samples in series:
            text = ",".join(f'{key}="{value}"' for key, value in labels.items())
            prefix = f"{name}{{{text}}} "
            for moment, value in samples:
                yield f"{prefix}{float(value)!r} {moment:.3f}\n"
    yield "# EOF\n"


def build_blocks(families: Iterable[Family], folder: Path) -> Path:
    """Write the OpenMetrics file and turn it into TSDB blocks under folder/data; returns that path."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    source, data = folder / "metrics.om", folder / "data"
    with source.open("w") as handle:
        handle.writelines(openmetrics_lines(families))
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"promtool could not build blocks: {result.stderr[-2000:]}")
    source.unlink()
    return data


class PrometheusServer:
    """`prometheus` on a free loopback port over the blocks in `data`, scraping nothing."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "PrometheusServer":
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.skip("prometheus is not installed (apt-get install prometheus)")
        config = self.data.parent / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        log = (self.data.parent / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.data}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.skip(f"prometheus exited at start: {(self.data.parent / 'prometheus.log').read_text()[-1000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.skip(f"prometheus was not ready within {timeout:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
