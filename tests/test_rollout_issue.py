"""Issue 13's starting point, through the public CLI only (these fail on 2c498d0 by assertion).

"Today a canary is a weight someone sets by hand and a person eyeballs charts; nothing
compares the challenger with the champion." Here a canary runs, per-version figures
are in the telemetry file, and the CLI must compare the arms and move the canary on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry.fields import format_timestamp
from tests.builders import commit_all, config, git, make_registry, write


def canary_registry(tmp_path: Path) -> Path:
    """fraud-card 1.0.0 live in production with 1.1.0 beside it at 10% since two hours ago."""
    root = make_registry(tmp_path / "registry")
    cfg = config()
    cfg["environments"][2]["rollout"] = {
        "steps": [{"weight": 10, "hold": "1h"}, {"weight": 50, "hold": "1h"}],
        "analysis": {"min_samples": 500, "metrics": {"error_rate": {"tolerance": {"absolute": 0.002}, "critical": True}}},
    }
    write(root, "mlrelease.yaml", cfg)
    now = datetime.now(UTC).replace(microsecond=0)
    began, seen = format_timestamp(now - timedelta(hours=2)), format_timestamp(now - timedelta(hours=1))
    canary = {"version": "1.1.0", "weight": 10}
    write(
        root,
        "releases/production/fraud-card.yaml",
        {
            "model": "fraud-card",
            "environment": "production",
            "desired": {"version": "1.0.0", "canary": canary, "promotion_id": "p-2", "action": "promote", "actor": "A <a@x>", "at": began},
            "observed": {"phase": "Succeeded", "promotion_id": "p-2", "at": began, "backend": "record"},
            "live": {"version": "1.0.0", "canary": canary, "promotion_id": "p-2", "since": began},
        },
    )
    write(
        root,
        "telemetry/production/fraud-card.yaml",
        {
            "model": "fraud-card",
            "environment": "production",
            "snapshots": [
                {"at": seen, "version": "1.0.0", "calls": 90_000, "errors": 90},
                {"at": seen, "version": "1.1.0", "calls": 10_000, "errors": 400},
            ],
        },
    )
    commit_all(root, "A canary and its figures")
    return root


def test_the_challenger_is_compared_with_the_champion_per_arm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = canary_registry(tmp_path)
    rc = main(["--repo", str(root), "ab", "fraud-card", "--env", "production", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    (error_rate,) = json.loads(out)["analysis"]["metrics"]
    assert error_rate["champion"] == pytest.approx(0.001) and error_rate["challenger"] == pytest.approx(0.04)
    assert error_rate["test"] == "two-proportion z-test" and error_rate["verdict"] == "fail"


def test_a_failing_canary_is_rolled_back_on_the_evidence_without_a_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = canary_registry(tmp_path)
    rc = main(["--repo", str(root), "rollout", "fraud-card", "--env", "production", "--yes"])
    capsys.readouterr()
    assert rc == 9
    release = (root / "releases/production/fraud-card.yaml").read_text()
    assert "canary" not in release.split("live:")[1] and "rollout of 1.1.0 aborted" in git(root, "log", "-3", "--format=%B")
