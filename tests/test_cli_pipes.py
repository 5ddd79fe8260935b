"""CLI output that never lies by omission (issue 15.6), run as a script would: through a real pipe.

Output to a pipe or a file is never cut with "…", whatever COLUMNS says; usage errors
with ``--json`` still print one JSON document on stdout; a no-op action says so once;
``unpin`` asks for a reason like every other action, and history records it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.builders import commit_all, config, release, write

MLRELEASE = str(Path(sys.executable).parent / "mlrelease")
LONG_ARG = "--version={version}-and-a-deliberately-long-suffix-that-cannot-fit-in-eighty-columns"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
    return subprocess.run(
        [MLRELEASE, "--repo", str(root), *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
    )


def long_registry(repo: Path) -> Path:
    cfg = config()
    cfg["backends"]["deploy"] = {"type": "command", "argv": ["./deploy/rollout.sh", "--model", "{model}", LONG_ARG]}
    cfg["environments"][1]["backend"] = "deploy"
    cfg["environments"][2]["gates"] = {"no_regression": {"value_detection_rate": None, "false_positive_ratio": None}}
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "a long backend and long gate names")
    return repo


def test_backends_into_a_pipe_is_never_cut(repo: Path) -> None:
    proc = run(long_registry(repo), "backends")
    assert proc.returncode in (0, 5), proc.stderr
    assert "…" not in proc.stdout, proc.stdout
    assert LONG_ARG in proc.stdout.replace("\n", ""), proc.stdout


def test_plan_gate_names_into_a_pipe_are_never_cut(repo: Path) -> None:
    proc = run(long_registry(repo), "plan", "promote", "fraud-card@1.1.0", "--to", "production")
    assert "…" not in proc.stdout, proc.stdout
    assert "no_regression:value_detection_rate" in proc.stdout and "no_regression:false_positive_ratio" in proc.stdout


def test_reconcile_into_a_pipe_is_never_cut(repo: Path) -> None:
    write(
        repo, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.2.0", promotion_id="p-" + "9" * 40, phase="Pending")
    )
    commit_all(repo, "a crash left this Pending")
    proc = run(repo, "reconcile", "--model", "fraud-card", "--dry-run")
    assert "…" not in proc.stdout, proc.stdout
    assert "p-" + "9" * 40 in proc.stdout


def test_a_usage_error_with_json_prints_a_json_document(repo: Path) -> None:
    for args in (["promote", "--json"], ["list", "--json", "--no-such-flag"], ["history", "--json", "--limit", "many"]):
        proc = run(repo, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout.lstrip().startswith("{"), f"no JSON document on stdout for {args}: {proc.stdout!r}"
        document = json.loads(proc.stdout)  # one document, nothing else on stdout
        assert document["exit_code"] == 2 and document["error"], args
        assert "usage:" in proc.stderr


def test_approving_twice_says_so_once(repo: Path) -> None:
    assert run(repo, "approve", "fraud-card@1.2.0", "--env", "production", "--yes").returncode == 0
    proc = run(repo, "approve", "fraud-card@1.2.0", "--env", "production", "--yes")
    assert proc.returncode == 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "already approved" in line]
    assert len(lines) == 1, proc.stdout + proc.stderr


def test_unpin_needs_a_reason_and_history_records_it(repo: Path) -> None:
    assert run(repo, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "setup", "--yes").returncode == 0
    assert run(repo, "rollback", "fraud-card", "--env", "production", "--reason", "precision dropped", "--yes").returncode == 0
    proc = run(repo, "unpin", "fraud-card", "--env", "production", "--yes")
    assert proc.returncode == 2 and "--reason" in proc.stderr
    assert run(repo, "unpin", "fraud-card", "--env", "production", "--reason", "fixed upstream", "--yes").returncode == 0
    events = json.loads(run(repo, "history", "fraud-card", "--json").stdout)
    unpin = next(e for e in events["events"] if e["action"] == "unpin")
    assert unpin["reason"] == "fixed upstream"
