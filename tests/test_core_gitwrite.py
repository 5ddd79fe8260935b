"""The write layer: commits that never disturb the user's work, and honest retries."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlrelease.errors import ExitCode, MlreleaseError
from mlrelease.gitstore import gitwrite
from mlrelease.gitstore.transaction import Change, apply, target
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, git, make_registry, write


def _status(root: Path) -> str:
    return git(root, "status", "--porcelain")


def test_commit_keeps_unrelated_uncommitted_work(repo: Path) -> None:
    (repo / "models/churn/model.yaml").write_text((repo / "models/churn/model.yaml").read_text() + "# my edit\n")
    (repo / "notes.txt").write_text("scratch")
    before = _status(repo)
    result = apply(target(repo), lambda reg: Change({"releases/dev/churn.yaml": b"model: churn\n"}, "Add\n"))
    assert result.commit is not None
    assert _status(repo) == before  # the new file is committed and checked out; the edits are untouched
    assert (repo / "releases/dev/churn.yaml").read_text() == "model: churn\n"
    assert "# my edit" in (repo / "models/churn/model.yaml").read_text()


def test_refuses_to_write_a_file_with_uncommitted_edits(repo: Path) -> None:
    path = repo / "releases/dev/fraud-card.yaml"
    path.write_text(path.read_text() + "# hand edit\n")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(MlreleaseError, match=r"releases/dev/fraud-card\.yaml: has uncommitted changes"):
        apply(target(repo), lambda reg: Change({"releases/dev/fraud-card.yaml": b"x: 1\n"}, "x\n"))
    assert git(repo, "rev-parse", "HEAD") == head
    assert path.read_text().endswith("# hand edit\n")


def test_same_change_twice_is_a_no_op(repo: Path) -> None:
    change = Change({"releases/dev/churn.yaml": b"model: churn\n"}, "Add\n")
    first = apply(target(repo), lambda reg: change)
    head = git(repo, "rev-parse", "HEAD")
    second = apply(target(repo), lambda reg: change)
    assert first.commit is not None and second.commit is None
    assert git(repo, "rev-parse", "HEAD") == head


def test_detached_head_writes_to_the_named_branch_without_moving_the_checkout(repo: Path) -> None:
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach", first)
    result = apply(target(repo, branch="main"), lambda reg: Change({"x.yaml": b"a: 1\n"}, "x\n"))
    assert result.branch == "main"
    assert git(repo, "rev-parse", "HEAD").strip() == first
    assert git(repo, "show", "main:x.yaml") == "a: 1\n"


def test_builder_reads_the_tip_not_the_work_tree(repo: Path) -> None:
    seen: list[str] = []

    def build(reg: Registry) -> Change | None:
        seen.append(reg.version_names("fraud-card")[-1])
        return None

    write(repo, "models/fraud-card/versions/9.0.0.yaml", "uncommitted: true\n")
    assert apply(target(repo), build).commit is None
    assert seen == ["1.2.0"]


def test_registry_in_a_subfolder_of_the_git_repo(tmp_path: Path) -> None:
    outer = tmp_path / "mono"
    outer.mkdir()
    git(outer, "init", "-q", "-b", "main")
    make_registry(outer / "ml" / "registry", commit=False, init=False)
    commit_all(outer, "registry in a subfolder")
    apply(target(outer / "ml" / "registry"), lambda reg: Change({"releases/dev/churn.yaml": b"model: churn\n"}, "Add\n"))
    assert git(outer, "show", "main:ml/registry/releases/dev/churn.yaml") == "model: churn\n"
    with Registry(outer / "ml" / "registry", "HEAD") as reg:
        assert reg.model_names() == ["churn", "fraud-card"]


def _bare_with_clones(tmp_path: Path, n: int) -> list[Path]:
    origin = make_registry(tmp_path / "origin")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(bare)], check=True)
    clones = []
    for i in range(n):
        clone = tmp_path / f"clone{i}"
        subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
        clones.append(clone)
    return clones


def test_push_rebuilds_on_the_new_tip_and_keeps_history_linear(tmp_path: Path) -> None:
    a, b = _bare_with_clones(tmp_path, 2)
    apply(target(a, remote="origin"), lambda reg: Change({"a.yaml": b"a: 1\n"}, "a\n"))
    result = apply(target(b, remote="origin"), lambda reg: Change({"b.yaml": b"b: 1\n"}, "b\n"))
    assert result.pushed and result.note is None
    log = git(tmp_path / "remote.git", "log", "--format=%P", "main").splitlines()
    assert all(len(parents.split()) <= 1 for parents in log)  # no merge commits
    assert git(tmp_path / "remote.git", "show", "main:a.yaml") == "a: 1\n"
    assert git(b, "show", "HEAD:a.yaml") == "a: 1\n"  # the local branch was fast-forwarded


def test_retrying_gives_up_with_its_own_exit_code() -> None:
    calls = []

    def attempt() -> None:
        calls.append(1)

    with pytest.raises(gitwrite.RetriesExhausted) as info:
        gitwrite.retrying(attempt, attempts=3, seconds=5, base=0.001)
    assert len(calls) == 3
    assert info.value.exit_code == ExitCode.RETRIES_EXHAUSTED


def test_push_rejection_is_recognised_from_porcelain(tmp_path: Path) -> None:
    a, b = _bare_with_clones(tmp_path, 2)
    git(a, "commit", "-q", "--allow-empty", "-m", "ahead")
    git(a, "push", "-q", "origin", "main")
    git(b, "commit", "-q", "--allow-empty", "-m", "behind")
    head = git(b, "rev-parse", "HEAD").strip()
    result = gitwrite.push(b, "origin", head, "main")
    assert not result.ok and result.retryable
