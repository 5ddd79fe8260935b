"""A file's log is kept under .git/mlrelease/filelog/ and extended in process (issue 9 item 9:
a promotion costs no `git log` after the first read in a clone), and it is always the log
`git log --raw REF -- PATH` gives: the rule that a rejection removed by hand still holds
(issue 10) reads it, so it must never miss a version.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.release import livehistory
from tests.builders import git, make_registry
from tests.test_four_eyes import People
from tests.test_verify import edit, hand_commit

PATH = "models/m/rejections.yaml"


@pytest.fixture
def log_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The refs `git log` was asked about (a fresh process: nothing remembered in memory)."""
    calls: list[str] = []
    real = livehistory._git_log

    def counted(git_root: Path, ref: str, git_path: str) -> list[livehistory.Entry]:
        calls.append(ref)
        return real(git_root, ref, git_path)

    monkeypatch.setattr(livehistory, "_git_log", counted)
    monkeypatch.setattr(livehistory, "_SEEN", {})
    return calls


def commit(root: Path, text: str | None, message: str, rel: str = PATH) -> str:
    path = root / rel
    if text is None:
        git(root, "rm", "-q", rel)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(root, "add", rel)
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def kept(root: Path, tip: str) -> list[livehistory.Entry]:
    livehistory._SEEN.clear()  # as the next process would read it
    return livehistory.file_log(root, tip, PATH)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, "x: 0\n", "other file", rel="other.yaml")
    return root


def test_the_kept_log_grows_in_process_and_is_the_log_git_gives(repo: Path, log_calls: list[str]) -> None:
    tips = [commit(repo, "rejected: [a]\n", "one")]
    assert kept(repo, tips[-1]) == livehistory._git_log(repo, tips[-1], PATH)
    assert len(log_calls) == 2  # the first read in a clone asks git (and the check above)
    log_calls.clear()
    steps = [
        ("rejected: [a, b]\n", "two"),
        (None, "deleted by hand"),
        ("other: 1\n", "unrelated", "other.yaml"),
        ("rejected: [a]\n", "back to the first content"),  # the same blob as "one": listed again, as git does
        ("", "emptied"),
    ]
    for step in steps:
        tips.append(commit(repo, *step))
        assert kept(repo, tips[-1]) == livehistory._git_log(repo, tips[-1], PATH)
    git(repo, "commit", "-q", "--allow-empty", "-m", "an empty commit")
    tips.append(git(repo, "rev-parse", "HEAD").strip())
    assert kept(repo, tips[-1]) == livehistory._git_log(repo, tips[-1], PATH)
    assert log_calls == tips[1:]  # only the comparisons above: the walk asked no git log
    assert [c for c, _ in kept(repo, tips[-1])] == [tips[5], tips[4], tips[1], tips[0]]  # a deletion is not a version
    # an older tip is answered too (by git: it is not a descendant of the kept one)
    log_calls.clear()
    assert kept(repo, tips[2]) == livehistory._git_log(repo, tips[2], PATH)
    assert log_calls and log_calls[0] == tips[2]


def test_a_merge_a_rewrite_a_shallow_clone_or_a_damaged_file_are_answered_by_git(repo: Path, tmp_path: Path, log_calls: list[str]) -> None:
    base = commit(repo, "rejected: [a]\n", "one")
    kept(repo, base)
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, "rejected: [a, side]\n", "on a side branch")
    git(repo, "checkout", "-q", "main")
    commit(repo, "x: 1\n", "main moves", rel="other.yaml")
    git(repo, "merge", "-q", "--no-edit", "side")
    merged = git(repo, "rev-parse", "HEAD").strip()
    log_calls.clear()
    assert kept(repo, merged) == livehistory._git_log(repo, merged, PATH)
    assert log_calls[0] == merged  # the walk met a merge: git's simplification decides, not ours

    git(repo, "reset", "-q", "--hard", base)  # history rewritten: the kept tip is not an ancestor
    rewritten = commit(repo, "rejected: []\n", "rewritten")
    log_calls.clear()
    assert kept(repo, rewritten) == livehistory._git_log(repo, rewritten, PATH)
    assert log_calls[0] == rewritten

    (file,) = (repo / ".git" / "mlrelease" / "filelog").iterdir()
    for damaged in ("{", f'{{"path": "elsewhere", "tip": "{rewritten}", "entries": []}}', f'{{"path": "{PATH}", "entries": 1}}'):
        file.write_text(damaged)
        log_calls.clear()
        assert kept(repo, rewritten) == livehistory._git_log(repo, rewritten, PATH)
        assert log_calls[0] == rewritten

    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    tip = git(shallow, "rev-parse", "HEAD").strip()
    assert kept(shallow, tip) == livehistory._git_log(shallow, tip, PATH)
    assert not (shallow / ".git" / "mlrelease" / "filelog").exists()  # a cut history is not kept: it changes when deepened


def test_a_rejection_removed_by_hand_after_the_log_was_kept_still_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, log_calls: list[str]
) -> None:
    root = make_registry(tmp_path / "registry")
    people = People(root, capsys, monkeypatch)
    assert people("alice@bank.example", "reject", "fraud-card@1.2.0", "--reason", "leaks labels", "--yes")[0] == 0
    rc, out, err = people("alice@bank.example", "promote", "fraud-card@1.1.0", "--to", "dev", "--reason", "x", "--yes")
    assert rc == 0, out + err
    assert log_calls  # the first read in this clone: git log, then kept
    edit(root, "models/fraud-card/rejections.yaml", lambda d: d.update(rejected=[]))
    deleted = hand_commit(root, "tidy up")
    log_calls.clear()
    livehistory._SEEN.clear()  # as a new process
    rc, _, err = people("alice@bank.example", "promote", "fraud-card@1.2.0", "--to", "dev", "--reason", "x", "--yes")
    assert rc == 3 and "1.2.0 was rejected by" in err and "removed from the file by hand" in err
    assert log_calls == []  # found by the walk from the kept log, not by git log
    assert git(root, "rev-parse", "HEAD").strip() == deleted
