"""A real Prometheus holding a fixed history: OpenMetrics backfilled with ``promtool``, then served.

``promtool tsdb create-blocks-from openmetrics`` turns per-minute samples into TSDB
blocks; Prometheus started on that folder answers queries at any fixed ``time=`` exactly
the same way every run, so the rollout tests need no clock and no scraping.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.telemetry_servers import serving_prometheus

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1)  # seconds; plus +Inf


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def series(labels: dict[str, str], start: int, minutes: int, *, calls: int, errors: int, latency: Sequence[float]) -> dict[str, list[str]]:
    """OpenMetrics sample lines per family for one version: per-minute counters growing by ``calls``/``errors``.

    ``latency``: the share of calls in each bucket of :data:`BUCKETS` and above (6 shares).
    """
    out: dict[str, list[str]] = {"model_requests": [], "model_request_errors": [], "model_request_duration_seconds": []}
    per_bucket = [round(calls * s) for s in latency]
    per_bucket[-1] += calls - sum(per_bucket)
    base = _labels(labels)
    for i in range(minutes + 1):
        t = start + 60 * i
        out["model_requests"].append(f"model_requests_total{{{base}}} {calls * i} {t}")
        out["model_request_errors"].append(f"model_request_errors_total{{{base}}} {errors * i} {t}")
        cumulative = 0
        for le, n in zip([*map(str, BUCKETS), "+Inf"], per_bucket, strict=True):
            cumulative += n
            out["model_request_duration_seconds"].append(f'model_request_duration_seconds_bucket{{{base},le="{le}"}} {cumulative * i} {t}')
        out["model_request_duration_seconds"].append(f"model_request_duration_seconds_count{{{base}}} {calls * i} {t}")
        out["model_request_duration_seconds"].append(f"model_request_duration_seconds_sum{{{base}}} {calls * i * 0.02} {t}")
    return out


def openmetrics(parts: Sequence[dict[str, list[str]]]) -> str:
    """One document: each family's samples together (OpenMetrics forbids interleaving), then ``# EOF``."""
    kinds = {"model_requests": "counter", "model_request_errors": "counter", "model_request_duration_seconds": "histogram"}
    lines = []
    for family, kind in kinds.items():
        lines.append(f"# TYPE {family} {kind}")
        for part in parts:
            lines.extend(part[family])
    return "\n".join([*lines, "# EOF", ""])


@contextlib.contextmanager
def backfilled_prometheus(tmp: Path, document: str) -> Iterator[str]:
    """Prometheus on 127.0.0.1 over blocks made from ``document``; fails (never skips) without the binaries."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        pytest.fail("prometheus and promtool are not installed: `apt-get install prometheus` (as .ci/run does) to run these tests")
    source, data = tmp / "history.om", tmp / "data"
    source.write_text(document, encoding="utf-8")
    made = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"promtool could not backfill: {made.stderr[-2000:]}")
    # The history is in the past: a long retention keeps it.
    with serving_prometheus(binary, tmp, "global:\n  scrape_interval: 1m\n", data, "100y") as (url, _proc, _log):
        yield url
