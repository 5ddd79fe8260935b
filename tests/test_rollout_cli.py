"""`mlrelease rollout` and `mlrelease ab` end to end on real git registries (file telemetry, the real clock).

The canary is started "two hours ago" through the service with a clock, so the CLI's
looks (at the real now) find the hold over and judge snapshots of the last hour.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.release.plan import Request
from tests.builders import git
from tests.release_helpers import commits_since, head, state_at
from tests.rollout_helpers import World, world


def cli(capsys: pytest.CaptureFixture[str], w: World, *args: str) -> tuple[int, str, str]:
    rc = main(["--repo", str(w.root), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def started(tmp_path: Path, *, bad: bool = False, strategy: dict[str, object] | None = None) -> World:
    w = world(tmp_path, strategy)
    now = datetime.now(UTC).replace(microsecond=0)
    w.clock.now = now - timedelta(hours=2)
    w.start()
    w.traffic(now - timedelta(hours=1), champion=(90_000, 90), challenger=(10_000, 400 if bad else 9), caught=(1800, 2000))
    return w


def test_a_dry_run_shows_the_judgement_and_the_plan_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    before = git(w.root, "for-each-ref")
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--dry-run", "--json")
    data = json.loads(out)
    assert rc == 0 and data["exit_code"] == 0 and data["dry_run"] is True
    assert data["decision"]["action"] == "advance" and data["plans"][0]["canary_weight"] == 50
    assert {m["metric"]: m["verdict"] for m in data["analysis"]["metrics"]} == {
        "error_rate": "pass",
        "latency_ms": "pass",
        "value_detection_rate": "pass",
    }
    assert data["rollout"]["step"] == 1 and data["rollout"]["steps"] == 2 and data["rollout"]["weights"] == [10, 50]
    assert git(w.root, "for-each-ref") == before
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--dry-run")
    assert rc == 0 and "two-proportion z-test" in out and "Mann-Whitney U" in out and "on to 50%" in out
    assert "Commits that would be written" in out


def test_acting_advances_and_running_again_does_nothing_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    before = head(w.root)
    rc, out, err = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--yes", "--json")
    data = json.loads(out)
    assert rc == 0, err
    assert [a["result"]["status"] for a in data["actions"]] == ["done"]
    assert [t["action"] for _, t in commits_since(w.root, before)] == ["promote", "outcome"]
    after = head(w.root)
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--yes")
    assert rc == 0 and "holding until" in out and head(w.root) == after


def test_a_critical_failure_exits_9_with_the_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path, bad=True)
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--dry-run", "--json")
    assert rc == 9 and json.loads(out)["decision"]["action"] == "abort"
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--yes", "--json")
    data = json.loads(out)
    assert rc == 9 and data["exit_code"] == 9
    assert [a["plan"]["action"] for a in data["actions"]] == ["reject", "rollback"]
    assert "error_rate fail" in data["actions"][1]["plan"]["reason"]
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and state.live.canary is None and state.pin is not None


def test_ab_reports_as_a_table_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "production", "--json")
    data = json.loads(out)
    assert rc == 0
    er = next(m for m in data["analysis"]["metrics"] if m["metric"] == "error_rate")
    assert er["test"] == "two-proportion z-test" and er["samples"] == {"champion": 90000.0, "challenger": 10000.0, "minimum": 500}
    assert er["interval"][0] < er["delta"] < er["interval"][1] and 0 <= er["p_value"] <= 1
    assert [d["version"] for d in data["drift"]] == ["1.0.0", "1.1.0"]
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "production", "--format", "markdown")
    assert rc == 0 and out.startswith("### A/B: fraud-card in production") and "| Metric | Verdict |" in out
    assert "**Next `mlrelease rollout`:**" in out
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "production")
    assert rc == 0 and "Challenger vs champion (95% confidence intervals)" in out and "error_rate (critical)" in out


def test_ab_without_a_strategy_judges_the_built_in_figures_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "staging", "--json")
    assert rc == 0 and json.loads(out)["decision"]["action"] == "idle"
    assert "no rollout strategy" in json.loads(out)["notes"][0]


def test_an_inconclusive_metric_tells_how_many_more_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = world(tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    w.clock.now = now - timedelta(hours=2)
    w.start()
    w.traffic(now - timedelta(hours=1))  # 1,000 challenger calls: too few to tell 0.1% from 0.3%
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "production", "--json")
    er = next(m for m in json.loads(out)["analysis"]["metrics"] if m["metric"] == "error_rate")
    assert er["verdict"] == "inconclusive" and er["more_samples"]["challenger"] > 0
    rc, out, _ = cli(capsys, w, "ab", "fraud-card", "--env", "production")
    assert rc == 0 and "more challenger and" in out and "samples would settle it" in out


def test_all_looks_at_every_active_rollout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    rc, out, _ = cli(capsys, w, "rollout", "--all", "--yes", "--json")
    data = json.loads(out)
    assert rc == 0 and [r["model"] for r in data["rollouts"]] == ["fraud-card"] and data["exit_code"] == 0
    rc, out, _ = cli(capsys, w, "rollout", "--all", "--yes", "--json")
    assert rc == 0 and json.loads(out)["rollouts"][0]["decision"]["action"] == "hold"


def test_a_person_starts_pauses_resumes_and_advances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = world(tmp_path)
    rc, out, err = cli(capsys, w, "rollout", "fraud-card@1.1.0", "--env", "production", "--reason", "new features", "--yes")
    assert rc == 0, err
    live = state_at(w.root, "production", "fraud-card").live
    assert live is not None and live.canary is not None and live.canary.weight == 10
    assert cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--pause", "--reason", "peak", "--yes")[0] == 0
    assert state_at(w.root, "production", "fraud-card").pin is not None
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--yes")
    assert rc == 0 and "paused" in out
    assert cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--resume", "--reason", "over", "--yes")[0] == 0
    rc, out, _ = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--advance", "--reason", "ops says go", "--yes", "--json")
    assert rc == 0 and json.loads(out)["actions"][0]["plan"]["canary_weight"] == 50


def test_watch_follows_a_time_based_rollout_to_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = world(tmp_path, {"steps": [{"weight": 10, "hold": "1s"}, {"weight": 50, "hold": "1s"}]})
    rc, out, err = cli(
        capsys, w, "rollout", "fraud-card@1.1.0", "--env", "production", "--reason", "go", "--yes", "--watch", "--interval", "0.2"
    )
    assert rc == 0, err
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert any("▰▱ fraud-card 1.1.0 step 1 of 2 · 10%" in line for line in lines), lines
    assert any("full promotion" in line for line in lines)
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and (state.live.version, state.live.canary) == ("1.1.0", None)


def test_readonly_refuses_to_act(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = started(tmp_path)
    before = head(w.root)
    rc, _, err = cli(capsys, w, "rollout", "fraud-card", "--env", "production", "--yes", "--readonly")
    assert rc == 7 and "read-only" in err and head(w.root) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollout", "fraud-card"], "rollout needs MODEL --env ENV (or --all)"),
        (["rollout", "--all", "fraud-card"], "--all looks at every active rollout"),
        (["rollout", "fraud-card", "--env", "production", "--watch", "--json"], "--watch is for a terminal"),
        (["rollout", "fraud-card", "--env", "production", "--abort", "--yes"], "rollout --abort needs --reason TEXT"),
        (["rollout", "fraud-card", "--env", "production", "--reason", " ", "--yes"], "--reason must not be empty"),
        (["rollout", "fraud-card", "--env", "production", "--interval", "0", "--yes"], "--interval must be more than 0"),
        (["rollout", "fraud-card", "--env", "production"], "stdin is not a terminal"),
        (["rollout", "fraud-card@1.1.0", "--env", "production", "--advance", "--yes"], "MODEL@VERSION starts a rollout"),
        (["rollout", "fraud-card@", "--env", "production", "--yes"], "MODEL@VERSION"),
    ],
)
def test_bad_command_lines_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    w = world(tmp_path)
    if "--abort" in args:
        service = w.service()
        service.execute(service.prepare(Request("promote", "fraud-card", "1.1.0", "production", "go", 10.0)))
    rc, _, err = cli(capsys, w, *args)
    assert rc == 2 and message in err, err


def test_unknown_environment_and_missing_strategy_are_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = world(tmp_path)
    rc, _, err = cli(capsys, w, "rollout", "fraud-card", "--env", "qa", "--yes")
    assert rc == 1 and "no environment 'qa'" in err
    rc, _, err = cli(capsys, w, "rollout", "fraud-card", "--env", "staging", "--yes")
    assert rc == 1 and "environment 'staging' has no rollout strategy" in err
