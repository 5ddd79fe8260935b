"""Registries with a rollout strategy, per-version telemetry and a clock, for the rollout tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlrelease.registry.fields import format_timestamp
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.rollout.run import Rollouts
from tests.builders import commit_all, config, make_registry, write

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning: no window gate in the way

STRATEGY: dict[str, Any] = {
    "steps": [{"weight": 10, "hold": "1h"}, {"weight": 50, "hold": "2h"}],
    "max_duration": "2d",
    "analysis": {
        "significance": 0.05,
        "min_samples": 500,
        "metrics": {
            "error_rate": {"tolerance": {"absolute": 0.002}, "critical": True},
            "latency_ms": {"tolerance": {"relative": 0.2}, "critical": True, "min_samples": 200},
            "value_detection_rate": {"type": "rate", "tolerance": {"absolute": 0.03}, "min_samples": 100},
        },
    },
}

EDGES = [5, 10, 20, 40, 80]


def latency(shift: int = 0, n: int = 1000) -> dict[str, Any]:
    """A latency histogram on EDGES; ``shift`` moves mass to slower buckets."""
    base = [0.05, 0.35, 0.35, 0.15, 0.07, 0.03]
    if shift:
        base = [0.0] * shift + base[: len(base) - shift]
        base[-1] += 1 - sum(base)
    return {"edges": EDGES, "counts": [round(n * b) for b in base]}


def snapshot(
    at: datetime, version: str, *, calls: int, errors: int, shift: int = 0, caught: tuple[int, int] = (180, 200)
) -> dict[str, Any]:
    return {
        "at": format_timestamp(at),
        "version": version,
        "calls": calls,
        "errors": errors,
        "observations": {"latency_ms": latency(shift, calls), "value_detection_rate": {"events": caught[0], "trials": caught[1]}},
    }


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """A registry with fraud-card 1.0.0 live in production and 1.1.0 (live in staging) as the challenger."""

    root: Path
    clock: Clock = field(default_factory=Clock)
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    def service(self, **kw: Any) -> ReleaseService:
        return ReleaseService(self.root, clock=self.clock, **kw)

    def rollouts(self, **kw: Any) -> Rollouts:
        return Rollouts(self.service(**kw))

    def telemetry(self, *snaps: dict[str, Any]) -> None:
        self.snapshots.extend(snaps)
        write(
            self.root,
            "telemetry/production/fraud-card.yaml",
            {"model": "fraud-card", "environment": "production", "snapshots": self.snapshots},
        )
        commit_all(self.root, "Telemetry export")

    def traffic(
        self,
        at: datetime,
        *,
        champion: tuple[int, int] = (9000, 9),
        challenger: tuple[int, int] = (1000, 1),
        shift: int = 0,
        caught: tuple[int, int] = (180, 200),
    ) -> None:
        self.telemetry(
            snapshot(at, "1.0.0", calls=champion[0], errors=champion[1], caught=(1800, 2000) if caught[1] >= 1000 else (180, 200)),
            snapshot(at, "1.1.0", calls=challenger[0], errors=challenger[1], shift=shift, caught=caught),
        )

    def start(self) -> None:
        result = self.service().execute(self.service().prepare(Request("promote", "fraud-card", "1.1.0", "production", "start", 10.0)))
        assert result.status == "done", result.message

    def later(self, **delta: float) -> datetime:
        self.clock.now = self.clock.now + timedelta(**delta)
        return self.clock.now


def world(tmp_path: Path, strategy: dict[str, Any] | None = None, **env: Any) -> World:
    root = make_registry(tmp_path / "registry")
    cfg = config()
    cfg["environments"][2] = {"name": "production", "requires": ["staging"], "backend": "record", "rollout": strategy or STRATEGY, **env}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Rollout strategy for production")
    return World(root)


def run(w: World, confirm: Callable[[Any], bool] = lambda plan: True) -> Any:
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    return rollouts.act(evaluation, evaluation.decision, confirm)
