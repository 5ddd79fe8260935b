"""One rollout decision over 10 metrics and 1,000,000 samples per arm (issue 13): target ≤ 1 s.

The decision is :func:`mlrelease.rollout.decide.evaluate` on a real git registry: read
mlrelease.yaml and the release state at the branch tip, read the release file's history
(where the step began), judge every metric, decide. The telemetry source's own response
time is excluded: the source hands back per-arm figures it already holds, in the shapes
real sources deliver them — rates as counts, means as (count, mean, sd), distributions as
histogram buckets (Prometheus' form). Per arm and per metric there are 1,000,000 samples:

- 4 rates (error rate, detection rate, ...): 1,000,000 trials each;
- 3 means (basket value, ...): count 1,000,000;
- 3 distributions: latency over 40 buckets, 100 buckets, and a 400-bucket
  (native-histogram-like) score distribution.

``--raw`` replaces the 400-bucket distribution by 1,000,000 raw samples per arm (the
shape a file or http-json source could give for a small window: here far beyond what a
1 MiB file holds), to show what the judge costs when it must rank every value itself.

Reported: wall and CPU time per decision (median of ``--reps``), and the load average
before and after, since the machine may be shared.

Run: ``.venv/bin/python -m bench.rollout_bench [--reps 15] [--raw]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlrelease.registry.loader import Registry
from mlrelease.registry.observations import Histogram, Mean, Observation, Rate, Samples
from mlrelease.registry.types import Environment, Telemetry
from mlrelease.registry.yamlsafe import dump
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.rollout.decide import evaluate
from mlrelease.telemetry.arms import ArmFigures

N = 1_000_000
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RATES = ("error_rate", "value_detection_rate", "alert_rate", "chargeback_rate")
MEANS = ("basket_value", "false_positive_ratio", "review_minutes")
DISTRIBUTIONS = {"latency_ms": 40, "queue_ms": 100, "score": 400}


def _histogram(buckets: int, shift: float, rng: random.Random) -> Histogram:
    edges = tuple(float(i + 1) for i in range(buckets))
    weights = [rng.random() * (1.0 + shift * i / buckets) * (1 - abs(i - buckets / 3) / buckets) for i in range(buckets + 1)]
    total = sum(weights)
    counts = [round(N * w / total) for w in weights]
    counts[-1] += N - sum(counts)
    return Histogram(edges, tuple(float(c) for c in counts))


def figures(seed: int, *, raw: bool) -> dict[str, Observation]:
    rng = random.Random(seed)
    out: dict[str, Observation] = {}
    for i, name in enumerate(RATES):
        out[name] = Rate(float(round(N * (0.001 + 0.01 * i) * (1 + 0.02 * seed))), float(N))
    for name in MEANS:
        out[name] = Mean(float(N), 50.0 + seed * 0.05, 12.0)
    for name, buckets in DISTRIBUTIONS.items():
        out[name] = _histogram(buckets, 0.01 * seed, rng)
    if raw:
        out["score"] = Samples(tuple(rng.gauss(0.4 + 0.001 * seed, 0.15) for _ in range(N)))
    return out


class HeldSource:
    """A source whose figures are already in memory: the benchmark measures the decision, not a server."""

    type_name = "held"
    reaches_out = False
    name = "held"

    def __init__(self, arms: dict[str, ArmFigures]) -> None:
        self.arms = arms

    def arm_figures(
        self, model: str, environment: str, versions: tuple[str, ...], since: datetime, until: datetime
    ) -> dict[str, ArmFigures]:
        return self.arms

    def fetch(self, model: str, environment: str, *, history: bool) -> Telemetry | None:
        return None

    def describe(self) -> str:
        return "figures held in memory"

    def close(self) -> None:
        pass


def registry(root: Path) -> None:
    import subprocess

    metrics: dict[str, Any] = {name: {"type": "rate", "tolerance": {"absolute": 0.002}} for name in RATES if name != "error_rate"}
    metrics["error_rate"] = {"tolerance": {"absolute": 0.002}, "critical": True}
    metrics.update({name: {"type": "mean", "tolerance": {"relative": 0.02}} for name in MEANS})
    metrics.update({name: {"type": "distribution", "tolerance": {"relative": 0.05}} for name in DISTRIBUTIONS if name != "latency_ms"})
    metrics["latency_ms"] = {"tolerance": {"relative": 0.05}, "critical": True}
    catalogue = {
        name: {"goal": "min" if name != "value_detection_rate" else "max"}
        for name in (*RATES, *MEANS, *DISTRIBUTIONS)
        if name not in ("error_rate", "latency_ms")
    }
    config = {
        "version": 1,
        "metrics": catalogue,
        "environments": [
            {
                "name": "production",
                "backend": "record",
                "rollout": {"steps": [{"weight": 10, "hold": "1h"}, {"weight": 50, "hold": "2h"}], "analysis": {"metrics": metrics}},
            }
        ],
        "backends": {"record": {"type": "record"}},
    }
    files = {
        "mlrelease.yaml": config,
        "models/fraud-card/model.yaml": {"name": "fraud-card", "owner": "fraud"},
    }
    for v in ("1.0.0", "1.1.0"):
        files[f"models/fraud-card/versions/{v}.yaml"] = {
            "model": "fraud-card",
            "version": v,
            "created": "2026-03-01T10:00:00Z",
            "author": "Bench <bench@example.com>",
            "artifact": {"uri": f"s3://m/fraud-card/{v}/"},
        }
    files["releases/production/fraud-card.yaml"] = {
        "model": "fraud-card",
        "environment": "production",
        "desired": {"version": "1.0.0", "promotion_id": "p-1", "action": "promote", "actor": "B <b@x>", "at": "2026-03-01T09:00:00Z"},
        "observed": {"phase": "Succeeded", "promotion_id": "p-1", "at": "2026-03-01T09:00:05Z", "backend": "record"},
        "live": {"version": "1.0.0", "promotion_id": "p-1", "since": "2026-03-01T09:00:05Z"},
    }
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(dump(data), encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench registry"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    os.environ.update({k: v for k, v in env.items() if k.startswith("GIT_")})
    service = ReleaseService(root, clock=lambda: T0)
    service.execute(service.prepare(Request("promote", "fraud-card", "1.1.0", "production", "bench canary", 10.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--raw", action="store_true", help="one distribution as 1,000,000 raw samples per arm")
    args = parser.parse_args()
    arms = {"1.0.0": ArmFigures("1.0.0", figures(0, raw=args.raw)), "1.1.0": ArmFigures("1.1.0", figures(1, raw=args.raw))}

    def held(env: Environment, reg: Registry) -> HeldSource:
        return HeldSource(arms)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        registry(root)
        now = T0 + timedelta(hours=1, minutes=5)
        load_before = os.getloadavg()
        walls, cpus = [], []
        result = None
        for _ in range(args.reps):
            wall, cpu = time.perf_counter(), time.process_time()
            with Registry(root, "refs/heads/main") as reg:
                result = evaluate(reg, "fraud-card", "production", now, sources=held)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        load_after = os.getloadavg()
    assert result is not None and result.judgement is not None
    print(
        f"rollout decision: {len(result.judgement.verdicts)} metrics, {N:,} samples per arm each{' (one as raw samples)' if args.raw else ''}"
    )
    for v in result.judgement.verdicts:
        print(f"  {v.metric:22} {v.test:22} n {v.n_champion:>11,.0f} / {v.n_challenger:>11,.0f}  {v.verdict}")
    print(f"decision: {result.decision.action}")
    print(
        f"wall per decision: median {statistics.median(walls) * 1000:.0f} ms (min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}) over {args.reps}"
    )
    print(f"CPU per decision:  median {statistics.median(cpus) * 1000:.0f} ms (this process; git children excluded)")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} ({os.cpu_count()} cores); target ≤ 1000 ms")


if __name__ == "__main__":
    main()
