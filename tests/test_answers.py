"""Kept answers (registry/answers.py, cli/kept.py) are the answers computed afresh, or are not used.

Every comparison is against the same command run with ``MLRELEASE_NO_ANSWERS=1`` (the
answer computed from the registry, nothing kept or replayed), on the same registry:
after the first run, after a second (replayed) run, after each kind of change a kept
answer must not survive (a new commit, an uncommitted edit, a staged one, an untracked
or ignored file, a work-tree mlrelease.yaml or model that history checks against), and
after damage to the kept file.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease import secrets
from mlrelease.cli.commands import history as history_command
from mlrelease.registry import answers, history
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import git_dir
from mlrelease.registry.trailers import format_message
from tests.builders import commit_all, config, git, release, version, write
from tests.cli_helpers import cli

READS = [
    ("list", "--json"),
    ("history", "--json"),
    ("history", "fraud-card", "--json"),
    ("history", "--env", "production", "--json"),
    ("history", "--limit", "1", "--json"),
]


def kept_files(root: Path) -> list[Path]:
    folder = git_dir(root) / "mlrelease" / "answers"
    return sorted(p for p in folder.glob("*.out")) if folder.is_dir() else []


def computed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, root: Path, *args: str) -> tuple[int, str, str]:
    with monkeypatch.context() as m:
        m.setenv("MLRELEASE_NO_ANSWERS", "1")
        before = kept_files(root)
        result = cli(capsys, root, *args)
        assert kept_files(root) == before  # switched off: nothing kept either
        return result


def same_as_computed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, root: Path, *args: str) -> str:
    rc, out, err = cli(capsys, root, *args)
    assert (rc, out, err) == computed(capsys, monkeypatch, root, *args)
    return out


def promote(root: Path, model: str, ver: str, env: str, when: datetime | None = None) -> str:
    write(root, f"releases/{env}/{model}.yaml", release(model, env, ver, promotion_id=f"p-{ver}-{env}"))
    fields = {"action": "promote", "model": model, "version": ver, "environment": env, "actor": "Alice <alice@example.com>"}
    stamp = {"GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat()} if when else None
    return commit_all(root, format_message(f"Promote {model} {ver} to {env}", fields), env=stamp)


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_an_answer_is_kept_once_and_replayed_as_computed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    first = same_as_computed(capsys, monkeypatch, repo, *args)
    assert len(kept_files(repo)) == 1
    assert same_as_computed(capsys, monkeypatch, repo, *args) == first  # replayed
    assert len(kept_files(repo)) == 1
    json.loads(first)


def test_what_is_printed_is_the_kept_answer_of_that_state_only(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay really is the file (a planted answer with a valid header shows), and a new commit has a new key."""
    cli(capsys, repo, "list", "--json")
    (kept,) = kept_files(repo)
    body = b'{"planted": true}\n'
    import zlib

    kept.write_bytes(answers._HEADER.format(format=answers.FORMAT, length=len(body), crc=zlib.crc32(body)).encode() + body)
    assert cli(capsys, repo, "list", "--json")[1] == body.decode()
    promote(repo, "fraud-card", "1.1.0", "staging")
    out = same_as_computed(capsys, monkeypatch, repo, "list", "--json")
    assert "planted" not in out
    staging = next(m for m in json.loads(out)["models"] if m["name"] == "fraud-card")["environments"]["staging"]
    assert staging["live"] == "1.1.0"


def _edit_release(root: Path) -> None:
    write(root, "releases/production/fraud-card.yaml", release("fraud-card", "production", "1.2.0", promotion_id="p-hand"))


def _stage_release(root: Path) -> None:
    _edit_release(root)
    git(root, "add", "-A")


