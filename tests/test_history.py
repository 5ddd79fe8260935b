"""History: events from trailers, derived from hand edits, filtered, paged; the history command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlrelease.cli.output
import mlrelease.registry.commitlog
from mlrelease.cli import main
from mlrelease.errors import MlreleaseError, NotFound
from mlrelease.registry.history import history
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message
from tests.builders import commit_all, config, git, make_registry, model, release, version, write

BOT = {"GIT_AUTHOR_NAME": "mlrelease-bot", "GIT_AUTHOR_EMAIL": "bot@example.com"}
EVE = {"GIT_AUTHOR_NAME": "Eve", "GIT_AUTHOR_EMAIL": "eve@example.com"}


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    rc = main(["--repo", str(root), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def events(root: Path, *args: object, ref: str | None = None, **kw: object) -> list:
    with Registry(root, ref) as reg:
        return history(reg, *args, **kw)  # type: ignore[arg-type]


def promote_state(ver: str, live: str, pid: str, phase: str) -> dict:
    state = release("fraud-card", "production", ver, promotion_id=pid, phase=phase)
    state["live"] = {"version": live, "promotion_id": pid if phase == "Succeeded" else "p-1", "since": "2026-03-05T10:00:00Z"}
    return state


@pytest.fixture
def hist(repo: Path) -> Path:
    """make_registry's two commits, then: promote (Pending), outcome, hand edit, reject, retrain, rollback."""
    write(repo, "releases/production/fraud-card.yaml", promote_state("1.2.0", "1.0.0", "p-2", "Pending"))
    fields = {
        "action": "promote",
        "model": "fraud-card",
        "version": "1.2.0",
        "environment": "production",
        "previous": "1.0.0",
        "promotion_id": "p-2",
        "phase": "Pending",
        "backend": "record",
        "actor": "Carol <carol@example.com>",
        "reason": "better f1",
    }
    commit_all(repo, format_message("Promote fraud-card 1.2.0 to production", fields), env=BOT)
    write(repo, "releases/production/fraud-card.yaml", promote_state("1.2.0", "1.2.0", "p-2", "Succeeded"))
    outcome = {
        "action": "outcome",
        "model": "fraud-card",
        "version": "1.2.0",
        "environment": "production",
        "promotion_id": "p-2",
        "phase": "Succeeded",
        "backend": "record",
        "backend_ref": "run-42",
    }
    commit_all(repo, format_message("Outcome of p-2: Succeeded", outcome), env=BOT)
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0"))
    commit_all(repo, "Register 1.3.0 (not a release event)")
    hand = release("fraud-card", "staging", "1.2.0", promotion_id="p-h")
    hand["desired"]["reason"] = "hotfix by hand"
    write(repo, "releases/staging/fraud-card.yaml", hand)
    commit_all(repo, "bump staging by hand", env=EVE)
    rejections = {"model": "churn", "rejected": [{"version": "0.1.0", "by": "Dana", "at": "2026-03-06T10:00:00Z", "reason": "leaky"}]}
    write(repo, "models/churn/rejections.yaml", rejections)
    commit_all(repo, "reject churn 0.1.0 by hand", env=EVE)
    retrain = {
        "model": "churn",
        "requests": [{"id": "r-1", "at": "2026-03-07T10:00:00Z", "actor": "Frank", "reason": "drift", "backend": "ci", "phase": "Pending"}],
    }
    write(repo, "retrain/churn.yaml", retrain)
    commit_all(repo, "request retrain by hand", env=EVE)
    write(repo, "releases/production/fraud-card.yaml", promote_state("1.0.0", "1.2.0", "p-3", "Pending"))
    rollback = {
        "action": "rollback",
        "model": "fraud-card",
        "version": "1.0.0",
        "environment": "production",
        "previous": "1.2.0",
        "promotion_id": "p-3",
        "phase": "Pending",
        "actor": "Carol <carol@example.com>",
        "forced": "approvals,windows",
        "reason": "fraud spike",
    }
    commit_all(repo, format_message("Roll back fraud-card in production to 1.0.0", rollback), env=BOT)
    return repo


