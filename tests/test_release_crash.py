"""Truth under failure: a real `mlrelease` process killed between steps, then `mlrelease reconcile`.

The backend is the test-only ``journal`` type, installed as a real ``mlrelease.backends``
entry point for the subprocesses; it SIGKILLs its own process at the chosen step, so the
crash is a real one (no cleanup code runs, the kernel drops the flock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import commit_all, config, git, write
from tests.release_backends import install_entry_point
from tests.release_helpers import head, state_at

MLRELEASE = Path(sys.executable).parent / "mlrelease"


@pytest.fixture
def world(repo: Path, tmp_path: Path) -> dict[str, object]:
    journal = tmp_path / "journal.log"
    cfg = config()
    cfg["backends"] = {"deploy": {"type": "journal", "journal": str(journal)}}
    for env in cfg["environments"]:
        env["backend"] = "deploy"
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "journal backend")
    return {"root": repo, "journal": journal, "env": install_entry_point(tmp_path / "site")}


def mlrelease(world: dict[str, object], *args: str, **knobs: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **world["env"], **knobs}  # type: ignore[dict-item]
    return subprocess.run(
        [str(MLRELEASE), "--repo", str(world["root"]), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def lines(world: dict[str, object], kind: str) -> list[str]:
    path = world["journal"]
    assert isinstance(path, Path)
    return [x for x in (path.read_text().splitlines() if path.exists() else []) if x.startswith(kind + " ")]


PROMOTE = ("promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes")


def test_killed_after_intent_then_reconcile_re_drives(world: dict[str, object]) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    crashed = mlrelease(world, *PROMOTE, JOURNAL_CRASH="before-execute")
    assert crashed.returncode == -9
    s = state_at(root, "production", "fraud-card")
    assert s.pending and s.live is not None and s.live.version == "1.0.0"  # Pending, never shown as live
    assert lines(world, "deploy") == []
    blocked = mlrelease(world, *PROMOTE)
    assert blocked.returncode == 4 and "still Pending" in blocked.stderr
    done = mlrelease(world, "reconcile", "--yes", "--json", JOURNAL_STATUS="unknown")
    assert done.returncode == 0, done.stderr
    item = json.loads(done.stdout)["result"]["items"][0]
    assert item["phase"] == "Succeeded" and "re-driven" in item["message"]
    s = state_at(root, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.observed is not None and s.observed.phase == "Succeeded"
    assert len(lines(world, "deploy")) == 1


def test_killed_after_intent_backend_says_never_received(world: dict[str, object]) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    assert mlrelease(world, *PROMOTE, JOURNAL_CRASH="before-execute").returncode == -9
    done = mlrelease(world, "reconcile", "--yes")
    assert done.returncode == 5 and "Failed (backend status)" in done.stdout + done.stderr
    s = state_at(root, "production", "fraud-card")
    assert s.failed and s.live is not None and s.live.version == "1.0.0"
    assert lines(world, "deploy") == []


@pytest.mark.parametrize("status", ["known", "unknown"])
def test_killed_after_deploy_before_outcome(world: dict[str, object], status: str) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    assert mlrelease(world, *PROMOTE, JOURNAL_CRASH="after-execute").returncode == -9
    assert len(lines(world, "deploy")) == 1
    s = state_at(root, "production", "fraud-card")
    assert s.pending and s.live is not None and s.live.version == "1.0.0"
    knobs = {"JOURNAL_STATUS": "unknown"} if status == "unknown" else {}
    done = mlrelease(world, "reconcile", "--yes", **knobs)
    assert done.returncode == 0, done.stderr
    s = state_at(root, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.observed is not None and s.observed.backend_ref == "journal:2"
    assert len(lines(world, "deploy")) == 1  # a re-drive with the same id does not deploy twice
    assert len(lines(world, "call")) == (2 if status == "unknown" else 1)
    again = mlrelease(world, *PROMOTE)
    assert again.returncode == 0 and "already live" in again.stdout


def test_backend_failure_exit_5_recorded_failed(world: dict[str, object]) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    failed = mlrelease(world, *PROMOTE, "--json", JOURNAL_FAIL="1")
    assert failed.returncode == 5
    data = json.loads(failed.stdout)
    assert data["result"]["phase"] == "Failed" and "far side said no" in failed.stderr
    s = state_at(root, "production", "fraud-card")
    assert s.failed and s.live is not None and s.live.version == "1.0.0"


def test_outcome_unrecordable_is_loud_and_recoverable(world: dict[str, object], tmp_path: Path) -> None:
    root = world["root"]
    assert isinstance(root, Path)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", "origin", str(bare))
    git(root, "push", "-q", "origin", "main")
    lost = mlrelease(world, *PROMOTE, "--push", JOURNAL_BREAK_REMOTE=str(bare))
    assert lost.returncode not in (0, -9)
    assert "the backend reported Succeeded" in lost.stderr and "recording it failed" in lost.stderr
    assert "mlrelease reconcile" in lost.stderr
    Path(str(bare) + ".away").rename(bare)
    s = state_at(bare, "production", "fraud-card")
    assert s.pending and s.live is not None and s.live.version == "1.0.0"  # the remote never claims it
    done = mlrelease(world, "reconcile", "--yes", "--push")
    assert done.returncode == 0, done.stderr
    s = state_at(bare, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0"
    assert head(bare) == head(root) and len(lines(world, "deploy")) == 1