def _untracked_version(root: Path) -> None:
    write(root, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.2.0"))


def _ignored_version(root: Path) -> None:
    write(root, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0"))


def _deleted_model(root: Path) -> None:
    for p in sorted((root / "models" / "churn").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (root / "models" / "churn").rmdir()


@pytest.mark.parametrize("change", [_edit_release, _stage_release, _untracked_version, _ignored_version, _deleted_model])
def test_list_of_a_changed_work_tree_is_computed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, change: object
) -> None:
    write(repo, ".gitignore", "models/churn/versions/0.3.0.yaml\n")  # git status hides it unless asked
    commit_all(repo, "ignore a file")
    before = same_as_computed(capsys, monkeypatch, repo, "list", "--json")
    assert callable(change)
    change(repo)
    after = same_as_computed(capsys, monkeypatch, repo, "list", "--json")
    assert after != before
    assert same_as_computed(capsys, monkeypatch, repo, "list", "--json") == after


def test_history_follows_the_tip_and_the_work_tree_it_checks_against(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in READS[1:]:
        same_as_computed(capsys, monkeypatch, repo, *args)
    promote(repo, "fraud-card", "1.2.0", "production")
    for args in READS[1:]:
        out = same_as_computed(capsys, monkeypatch, repo, *args)
        assert json.loads(out)["events"][0]["version"] == "1.2.0"
    # history reads only the tip's commits, but checks MODEL and --env against the work tree
    cfg = config()
    cfg["environments"] = [e for e in cfg["environments"] if e["name"] != "production"]
    write(repo, "mlrelease.yaml", cfg)
    rc, out, err = cli(capsys, repo, "history", "--env", "production", "--json")
    assert rc == 1 and "no environment 'production'" in err
    assert (rc, out, err) == computed(capsys, monkeypatch, repo, "history", "--env", "production", "--json")
    git(repo, "checkout", "-q", "--", "mlrelease.yaml")
    _deleted_model(repo)
    rc, out, err = cli(capsys, repo, "history", "churn", "--json")
    assert rc == 1 and "churn" in err
    assert (rc, out, err) == computed(capsys, monkeypatch, repo, "history", "churn", "--json")


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_a_damaged_answer_is_computed_again(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    first = same_as_computed(capsys, monkeypatch, repo, "history", "--json")
    (kept,) = kept_files(repo)
    data = kept.read_bytes()
    broken = {
        "truncate": data[:-10],
        "flip": data[:-5] + bytes([data[-5] ^ 0x01]) + data[-4:],
        "empty": b"",
        "garbage": b"not an answer at all\n" * 3,
    }[damage]
    kept.write_bytes(broken)
    assert same_as_computed(capsys, monkeypatch, repo, "history", "--json") == first
    assert cli(capsys, repo, "history", "--json")[1] == first  # and kept again, whole
    assert kept.read_bytes() == data


def test_at_is_answered_by_the_commit_it_names(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    t1 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    c1 = promote(repo, "fraud-card", "1.1.0", "production", t1)
    promote(repo, "fraud-card", "1.2.0", "production", t1 + timedelta(days=1))
    when = format_timestamp(t1 + timedelta(hours=1))
    for args in (("list", "--json"), ("history", "--json"), ("history", "fraud-card", "--json")):
        at = same_as_computed(capsys, monkeypatch, repo, *args, "--at", when)
        assert same_as_computed(capsys, monkeypatch, repo, *args, "--at", when) == at
        assert cli(capsys, repo, *args, "--ref", c1)[1] == at
    production = next(m for m in json.loads(cli(capsys, repo, "list", "--json", "--at", when)[1])["models"] if m["name"] == "fraud-card")
    assert production["environments"]["production"]["live"] == "1.1.0"


def test_nothing_is_kept_where_it_cannot_be_or_should_not_be(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a .git/mlrelease/answers that cannot be a folder: computed, every time
    (git_dir(repo) / "mlrelease").mkdir(exist_ok=True)
    (git_dir(repo) / "mlrelease" / "answers").write_text("in the way")
    same_as_computed(capsys, monkeypatch, repo, "list", "--json")
    (git_dir(repo) / "mlrelease" / "answers").unlink()
    # a process that knows a secret prints what depends on its environment: not kept
    secrets.remember("s3cr3t-value-for-test", "TEST_SECRET")
    same_as_computed(capsys, monkeypatch, repo, "history", "--json")
    assert kept_files(repo) == []


def test_answers_are_pruned_to_the_newest(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers, "KEEP", 3)
    for n in range(1, 6):
        cli(capsys, repo, "history", "--limit", str(n), "--json")
    assert len(kept_files(repo)) == 3


def test_the_history_command_spells_edit_as_the_core_does() -> None:
    assert history_command.EDIT == history.EDIT


def backdate(root: Path) -> None:
    """Every folder of the work tree last changed a day ago: what a proof of a clean tree needs (no racy folder)."""
    old = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and ".git" not in p.relative_to(root).parts)]:
        os.utime(folder, (old, old))


def git_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The git commands answers.py runs (their first word)."""
    seen: list[str] = []
    real = answers.git

    def spy(cwd: Path, *args: str, **kw: object) -> object:
        seen.append(args[0])
        return real(cwd, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(answers, "git", spy)
    return seen


@pytest.mark.parametrize("change", [_edit_release, _stage_release, _untracked_version, _ignored_version, _deleted_model])
def test_a_clean_work_tree_is_proven_without_git_status_and_any_change_still_shows(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, change: object
) -> None:
    """list --json's kept answer needs a clean work tree: the proof kept after a clean status (folders' mtimes,
    the index file, then git diff-files) replaces git status, and still sees an edit in place, a staged edit, an
    untracked or ignored file and a removed folder."""
    write(repo, ".gitignore", "models/churn/versions/0.3.0.yaml\n")
    commit_all(repo, "ignore a file")
    backdate(repo)
    before = same_as_computed(capsys, monkeypatch, repo, "list", "--json")  # computed, kept, and the proof written
    assert list((git_dir(repo) / "mlrelease" / "answers").glob("clean-*.json"))
    seen = git_commands(monkeypatch)
    assert same_as_computed(capsys, monkeypatch, repo, "list", "--json") == before
    assert "status" not in seen and "diff-files" in seen  # replayed on the proof
    assert callable(change)
    change(repo)
    after = same_as_computed(capsys, monkeypatch, repo, "list", "--json")
    assert after != before
    assert same_as_computed(capsys, monkeypatch, repo, "list", "--json") == after


def test_no_proof_is_kept_while_a_folder_has_just_changed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's mtime may not move for a change within the clock's granularity: a fresh one is never vouched for."""
    backdate(repo)
    os.utime(repo / "models", None)  # now
    cli(capsys, repo, "list", "--json")
    assert not list((git_dir(repo) / "mlrelease" / "answers").glob("clean-*.json"))
    seen = git_commands(monkeypatch)
    cli(capsys, repo, "list", "--json")
    assert "status" in seen  # still replayed, on git status's word
