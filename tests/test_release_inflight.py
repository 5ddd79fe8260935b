"""Issue 9 items 6 and 7: after a kill -9, the clone is consistent and reconcile never deploys twice.

Real processes: ``mlrelease promote`` runs a ``command`` backend whose program (a small
Python script) outlives its parent; the test kills the parent with SIGKILL while the
child still runs, then runs ``mlrelease reconcile``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import commit_all, config, git, make_registry, write
from tests.cli_helpers import EXE, run_mlrelease

# Idempotent per promotion id, as the backend contract asks: a repeated call for an id
# already deployed does nothing. It waits for a "go" file so the test decides when it ends.
SCRIPT = """
import pathlib, sys, time
log, go, pid = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
with log.open("a") as fh:
    fh.write(f"start {pid}\\n")
if f"deployed {pid}" in log.read_text():
    sys.exit(0)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
with log.open("a") as fh:
    fh.write(f"deployed {pid}\\n")
"""


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _registry(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = make_registry(tmp_path / "registry", commit=False)
    script = tmp_path / "deploy.py"
    script.write_text(SCRIPT)
    log, go = tmp_path / "deploys.log", tmp_path / "go"
    cfg = config()
    cfg["backends"]["slow"] = {
        "type": "command",
        "argv": [sys.executable, str(script), str(log), str(go), "{promotion_id}"],
        "timeout": 120,
    }
    cfg["environments"][1]["backend"] = "slow"
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "staging deploys through a slow command")
    return root, log, go


def _starts(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("start ")] if log.exists() else []


def test_reconcile_waits_for_a_backend_child_that_outlived_a_kill(tmp_path: Path) -> None:
    root, log, go = _registry(tmp_path)
    proc = subprocess.Popen(
        [EXE, "--repo", str(root), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: len(_starts(log)) == 1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The child is still running (it waits for "go"): reconcile must not call the backend again.
    early = run_mlrelease(root, "reconcile", "--yes", "--json")
    assert len(_starts(log)) == 1, f"reconcile called the backend again while the first call ran: {log.read_text()}"
    assert early.returncode == 4, early.stderr
    assert "still running" in early.stdout
    state = git(root, "show", "HEAD:releases/staging/fraud-card.yaml")
    assert "phase: Pending" in state
    # Once the first call has ended, reconcile finishes it (the idempotent re-call deploys nothing new).
    go.write_text("")
    _wait_for(lambda: "deployed" in log.read_text())
    _wait_for(lambda: _children_gone(root))
    late = run_mlrelease(root, "reconcile", "--yes", "--json")
    assert late.returncode == 0, late.stdout + late.stderr
    deployed = [line for line in log.read_text().splitlines() if line.startswith("deployed ")]
    assert len(deployed) == 1, log.read_text()
    assert "phase: Succeeded" in git(root, "show", "HEAD:releases/staging/fraud-card.yaml")
    # item 6: the user's checkout agrees with the branch, with nothing staged or modified.
    assert git(root, "status", "--porcelain") == ""


def _children_gone(root: Path) -> bool:
    """No in-flight record names a live process group any more (the script has exited)."""
    folder = root / ".git" / "mlrelease" / "backends" / "slow" / "inflight"
    for record in folder.glob("*.json") if folder.is_dir() else ():
        pgid = json.loads(record.read_text()).get("pgid")
        if pgid:
            try:
                os.killpg(pgid, 0)
                return False
            except ProcessLookupError:
                continue
    return True


# ---- item 6: a kill between moving the branch and refreshing the checkout ------------------

GIT_THAT_KILLS = """#!/bin/sh
# Stands in for git: kills the mlrelease process that runs it when it refreshes the checkout.
for a in "$@"; do
  if [ "$a" = "checkout" ]; then kill -9 $PPID; exit 1; fi
done
exec {git} "$@"
"""


def test_a_kill_between_branch_and_checkout_is_repaired_on_the_next_run(tmp_path: Path) -> None:
    import shutil

    root = make_registry(tmp_path / "registry")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text(GIT_THAT_KILLS.format(git=shutil.which("git")))
    (fake / "git").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    args = [EXE, "--repo", str(root), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes"]
    killed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert "phase: Pending" in git(root, "show", "HEAD:releases/staging/fraud-card.yaml")  # the intent is on the branch
    # mlrelease's next run repairs the checkout itself: reconcile finishes the promotion.
    done = run_mlrelease(root, "reconcile", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "phase: Succeeded" in git(root, "show", "HEAD:releases/staging/fraud-card.yaml")
    assert git(root, "status", "--porcelain") == ""  # no staged change reverting the release
    again = run_mlrelease(root, "promote", "fraud-card@1.2.0", "--to", "production", "--reason", "go", "--yes", "--force")
    assert "uncommitted changes" not in again.stderr


def test_a_stale_index_lock_leaves_the_clone_consistent(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "registry")
    (root / ".git" / "index.lock").write_text("")
    proc = run_mlrelease(root, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert proc.returncode != 0 and "index.lock" in proc.stderr
    (root / ".git" / "index.lock").unlink()
    assert git(root, "status", "--porcelain") == ""  # nothing staged that would revert a release
    ok = run_mlrelease(root, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert ok.returncode == 0, ok.stderr
    assert git(root, "status", "--porcelain") == ""
