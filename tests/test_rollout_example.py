"""The demo's fraud-card canary is a rollout in progress with real A/B figures (issue 13, "Done when")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrelease import example
from mlrelease.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield example.build(tmp_path_factory.mktemp("demo") / "registry").root


def test_the_fraud_card_canary_is_a_rollout_with_real_figures(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(demo), "ab", "fraud-card", "--env", "production", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rollout = report["rollout"]
    assert (rollout["champion"], rollout["challenger"], rollout["weight"], rollout["step"], rollout["steps"]) == (
        "2.1.0",
        "2.2.0",
        10,
        1,
        3,
    )
    metrics = {m["metric"]: m for m in report["analysis"]["metrics"]}
    assert set(metrics) == {"error_rate", "latency_ms", "value_detection_rate", "false_positive_ratio"}
    assert metrics["error_rate"]["verdict"] == "pass" and metrics["latency_ms"]["verdict"] == "pass"
    assert metrics["error_rate"]["samples"]["challenger"] > 400_000 and metrics["error_rate"]["samples"]["champion"] > 4_000_000
    vdr = metrics["value_detection_rate"]
    assert vdr["verdict"] == "inconclusive" and vdr["more_samples"]["challenger"] > 0 and vdr["test"] == "two-proportion z-test"
    assert all(f["psi"] is not None for d in report["drift"] for f in d["features"])
    assert report["decision"]["action"] == "hold"


def test_the_demo_rollout_holds_and_says_why(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(demo), "rollout", "fraud-card", "--env", "production", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2.2.0 at 10% beside 2.1.0 (step 1 of 3)" in out and "value_detection_rate inconclusive" in out
