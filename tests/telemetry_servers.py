"""Real servers for the telemetry tests: a JSON service, a dead port, a server that hangs,
a Prometheus exporter with figures the test controls, and a Prometheus server scraping it.

Nothing is mocked: the sources speak HTTP to these over 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.local_http import free_port, respond, serving


def dead_url() -> str:
    """A URL on a port nothing listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


# ---- a JSON service ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class JsonService:
    """Answers each path with the reply set for it (404 otherwise), and records the requests."""

    url: str = ""
    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def set_json(self, path: str, data: object, status: int = 200) -> None:
        self.replies[path] = Reply(status, json.dumps(data).encode())


@contextlib.contextmanager
def json_service() -> Iterator[JsonService]:
    service = JsonService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            service.requests.append((self.path, dict(self.headers)))
            reply = service.replies.get(self.path, Reply(404, b'{"error": "not found"}'))
            respond(self, reply.status, reply.body, reply.headers)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests assert on recorded requests instead."""

    with serving(Handler) as url:
        service.url = url
        yield service


# ---- a Prometheus exporter -------------------------------------------------------------------------

LABELS = 'model="fraud-card",env="production"'


def exposition(n: int) -> str:
    """The text format after ``n`` scrapes: every counter grows by a fixed step per scrape.

    Because all series grow in the same proportion, every ratio Prometheus computes from
    them (error rate, quantiles, bin fractions, caller shares) is exact whatever the
    timing: per scrape 40 calls (30 from card-gateway, 10 from web-shop), 2 errors;
    durations 10 ≤ 10 ms, 20 in (10, 50] ms, 8 in (50, 100] ms, 2 above; amounts 5 below
    100, 10 in [100, 500), 5 above; channels 6 web, 14 pos.
    """
    lines = [
        "# TYPE model_requests_total counter",
        f'model_requests_total{{{LABELS},caller="card-gateway"}} {30 * n}',
        f'model_requests_total{{{LABELS},caller="web-shop"}} {10 * n}',
        "# TYPE model_request_errors_total counter",
        f"model_request_errors_total{{{LABELS}}} {2 * n}",
        "# TYPE model_request_duration_seconds histogram",
    ]
    for le, count in (("0.01", 10), ("0.05", 30), ("0.1", 38), ("+Inf", 40)):
        lines.append(f'model_request_duration_seconds_bucket{{{LABELS},le="{le}"}} {count * n}')
    lines += [
        f"model_request_duration_seconds_sum{{{LABELS}}} {1.2 * n}",
        f"model_request_duration_seconds_count{{{LABELS}}} {40 * n}",
        "# TYPE process_resident_memory_bytes gauge",
        f"process_resident_memory_bytes{{{LABELS}}} {256 * 1048576}",
        "# TYPE process_cpu_seconds_total counter",
        f"process_cpu_seconds_total{{{LABELS}}} {0.5 * n}",
        "# TYPE model_live_precision gauge",
        f"model_live_precision{{{LABELS}}} 0.71",
        "# TYPE model_feature_amount histogram",
    ]
    for le, count in (("100", 5), ("500", 15), ("+Inf", 20)):
        lines.append(f'model_feature_amount_bucket{{{LABELS},le="{le}"}} {count * n}')
    lines += [
        f"model_feature_amount_sum{{{LABELS}}} {4000 * n}",
        f"model_feature_amount_count{{{LABELS}}} {20 * n}",
        "# TYPE model_feature_channel_total counter",
        f'model_feature_channel_total{{{LABELS},channel="web"}} {6 * n}',
        f'model_feature_channel_total{{{LABELS},channel="pos"}} {14 * n}',
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def exporter() -> Iterator[str]:
    """Serve ``/metrics``; each request is one scrape (the counters step once)."""
    scrapes = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                scrapes["n"] += 1
                body = exposition(scrapes["n"]).encode()
            respond(self, 200, body, {"Content-Type": "text/plain; version=0.0.4"})

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: Prometheus scrapes every second."""

    with serving(Handler) as url:
        yield url


# ---- a Prometheus server -----------------------------------------------------------------------------


def _get(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _wait(what: str, until: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode} while waiting for {what}:\n{log.read_text()[-3000:]}")
        if until():
            return
        time.sleep(0.25)
    pytest.fail(f"prometheus: {what} did not happen within {seconds:g} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serving_prometheus(
    binary: str, tmp: Path, config: str, data: Path, retention: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Prometheus on a free 127.0.0.1 port with ``config``, ready; stopped (and reaped) afterwards."""
    port = free_port()
    config_file = tmp / "prometheus.yml"
    config_file.write_text(config)
    log = tmp / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.retention.time={retention}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait("readiness", lambda: _ready(url), proc, log)
        yield url, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def prometheus(tmp: Path) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 scraping our exporter every second, with 8 scrapes in.

    Fails (never skips) when the binary is missing: CI installs Debian's ``prometheus``.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is not installed: `apt-get install prometheus` (as .ci/run does) to run these tests")
    with exporter() as target:
        config = (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: model\n"
            "    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: ['{urllib.parse.urlsplit(target).netloc}']\n"
        )
        with serving_prometheus(binary, tmp, config, tmp / "data", "1h") as (url, proc, log):
            query = urllib.parse.quote("count_over_time(model_request_errors_total[1m])")

            def scraped() -> bool:
                data = _get(f"{url}/api/v1/query?query={query}") or {}
                result = data.get("data", {}).get("result")  # type: ignore[union-attr]
                return bool(result) and float(result[0]["value"][1]) >= 8

            _wait("eight scrapes of the exporter", scraped, proc, log)
            yield url


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