def test_events_newest_first_from_trailers_and_hand_edits(hist: Path) -> None:
    evs = events(hist)
    assert [(e.action, e.model, e.environment) for e in evs] == [
        ("rollback", "fraud-card", "production"),
        ("retrain", "churn", None),
        ("reject", "churn", None),
        ("edit", "fraud-card", "staging"),
        ("outcome", "fraud-card", "production"),
        ("promote", "fraud-card", "production"),
        # make_registry's "Initial releases": four files created by hand, in path order
        ("edit", "fraud-card", "dev"),
        ("edit", "churn", "production"),
        ("edit", "fraud-card", "production"),
        ("edit", "fraud-card", "staging"),
    ]
    rollback, retrain, reject, edit, outcome, promote = evs[:6]
    assert (rollback.previous, rollback.version, rollback.forced, rollback.reason) == ("1.2.0", "1.0.0", "approvals,windows", "fraud spike")
    assert rollback.who == "Carol <carol@example.com>" and rollback.author == "mlrelease-bot <bot@example.com>"
    assert rollback.structured
    assert (outcome.phase, outcome.backend_ref, outcome.promotion_id) == ("Succeeded", "run-42", "p-2")
    assert (promote.previous, promote.version, promote.phase, promote.reason) == ("1.0.0", "1.2.0", "Pending", "better f1")
    # hand edits: derived from the before/after blobs
    assert not edit.structured and edit.who == "Eve <eve@example.com>"
    assert (edit.previous, edit.version) == ("1.1.0", "1.2.0")
    assert edit.note is not None and "live 1.1.0 → 1.2.0" in edit.note
    assert edit.reason == "hotfix by hand" and edit.path == "releases/staging/fraud-card.yaml"
    assert (reject.version, reject.who, reject.reason) == ("0.1.0", "Dana", "leaky")
    assert (retrain.reason, retrain.phase, retrain.backend, retrain.who) == ("drift", "Pending", "ci", "Frank")
    assert evs[-1].previous is None and evs[-1].version == "1.1.0"
    assert evs[0].at >= evs[-1].at and evs[0].at.tzinfo is not None


def test_filters_and_limit(hist: Path) -> None:
    assert [e.action for e in events(hist, "churn")] == ["retrain", "reject", "edit"]
    assert [e.action for e in events(hist, None, "production")] == ["rollback", "outcome", "promote", "edit", "edit"]
    assert [e.action for e in events(hist, "fraud-card", "production")] == ["rollback", "outcome", "promote", "edit"]
    assert [e.action for e in events(hist, limit=2)] == ["rollback", "retrain"]
    assert [e.action for e in events(hist, ref="HEAD~1", limit=1)] == ["retrain"]


