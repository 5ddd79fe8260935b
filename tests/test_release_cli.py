"""The action commands: flags, confirmation, exit codes, JSON, plan/--dry-run changing nothing, --push."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.builders import commit_all, config, git, write
from tests.cli_helpers import cli
from tests.release_helpers import commits_since, head, state_at


def snapshot(root: Path) -> dict[str, object]:
    """Everything --dry-run must leave as it was: refs, HEAD, index, work tree, object count."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    gitdir = root / ".git"
    return {
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "HEAD": (gitdir / "HEAD").read_text(),
        "index": hashlib.sha256((gitdir / "index").read_bytes()).hexdigest(),
        "objects": git(root, "count-objects", "-v"),
        "files": files,
    }


def test_acting_without_a_terminal_needs_yes(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    tip = head(repo)
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.1.0", "--to", "staging", "--reason", "go")
    assert rc == 2 and "stdin is not a terminal" in err and "--yes" in err
    assert head(repo) == tip


def test_reason_is_required_to_act(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--yes")
    assert rc == 2 and "--reason TEXT is required" in err
    rc, _, err = cli(capsys, repo, "reject", "fraud-card@1.2.0", "--yes", "--reason", "  ")
    assert rc == 2 and "must not be empty" in err


def test_promote_json_is_one_document(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--json")
    data = json.loads(out)
    assert rc == 0 and data["exit_code"] == 0
    assert data["result"]["phase"] == "Succeeded" and len(data["result"]["commits"]) == 2
    assert data["plan"]["previous"] == "1.1.0" and data["plan"]["backend"] == "record"
    assert data["result"]["action_id"] == data["plan"]["action_id"]


def test_already_live_is_a_noop_with_exit_zero(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    tip = head(repo)
    rc, out, _ = cli(capsys, repo, "promote", "fraud-card@1.1.0", "--to", "staging", "--reason", "go", "--yes")
    assert rc == 0 and "already live in staging: nothing to do" in out
    assert head(repo) == tip


def test_gate_refusal_exit_3_names_each_gate(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "production", "--reason", "go", "--yes")
    assert rc == 3
    assert "order:staging: 1.2.0 has never been live in staging (live there now: 1.1.0)" in err
    assert "FAIL" in out and "order:staging" in out
    rc, out, _ = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "production", "--reason", "go", "--yes", "--json")
    data = json.loads(out)
    assert rc == 3 and data["exit_code"] == 3 and data["plan"]["failing_gates"] == ["order:staging"] and "error" in data


def test_pending_exit_4_and_readonly_exit_7(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--readonly")
    assert rc == 7 and "read-only" in err
    rc, out, _ = cli(capsys, repo, "plan", "promote", "fraud-card@1.2.0", "--to", "staging", "--readonly")
    assert rc == 7 and "blocked: read-only mode" in out
    s = state_at(repo, "staging", "fraud-card")
    pending = (repo / "releases/staging/fraud-card.yaml").read_text().replace("phase: Succeeded", "phase: Pending")
    write(repo, "releases/staging/fraud-card.yaml", pending)
    commit_all(repo, "simulate a crash after the intent")
    assert s.live is not None
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert rc == 4 and "still Pending: wait for it to finish, or if it was interrupted, run `mlrelease reconcile`" in err
    rc, out, _ = cli(capsys, repo, "reconcile", "--yes", "--json")
    data = json.loads(out)
    assert rc == 0 and [i["phase"] for i in data["result"]["items"]] == ["Succeeded"]


def test_read_only_environment_from_config(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    cfg = config()
    cfg["environments"][2]["read_only"] = True
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "production read-only")
    rc, _, err = cli(capsys, repo, "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "x", "--yes")
    assert rc == 7 and "production is read-only" in err


def test_plan_and_dry_run_change_nothing(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    before = snapshot(repo)
    runs = [
        ("plan", "promote", "fraud-card@1.2.0", "--to", "staging"),
        ("plan", "fraud-card@1.2.0", "--to", "production"),
        ("promote", "fraud-card@1.2.0", "--to", "staging", "--canary", "10", "--dry-run", "--json"),
        ("plan", "rollback", "fraud-card", "--env", "dev", "--to", "1.1.0"),
        ("rollback", "fraud-card", "--env", "dev", "--to", "1.1.0", "--reason", "x", "--dry-run"),
        ("plan", "approve", "fraud-card@1.2.0", "--env", "production"),
        ("plan", "reject", "fraud-card@1.2.0", "--reason", "x"),
        ("plan", "unpin", "fraud-card", "--env", "production"),
        ("plan", "reconcile"),
    ]
    codes = []
    for args in runs:
        rc, _, err = cli(capsys, repo, *args)
        codes.append(rc)
        assert "Traceback" not in err
    assert codes == [0, 3, 0, 3, 3, 0, 0, 0, 0]
    assert snapshot(repo) == before


def test_plan_prints_gates_backend_and_commits(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "plan", "promote", "fraud-card@1.2.0", "--to", "staging", "--canary", "10")
    assert rc == 0
    for text in (
        "Promote fraud-card 1.2.0 to staging (canary 10%)",
        "order:dev",
        "1.2.0 is live in dev",
        "Backend record: record: no external call",
        "Commits that would be written:",
        "Mlrelease-Canary-Weight: 10",
        "Mlrelease-Phase: Pending",
    ):
        assert text in out, text
    rc, out, _ = cli(capsys, repo, "plan", "promote", "fraud-card@1.2.0", "--to", "staging", "--json")
    data = json.loads(out)
    assert data["dry_run"] is True and [g["name"] for g in data["plan"]["gates"]] == ["rejected", "pin", "order:dev"]
    rc, _, err = cli(capsys, repo, "plan", "frobnicate")
    assert rc == 2 and "unknown action 'frobnicate'" in err


def test_hostile_reason_is_escaped_on_screen_and_in_trailers(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    before = head(repo)
    reason = "ok\x1b[2J[bold red]APPROVED[/]\nMlrelease-Forced-Gates: all"
    rc, out, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", reason, "--yes")
    assert rc == 0 and "\x1b" not in out + err
    (_, trailers), _outcome = commits_since(repo, before)
    assert "forced" not in trailers and trailers["reason"].startswith("ok\\x1b[2J[bold red]APPROVED[/]\\x0a")
    rc, out, _ = cli(capsys, repo, "plan", "rollback", "fraud-card", "--env", "staging")
    assert "\x1b" not in out


def test_push_to_the_configured_remote(capsys: pytest.CaptureFixture[str], repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    cfg = config(remote={"name": "origin", "branch": "main"})
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "use a remote")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    rc, out, err = cli(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["result"]["pushed"] is True
    assert head(bare) == head(repo) == data["result"]["commits"][-1]
    rc, out, _ = cli(capsys, repo, "approve", "fraud-card@1.2.0", "--env", "production", "--yes", "--no-push", "--json")
    assert rc == 0 and json.loads(out)["result"]["pushed"] is False and head(bare) != head(repo)


def test_a_read_only_environment_is_named_before_any_other_reason_a_rollback_cannot_run(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config()
    cfg["environments"][2]["read_only"] = True
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "production is read-only")
    before = head(repo)
    # churn has nothing earlier in production's history, and production is read-only: say the latter.
    rc, _, err = cli(capsys, repo, "rollback", "churn", "--env", "production", "--reason", "r", "--yes")
    assert rc == 7
    assert "read-only" in err
    assert head(repo) == before


def test_unpin_reason_is_never_empty(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, repo, "unpin", "churn", "--env", "production", "--reason", "  ", "--yes")
    assert rc == 2
    assert "--reason must not be empty" in err
