"""`mlrelease check` and `mlrelease telemetry` end to end: real registries, real git, real HTTP.

The registry: fraud-card 1.0.0 live in production, trained 120 days ago (1.1.0 in
staging 30 days ago, 1.2.0 in dev 5 days ago), whose live
inputs drifted (channel PSI 0.960) and whose live precision fell from 0.850 to 0.710;
churn 0.2.0 live in production, trained 10 days ago, healthy. Policy: 90 days, PSI 0.2,
precision may drop 0.05, cadence 14 days.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, config, git, make_registry, three_environments, version, write
from tests.telemetry_servers import dead_url, hanging_server, json_service

NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = {"max_age_days": 90, "psi_threshold": 0.2, "metric_drop": {"precision": 0.05}, "cadence_days": 14}
TRAINING_PROFILE = {"rows": 1000, "features": {"channel": {"type": "categorical", "fractions": {"web": 0.3, "pos": 0.7}}}}
DRIFTED = {"rows": 500, "features": {"channel": {"type": "categorical", "fractions": {"web": 0.5, "pos": 0.4, "app": 0.1}}}}


def ago(days: float) -> str:
    return format_timestamp(NOW - timedelta(days=days))


def telemetry(model: str, env: str, *snapshots: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "environment": env, "snapshots": list(snapshots)}


def scenario(root: Path, *, environments: list[dict[str, Any]] | None = None) -> Path:
    make_registry(root)
    envs = environments or three_environments()
    write(root, "mlrelease.yaml", config(environments=envs, retrain={"backend": "record", "policy": POLICY}))
    write(root, "models/fraud-card/versions/1.0.0.yaml", version("fraud-card", "1.0.0", created=ago(120), profile=TRAINING_PROFILE))
    write(root, "models/fraud-card/versions/1.1.0.yaml", version("fraud-card", "1.1.0", f1=0.83, parent="1.0.0", created=ago(30)))
    write(root, "models/fraud-card/versions/1.2.0.yaml", version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0", created=ago(5)))
    write(root, "models/churn/versions/0.2.0.yaml", version("churn", "0.2.0", f1=0.65, created=ago(10), profile=TRAINING_PROFILE))
    write(
        root,
        "telemetry/production/fraud-card.yaml",
        telemetry(
            "fraud-card",
            "production",
            {"at": ago(2), "version": "1.0.0", "calls": 9000, "errors": 45, "metrics": {"precision": 0.80}},
            {
                "at": ago(1),
                "version": "1.0.0",
                "calls": 10000,
                "errors": 50,
                "latency_ms": {"p50": 12, "p95": 40, "p99": 95},
                "memory_mb": 512,
                "cpu": 0.75,
                "metrics": {"precision": 0.71},
                "callers": {"card-gateway": 7000, "web-shop": 3000},
                "profile": DRIFTED,
            },
        ),
    )
    write(
        root,
        "telemetry/production/churn.yaml",
        telemetry(
            "churn",
            "production",
            {"at": ago(1), "version": "0.2.0", "calls": 800, "errors": 1, "metrics": {"precision": 0.70}, "profile": TRAINING_PROFILE},
        ),
    )
    commit_all(root, "Telemetry and policy")
    return root


def run(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, root, *args, "--json")
    return code, json.loads(out)


def health_of(data: dict[str, Any], model: str, env: str) -> dict[str, Any]:
    return next(h for h in data["health"] if h["model"] == model and h["environment"] == env)


# ---- check ----------------------------------------------------------------------------------------


def test_check_lists_what_is_due_with_the_numbers_and_exits_8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, data = run_json(capsys, root, "check")
    assert code == 8
    assert [d["model"] for d in data["due"]] == ["fraud-card"]
    reasons = {r["rule"]: r for r in data["due"][0]["reasons"]}
    assert set(reasons) == {"age", "psi", "metric:precision"}
    assert reasons["age"]["value"] == pytest.approx(120, abs=0.01) and reasons["age"]["threshold"] == 90
    assert reasons["psi"]["value"] == pytest.approx(0.9601346, abs=1e-6)  # as computed by hand in test_drift
    assert reasons["metric:precision"]["value"] == pytest.approx(0.14)  # 0.85 at validation − 0.71 live
    fraud = health_of(data, "fraud-card", "production")
    assert fraud["status"] == "due"
    channel = fraud["drift"]["features"][0]
    assert channel["feature"] == "channel" and channel["moved"][0] == "app"
    assert health_of(data, "churn", "production")["status"] == "ok"
    # Not live there: no rows, no guesses.
    assert {(h["model"], h["environment"]) for h in data["health"]} == {
        ("fraud-card", "dev"),
        ("fraud-card", "staging"),
        ("fraud-card", "production"),
        ("churn", "production"),
    }
    # dev and staging have no telemetry files: unknown, but still judged on age.
    dev = health_of(data, "fraud-card", "dev")
    assert dev["status"] == "unknown" and "no figures for 1.2.0 from telemetry files in the registry" in dev["reasons"]


def test_check_text_output_and_exit_0_when_nothing_is_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, out, err = run(capsys, root, "check", "churn")
    assert code == 0, err
    assert "churn" in out and "production" in out and " ok " in out
    assert "Nothing is due for retraining." in out
    code, out, _ = run(capsys, root, "check")
    assert code == 8
    assert "trained 120.0 days ago (max 90)" in out
    assert "input drift in channel, PSI 0.960 ≥ 0.2 (moved most: app 0.0%→10.0%" in out
    assert "precision 0.710 live vs 0.850 at validation of 1.0.0, 0.14 worse (allowed 0.05)" in out


def test_check_trigger_is_idempotent_within_the_cadence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, first = run_json(capsys, root, "check", "--trigger", "--yes")
    assert code == 8  # started, and still due until a new version is live
    [started] = first["triggered"]
    assert started["status"] == "started" and started["trigger"] == "policy:age,psi,metric:precision"
    with Registry(root) as reg:
        [request] = reg.retrain_requests("fraud-card")
    assert request.trigger == "policy:age,psi,metric:precision" and request.phase == "Succeeded"
    assert "PSI 0.960" in request.reason and "trained 120.0 days ago" in request.reason
    log = git(root, "log", "--format=%B", "-n", "2")
    assert "Mlrelease-Action: retrain" in log and f"Mlrelease-Promotion-Id: {request.id}" in log
    head = git(root, "rev-parse", "HEAD")

    code, second = run_json(capsys, root, "check", "--trigger", "--yes")
    assert code == 8
    [skipped] = second["triggered"]
    assert skipped["status"] == "skipped" and request.id in skipped["message"]
    assert {r["rule"]: r["requested"]["id"] for r in second["due"][0]["reasons"]} == dict.fromkeys(
        ("age", "psi", "metric:precision"), request.id
    )
    assert git(root, "rev-parse", "HEAD") == head  # nothing new was recorded
    with Registry(root) as reg:
        assert len(reg.retrain_requests("fraud-card")) == 1


def test_a_new_rule_triggers_even_when_others_were_requested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    write(
        root,
        "retrain/fraud-card.yaml",
        {
            "model": "fraud-card",
            "requests": [{"id": "R1", "at": ago(3), "actor": "ci", "reason": "age", "trigger": "policy:age", "phase": "Succeeded"}],
        },
    )
    commit_all(root, "an earlier trigger")
    code, data = run_json(capsys, root, "check", "--trigger", "--yes")
    assert code == 8
    assert data["triggered"][0]["trigger"] == "policy:psi,metric:precision"


def test_a_failed_trigger_exits_5_and_is_tried_again_next_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    cfg = config(retrain={"backend": "trainer", "policy": POLICY})
    cfg["backends"]["trainer"] = {"type": "command", "argv": [sys.executable, "-c", "import sys; print('queue full'); sys.exit(3)"]}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "a trainer that refuses")
    code, out, _ = run(capsys, root, "check", "fraud-card", "--trigger", "--yes")
    assert code == 5
    assert "fraud-card" in out and "refused to start retraining fraud-card" in out  # the table, then what happened
    code, _, _ = run(capsys, root, "check", "fraud-card", "--trigger", "--yes")
    assert code == 5
    with Registry(root) as reg:
        assert [q.phase for q in reg.retrain_requests("fraud-card")] == ["Failed", "Failed"]  # a failure covers nothing


def test_trigger_without_a_retrain_backend_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    write(root, "mlrelease.yaml", config(retrain={"policy": POLICY}))
    commit_all(root, "no retrain backend")
    code, data = run_json(capsys, root, "check", "--trigger", "--yes")
    assert code == 1
    assert "retrain.backend is not set" in data["triggered"][0]["message"]
    assert data["due"][0]["model"] == "fraud-card"


def test_trigger_needs_yes_when_not_interactive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, _, err = run(capsys, root, "check", "--trigger")
    assert code == 2 and "add --yes" in err
    with Registry(root) as reg:
        assert reg.retrain_requests("fraud-card") == ()


def test_a_source_that_is_down_or_slow_leaves_the_rest_working(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with hanging_server() as slow:
        envs = [
            {"name": "dev", "backend": "record", "telemetry": {"type": "http-json", "url": dead_url() + "/{model}", "timeout": 2}},
            {"name": "staging", "requires": ["dev"], "backend": "record", "telemetry": {"type": "prometheus", "url": slow, "timeout": 0.3}},
            {"name": "production", "requires": ["staging"], "backend": "record"},
        ]
        root = scenario(tmp_path / "reg", environments=envs)
        code, out, err = run(capsys, root, "check")
    assert code == 8, err
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip().startswith("fraud-card ")}
    assert "unknown" in lines["dev"] and "connection refused" in lines["dev"]
    assert "unknown" in lines["staging"] and "within 0.3 s" in lines["staging"]
    assert "due" in lines["production"]  # the file source for production still answered
    assert "churn" in out


def test_http_json_figures_feed_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with json_service() as svc:
        svc.set_json(
            "/staging/fraud-card", [{"at": ago(0.5), "version": "1.1.0", "calls": 100, "errors": 9, "metrics": {"precision": 0.87}}]
        )
        envs = [
            {"name": "dev", "backend": "record"},
            {
                "name": "staging",
                "requires": ["dev"],
                "backend": "record",
                "telemetry": {"type": "http-json", "url": svc.url + "/{env}/{model}"},
            },
            {"name": "production", "requires": ["staging"], "backend": "record"},
        ]
        root = scenario(tmp_path / "reg", environments=envs)
        _, data = run_json(capsys, root, "check", "fraud-card", "--env", "staging")
    staging = health_of(data, "fraud-card", "staging")
    assert staging["status"] == "degraded"
    assert staging["reasons"] == ["error rate 9.0% (9 of 100 calls)"]
    assert staging["latest"]["metrics"] == {"precision": 0.87}


def test_drifting_degraded_and_stale_below_the_policy_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    # churn 0.2.0 has precision 0.700 at validation; the policy allows a drop of 0.05.
    #   channel web 0.3 → 0.5, pos 0.7 → 0.5: PSI = 0.2 · ln(0.5/0.3) + (−0.2) · ln(0.5/0.7)
    #                                            = 0.1021651 + 0.0672944 = 0.1694595 (0.1 ≤ PSI < 0.2: drifting)
    #   precision 0.670 live: 0.03 worse, more than half the allowed 0.05 (degraded)
    live = {"rows": 900, "features": {"channel": {"type": "categorical", "fractions": {"web": 0.5, "pos": 0.5}}}}
    write(
        root,
        "telemetry/production/churn.yaml",
        telemetry("churn", "production", {"at": ago(3), "version": "0.2.0", "calls": 800, "metrics": {"precision": 0.67}, "profile": live}),
    )
    commit_all(root, "churn drifts a little")
    code, data = run_json(capsys, root, "check", "churn")
    assert code == 0  # nothing is due
    churn = health_of(data, "churn", "production")
    assert churn["status"] == "degraded"
    assert churn["reasons"][0] == "precision 0.670 live vs 0.700 at validation (worse by 0.03; due at 0.05)"
    assert churn["reasons"][1].startswith("channel PSI 0.169 (moderate; moved most: web 30.0%→50.0%")
    assert churn["drift"]["max_psi"] == pytest.approx(0.1694595, abs=1e-6)
    assert churn["notes"][0].startswith("newest figures are 3.0 days old")


def test_registry_problems_exit_1_and_the_rest_still_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    write(root, "telemetry/production/churn.yaml", "model: churn\nenvironment: production\nsnapshots:\n  - at: not-a-time\n")
    code, out, err = run(capsys, root, "check")
    assert code == 1
    assert "telemetry/production/churn.yaml:4: 'snapshots[0].at' must be an ISO 8601 time" in err
    assert "fraud-card" in out and "due" in out


def test_a_misconfigured_source_is_a_registry_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    envs = [{"name": "production", "backend": "record", "telemetry": {"type": "graphite"}}]
    root = tmp_path / "reg"
    make_registry(root)
    write(root, "mlrelease.yaml", config(environments=envs))
    code, data = run_json(capsys, root, "check")
    assert code == 1
    assert "type 'graphite', which is not installed" in data["problems"][0]["message"]
    assert {h["status"] for h in data["health"]} == {"unknown"}


def test_unknown_names_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, _, err = run(capsys, root, "check", "--env", "nowhere")
    assert code == 1 and "no environment 'nowhere'" in err
    code, _, err = run(capsys, root, "check", "nosuchmodel")
    assert code == 1 and "no model 'nosuchmodel'" in err


# ---- telemetry ------------------------------------------------------------------------------------


def test_telemetry_shows_figures_over_time_and_the_drift_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    code, out, err = run(capsys, root, "telemetry", "fraud-card", "--env", "production")
    assert code == 0, err
    assert "Figures over time" in out and "10,000" in out and "0.50%" in out and "card-gateway 7,000" in out
    assert "Drift (training profile from the version manifest" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("channel"))
    assert "0.960" in row and "significant" in row and "app 0.0%→10.0%" in row
    assert "Live metrics vs validation" in out


def test_telemetry_json_and_hostile_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario(tmp_path / "reg")
    write(
        root,
        "telemetry/production/churn.yaml",
        telemetry("churn", "production", {"at": ago(1), "calls": 5, "callers": {"\x1b[31mevil\x1b[0m [bold]app[/]": 5}}),
    )
    code, out, _ = run(capsys, root, "telemetry", "churn")
    assert code == 0
    assert "\x1b" not in out and "\\x1b[31mevil" in out and "[bold]app[/]" in out
    code, data = run_json(capsys, root, "telemetry", "fraud-card")
    production = next(e for e in data["environments"] if e["environment"] == "production")
    assert [s["calls"] for s in production["snapshots"]] == [9000, 10000]
    assert production["drift"]["features"][0]["bins"][2] == {
        "bin": "app",
        "expected": 0.0,
        "actual": 0.1,
        "delta": 0.1,
        "contribution": pytest.approx(0.6900848, abs=1e-6),
    }


def test_the_commands_are_listed_in_help() -> None:
    proc = subprocess.run([str(Path(__file__).parents[1] / ".venv/bin/mlrelease"), "--help"], capture_output=True, text=True, check=False)
    assert "check" in proc.stdout and "telemetry" in proc.stdout