def test_paging_keeps_reading_past_commits_without_events(hist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit can match the paths yet hold no event (a comment added); the limit must still be met.

    A rejection removed by hand is an event (an edit saying so: mlrelease never removes one).
    """
    write(hist, "models/churn/rejections.yaml", {"model": "churn", "rejected": []})
    commit_all(hist, "drop the rejection")
    write(hist, "retrain/churn.yaml", (hist / "retrain/churn.yaml").read_text() + "# a comment\n")
    commit_all(hist, "comment only")
    write(hist, "retrain/churn.yaml", (hist / "retrain/churn.yaml").read_text() + "# another\n")
    commit_all(hist, "another comment")
    monkeypatch.setattr(mlrelease.registry.commitlog, "FETCH", 1)
    [dropped] = events(hist, "churn", limit=1)
    assert dropped.action == "edit" and dropped.note is not None and "removed" in dropped.note
    assert [e.action for e in events(hist, "churn", limit=5)] == ["edit", "retrain", "reject", "edit"]


def test_deleted_and_unreadable_release_files(hist: Path) -> None:
    write(hist, "releases/dev/fraud-card.yaml", "model: fraud-card\nenvironment: [dev\n")
    commit_all(hist, "broken by hand")
    (hist / "releases/dev/fraud-card.yaml").unlink()
    commit_all(hist, "remove it")
    deleted, broken = events(hist, "fraud-card", "dev")[:2]
    assert deleted.note == "release state deleted"
    assert broken.note is not None and broken.note.startswith("unreadable after this commit: releases/dev/fraud-card.yaml:")
    assert broken.subject == "broken by hand"


def test_registry_in_a_subfolder(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    write(top, "README", "other things live here\n")
    make_registry(top / "ml")
    write(top, "releases/dev/fraud-card.yaml", "not: ours\n")  # outside the registry: not its history
    commit_all(top, "unrelated releases folder")
    evs = events(top / "ml")
    assert len(evs) == 4 and {e.path for e in evs} == {
        "releases/dev/fraud-card.yaml",
        "releases/staging/fraud-card.yaml",
        "releases/production/fraud-card.yaml",
        "releases/production/churn.yaml",
    }


def test_no_commits_yet_and_no_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "main")
    write(fresh, "mlrelease.yaml", config())
    rc, out, _ = cli(capsys, fresh, "history")
    assert rc == 0 and "No release events found." in out
    plain_dir = tmp_path / "nogit"
    write(plain_dir, "mlrelease.yaml", config())
    rc, _, err = cli(capsys, plain_dir, "history")
    assert rc == 1 and "not in a git repository" in err
    with Registry(fresh) as reg, pytest.raises(MlreleaseError, match="at least 1"):
        history(reg, limit=0)


def test_unknown_model_and_environment(hist: Path) -> None:
    with pytest.raises(NotFound, match="no model 'ghost'"):
        events(hist, "ghost")
    with pytest.raises(NotFound, match="no environment 'prod'"):
        events(hist, None, "prod")


# ---- the history command -------------------------------------------------------------------


def test_history_table(capsys: pytest.CaptureFixture[str], hist: Path) -> None:
    rc, out, _ = cli(capsys, hist, "history", "fraud-card")
    assert rc == 0
    lines = out.splitlines()
    assert "When" in lines[0] and "From → To" in lines[0]
    first = lines[2]
    assert "Carol <carol@example.com>" in first and "rollback" in first and "1.2.0 → 1.0.0" in first and "fraud spike" in first
    assert "forced gates: approvals,windows" in out
    assert "via mlrelease-bot <bot@example.com>" in out
    assert "(hand edit)" in out and "hotfix by hand" in out
    assert "Register 1.3.0" not in out


def test_history_json_shape(capsys: pytest.CaptureFixture[str], hist: Path) -> None:
    rc, out, _ = cli(capsys, hist, "history", "--env", "production", "--limit", "2", "--json")
    assert rc == 0
    evs = json.loads(out)["events"]
    assert [e["action"] for e in evs] == ["rollback", "outcome"]
    first = evs[0]
    assert first["who"] == "Carol <carol@example.com>"
    assert first["at"].endswith("Z")
    assert len(first["commit"]) == 40
    assert set(first) >= {
        "commit",
        "at",
        "author",
        "actor",
        "who",
        "action",
        "model",
        "environment",
        "previous",
        "version",
        "reason",
        "promotion_id",
        "phase",
        "backend",
        "backend_ref",
        "forced",
        "structured",
        "subject",
        "path",
        "note",
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["history", "ghost"], 1, "no model 'ghost'"),
        (["history", "--env", "qa"], 1, "no environment 'qa'"),
        (["--ref", "nowhere", "history"], 1, "nowhere"),
    ],
)
def test_history_errors(capsys: pytest.CaptureFixture[str], hist: Path, args: list[str], code: int, message: str) -> None:
    rc, out, err = cli(capsys, hist, *args)
    assert rc == code and message in err and out == ""


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_history_bad_limit_is_usage(hist: Path, limit: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--repo", str(hist), "history", "--limit", limit])
    assert exc.value.code == 2


def test_hostile_commit_text_is_shown_literally(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    hostile = "[bold]x[/bold] [/oops] [@click=app.quit] \x1b]0;title\x07 \x1b[2J \u202eevil"
    write(repo, "releases/dev/churn.yaml", release("churn", "dev", "0.1.0"))
    message = f"{hostile}\n\nReason: {hostile}\n"
    commit_all(repo, message, env={"GIT_AUTHOR_NAME": "[red]Mallory\x1b[2J", "GIT_AUTHOR_EMAIL": "m@example.com"})
    write(repo, "models/churn/model.yaml", model("churn", owner="team-crm"))
    fields = {"action": "promote", "model": "churn", "environment": "dev", "version": "0.2.0", "reason": hostile, "actor": hostile}
    write(repo, "releases/dev/churn.yaml", release("churn", "dev", "0.2.0", promotion_id="p-5"))
    commit_all(repo, format_message(hostile, fields))
    rc, out, err = cli(capsys, repo, "history", "churn")
    assert rc == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[/oops]" in out and "[@click=app.quit]" in out and "[red]Mallory\\x1b[2J" in out
    rc, out, _ = cli(capsys, repo, "history", "churn", "--json")
    assert out.isascii()
    assert json.loads(out)["events"][1]["reason"] == hostile


def test_repairing_a_broken_release_file_is_an_event(hist: Path) -> None:
    write(hist, "releases/dev/fraud-card.yaml", "model: [")
    commit_all(hist, "break")
    write(hist, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.3.0", promotion_id="p-r"))
    commit_all(hist, "repair")
    repaired = events(hist, "fraud-card", "dev")[0]
    assert repaired.version == "1.3.0" and repaired.previous is None
    assert repaired.note is not None and repaired.note.startswith("repaired (unreadable before)")


def test_history_table_stops_at_its_limit_and_says_so(
    capsys: pytest.CaptureFixture[str], hist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlrelease.cli.commands.history as command

    monkeypatch.setattr(command, "TABLE_LIMIT", 3)
    rc, out, _ = cli(capsys, hist, "history")
    assert rc == 0
    assert "… older events not shown" in out
    assert sum(1 for line in out.splitlines() if "Z " in line[:25]) == 3
    rc, out, _ = cli(capsys, hist, "history", "--limit", "4")
    assert "older events not shown" not in out
    assert sum(1 for line in out.splitlines() if "Z " in line[:25]) == 4
    assert len(json.loads(cli(capsys, hist, "history", "--json")[1])["events"]) == 10
