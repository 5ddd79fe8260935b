"""The indexed history gives what ``git log`` gives: the same commits, order, changes and events.

The reference is the reader history.py used before the index (one ``git log --raw`` per
run, kept here verbatim). Every comparison runs three ways: the index updated as commits
arrive, an index rebuilt from nothing, and the reference; over a registry from the
benchmark generator (imports, hand edits, approvals, rollbacks), a registry in a
subfolder, empty commits, a merge, and a rewritten branch.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench import gen
from mlrelease.errors import NotFound
from mlrelease.registry import commitlog, layout
from mlrelease.registry import history as history_module
from mlrelease.registry.commitlog import FILE, CommitLog
from mlrelease.registry.gitio import git as run_git
from mlrelease.registry.history import _ACTION, _classify, _Commit, history
from mlrelease.registry.loader import Registry
from mlrelease.registry.timetravel import moment
from tests.builders import commit_all, git, make_registry, release, version, write


def reference_commits(reg: Registry) -> Iterator[_Commit]:
    """history.py's reader before the index: one git log over every commit."""
    assert reg.git_root is not None
    rev = reg.ref or "HEAD"
    prefix = Path(reg.root).relative_to(reg.git_root).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    token = secrets.token_hex(8)
    fmt = f"%x00{token}%x00%H %aI %an <%ae>%n%B"
    args = ["log", "-z", "--raw", "--no-abbrev", "--no-renames", "--no-color", f"--format={fmt}"]
    out = run_git(reg.git_root, *args, rev, "--").stdout
    for chunk in out.split(f"\0{token}\0".encode())[1:]:
        text, _, raw = chunk.partition(b"\0")
        head, _, message = text.decode("utf-8", "replace").partition("\n")
        oid, at, author = head.split(" ", 2)
        fields = raw.lstrip(b"\n").split(b"\0")
        changes = []
        touched = False
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.decode("ascii", "replace").split()
            if len(parts) < 5 or not meta.startswith(b":"):
                continue
            touched = True
            rel = path.decode("utf-8", "surrogateescape")
            if rel.startswith(prefix) and _classify(rel[len(prefix) :])[0] is not None:
                changes.append((rel[len(prefix) :], parts[2], parts[3]))
        c = _Commit(oid, datetime.fromisoformat(at), author, message, tuple(changes), touched)
        if c.changes or (not c.touched and _ACTION in c.message):
            yield c


def indexed(root: Path, ref: str | None = None) -> list[_Commit]:
    with Registry(root, ref) as reg:
        return list(history_module._commits(reg, None, None))


def reference(root: Path, ref: str | None = None) -> list[_Commit]:
    with Registry(root, ref) as reg:
        return list(reference_commits(reg))


def drop_index(root: Path) -> None:
    git_dir = Path(run_git(root, "rev-parse", "--git-common-dir").stdout.decode().strip())
    git_dir = git_dir if git_dir.is_absolute() else root / git_dir
    for path in (git_dir / "mlrelease").glob(FILE.removesuffix(".sqlite") + "*"):  # subfolder registries too
        path.unlink()


def agree(root: Path, ref: str | None = None) -> list[_Commit]:
    got = indexed(root, ref)
    assert got == reference(root, ref)
    drop_index(root)
    assert indexed(root, ref) == got
    return got


def every_filter(root: Path) -> dict[tuple[object, ...], list[object]]:
    with Registry(root) as reg:
        models = reg.model_names()[:3]
        envs = reg.config.environment_names
        out: dict[tuple[object, ...], list[object]] = {}
        for model in [None, *models]:
            for env in [None, *envs]:
                out[(model, env, None)] = history(reg, model, env)
                out[(model, env, 3)] = history(reg, model, env, 3)
        return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("log") / "registry"
    gen.build(root, models=8, versions=12, releases=120, seed=5)
    return root


def test_the_index_reads_what_git_log_reads(generated: Path) -> None:
    commits = agree(generated)
    assert len(commits) > 200 and any(not c.message.startswith("Register") for c in commits)


def test_a_first_build_split_between_the_cores_reads_what_git_log_reads(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A history longer than READ_SPLIT is read by one git log per core, and the records are the same."""
    calls: list[int] = []
    real = commitlog._read
    monkeypatch.setattr(commitlog, "_read", lambda root, oids, prefix: (calls.append(len(oids)), real(root, oids, prefix))[1])
    monkeypatch.setattr(commitlog, "READ_SPLIT", 10)
    monkeypatch.setattr(commitlog.os, "cpu_count", lambda: 2)
    drop_index(generated)
    commits = agree(generated)
    assert len(calls) == 4 and abs(calls[0] - calls[1]) <= 1, calls  # two builds (agree drops the index once), two halves each
    assert len(commits) > 200


def test_a_first_build_answers_from_the_records_it_read_as_the_file_does(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build's own answers (no read-back) are what the file answers later, whole and --since."""

    def answers(log: CommitLog) -> tuple[list[commitlog.CommitRecord], list[commitlog.CommitRecord]]:
        assert log.tip is not None
        ten_back = run_git(generated, "rev-parse", "HEAD~10").stdout.decode().strip()
        return list(log.commits()), list(log.commits(since=ten_back))

    drop_index(generated)
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert log._fresh is not None  # answered from memory
        fresh = answers(log)
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert log._fresh is None  # read from the file
        assert answers(log) == fresh
    monkeypatch.setattr(commitlog, "KEEP", 10)  # a history longer than KEEP is read back, page by page
    drop_index(generated)
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert log._fresh is None
        assert answers(log) == fresh
    assert len(fresh[0]) > 200 and len(fresh[1]) == 10


def test_a_first_build_written_behind_answers_as_the_file_does(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's first build: the records at once, the file written by a forked process, the same answers after."""
    monkeypatch.setattr(commitlog, "WRITE_BEHIND", 10)
    monkeypatch.setattr(commitlog, "_alone", lambda: True)  # pytest-xdist runs threads; the CLI has one
    want = reference(generated)
    drop_index(generated)
    with Registry(generated) as reg, CommitLog(reg, write_behind=True) as log:
        assert log._pending and commitlog._WRITERS  # the writer runs
        whole = list(log.commits())
        model = reg.model_names()[0]
        assert [c.oid for c in log.commits(model=model)]  # a filtered question waits for the file
        assert not log._pending and not commitlog._WRITERS
    assert indexed(generated) == want
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert log._fresh is None and list(log.commits()) == whole


def test_a_process_with_threads_writes_its_first_build_itself(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI verifies in a worker thread: no fork there (a forked writer could inherit a lock held by another thread)."""
    import threading

    monkeypatch.setattr(commitlog, "WRITE_BEHIND", 10)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        drop_index(generated)
        with Registry(generated) as reg, CommitLog(reg, write_behind=True) as log:
            assert not log._pending and not commitlog._WRITERS and log._fresh is not None
    finally:
        stop.set()
        other.join()
    assert indexed(generated) == reference(generated)


@pytest.mark.parametrize("when", ["inside the records' transaction", "between the records and the chain"])
def test_a_writer_killed_while_writing_leaves_a_log_that_is_built_again(
    generated: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """A write-behind killed half way leaves no tip: the next run builds (or completes) the log, never trusts half of it."""
    import os
    import signal

    from mlrelease.registry.cache import Store

    parent = os.getpid()
    monkeypatch.setattr(commitlog, "WRITE_BEHIND", 10)
    monkeypatch.setattr(commitlog, "_alone", lambda: True)  # pytest-xdist runs threads; the CLI has one
    if when.startswith("inside"):
        real_write = Store.write

        def write(self: Store, *statements: tuple[str, list[tuple[object, ...]]]) -> None:
            if os.getpid() != parent:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany(*statements[0])
                os.kill(os.getpid(), signal.SIGKILL)
            real_write(self, *statements)

        monkeypatch.setattr(Store, "write", write)
    else:
        real_record = CommitLog._record
        monkeypatch.setattr(
            CommitLog, "_record", lambda self, *a: os.kill(os.getpid(), signal.SIGKILL) if os.getpid() != parent else real_record(self, *a)
        )
    want = reference(generated)
    drop_index(generated)
    with Registry(generated) as reg, CommitLog(reg, write_behind=True) as log:
        assert log._pending
        whole = list(log.commits())
    commitlog._join()
    with sqlite3.connect(generated / ".git" / "mlrelease" / FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM tips").fetchone()[0] == 0
        stored = db.execute("SELECT COUNT(*) FROM commits").fetchone()[0]
        assert stored == (0 if when.startswith("inside") else len(whole))
    with Registry(generated) as reg, CommitLog(reg, write_behind=True) as log:  # killed again (inside) or completed here (between)
        model = reg.model_names()[0]
        assert log._pending == when.startswith("inside") and list(log.commits()) == whole
        mine = [c.oid for c in log.commits(model=model)]
        assert not log._pending and mine
    monkeypatch.undo()
    assert indexed(generated) == want
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert list(log.commits()) == whole
        assert [c.oid for c in log.commits(model=model)] == mine


def test_history_answers_the_same_for_every_filter_with_and_without_the_index(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drop_index(generated)
    with_index = every_filter(generated)
    with monkeypatch.context() as mp:
        mp.setattr(history_module, "_commits", lambda reg, model, env: reference_commits(reg))
        without = every_filter(generated)
    assert with_index == without
    assert with_index[(None, None, None)]


def test_new_commits_extend_the_index_and_a_rewritten_branch_is_read_again(repo: Path) -> None:
    agree(repo)
    for i in range(3):
        write(repo, f"models/fraud-card/versions/1.3.{i}.yaml", version("fraud-card", f"1.3.{i}"))
        commit_all(repo, f"Register 1.3.{i}\n\nMlrelease-Action: register\nMlrelease-Model: fraud-card")
        assert indexed(repo) == reference(repo)  # incremental, one commit at a time
    git(repo, "commit", "--allow-empty", "-q", "-m", "An imported tag\n\nMlrelease-Action: deprecate\nMlrelease-Model: churn")
    git(repo, "commit", "--allow-empty", "-q", "-m", "Nothing at all")
    assert indexed(repo)[0].message.startswith("An imported tag")
    agree(repo)
    git(repo, "reset", "-q", "--hard", "HEAD~4")  # history rewritten: the indexed tip is not an ancestor
    write(repo, "releases/dev/churn.yaml", release("churn", "dev", "0.1.0"))
    commit_all(repo, "hand edit on a new line of history")
    assert indexed(repo) == reference(repo)
    assert agree(repo, "HEAD~1") == reference(repo, "HEAD~1")


def test_a_merge_is_read_with_its_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "releases/staging/churn.yaml", release("churn", "staging", "0.2.0"))
    commit_all(repo, "on the side")
    git(repo, "checkout", "-q", "main")
    write(repo, "releases/dev/churn.yaml", release("churn", "dev", "0.2.0"))
    commit_all(repo, "on main")
    agree(repo)  # index main before the merge, so the merge extends it
    git(repo, "merge", "-q", "--no-ff", "side", "-m", "Merge side")
    got = indexed(repo)
    want = reference(repo)
    assert sorted(c.oid for c in got) == sorted(c.oid for c in want)
    assert {c.oid: c for c in got} == {c.oid: c for c in want}
    with Registry(repo) as reg, CommitLog(reg) as log:
        merge = next(log.commits())
        assert merge.message.startswith("Merge side") and len(merge.parents) == 2
        assert merge.changes == () and not merge.touched  # as git log --raw shows a merge: no diff


def test_a_registry_in_a_subfolder(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    (top / "README.md").write_text("code\n")
    commit_all(top, "code first")
    root = make_registry(top / "ml" / "registry", init=False)
    write(root, "releases/dev/churn.yaml", release("churn", "dev", "0.1.0"))
    commit_all(top, "hand edit")
    assert agree(root)[0].changes == (("releases/dev/churn.yaml", agree(root)[0].changes[0][1], agree(root)[0].changes[0][2]),)


def test_two_registries_in_one_repository_keep_their_own_records(tmp_path: Path) -> None:
    """Records are relative to the registry's root, so each root has its own index file."""
    top = tmp_path / "mono"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    a = make_registry(top / "a", commit=False, init=False)
    b = make_registry(top / "b", commit=False, init=False)
    commit_all(top, "two registries")
    write(a, "releases/dev/churn.yaml", release("churn", "dev", "0.1.0"))
    write(b, "releases/staging/churn.yaml", release("churn", "staging", "0.1.0"))
    commit_all(top, "both at once")
    for root, env in ((a, "dev"), (b, "staging"), (a, "dev"), (b, "staging")):  # round two reads what round one wrote
        with Registry(root) as reg, CommitLog(reg) as log:
            newest = next(log.commits())
            assert [path for path, _old, _new in newest.changes] == [f"releases/{env}/churn.yaml"]
            assert [c.message.strip() for c in log.commits(model="churn", environment=env)] == ["both at once"]
    assert agree(a) and agree(b)


def test_changes_hold_every_file_of_the_registry_and_filters_go_by_the_layout(repo: Path) -> None:
    """verify reads mlrelease.yaml's changes and files the layout may not know yet (controls/)."""
    (repo / "controls").mkdir()
    write(repo, "controls/allowed_signers", "ops@example.com ssh-ed25519 AAAA\n")
    (repo / "mlrelease.yaml").write_text((repo / "mlrelease.yaml").read_text() + "# reviewed\n")
    commit_all(repo, "controls")
    with Registry(repo) as reg, CommitLog(reg) as log:
        newest = next(log.commits())
        assert sorted(path for path, _old, _new in newest.changes) == ["controls/allowed_signers", "mlrelease.yaml"]
        assert next(log.commits(kinds=("config",))).oid == newest.oid
        assert all(c.oid != newest.oid for c in log.commits(kinds=("release",)))
        assert all(c.oid != newest.oid for c in log.commits(model="churn"))
    assert all(c.message.strip() != "controls" for c in agree(repo))  # history shows no event for it


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign schema"])
def test_a_corrupt_commit_index_is_rebuilt(repo: Path, damage: str) -> None:
    good = agree(repo)
    indexed(repo)
    path = repo / ".git" / "mlrelease" / FILE
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if damage == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xee" * 3000)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = 'another' WHERE key = 'schema'")
    assert indexed(repo) == good


def test_at_and_since_for_time_travel_and_verify(generated: Path) -> None:
    with Registry(generated) as reg, CommitLog(reg) as log:
        assert log.tip is not None
        tip = log.commit(log.tip)
        assert tip is not None
        first_parent = run_git(generated, "rev-list", "--first-parent", "--format=%H %cI", "HEAD").stdout.decode().split("\n")
        line = [(p[0], datetime.fromisoformat(p[1])) for p in (x.split() for x in first_parent if x and not x.startswith("commit "))]
        for _oid, when in line[:: max(1, len(line) // 15)]:  # --at DATE: timetravel.moment, not the index
            assert moment(generated, when).commit == next(o for o, w in line if w <= when)
            assert moment(generated, when + timedelta(seconds=1)).commit == next(o for o, w in line if w <= when + timedelta(seconds=1))
        with pytest.raises(NotFound, match="did not exist yet"):
            moment(generated, line[-1][1] - timedelta(days=1))
        ten_back = line[10][0]
        since = [c.oid for c in log.commits(since=ten_back)]
        assert since == [o for o, _ in line[:10]]
        model = reg.model_names()[0]
        touching = [c.oid for c in log.commits() if any(getattr(layout.locate(path), "model", None) == model for path, _, _ in c.changes)]
        assert [c.oid for c in log.commits(model=model)] == touching and touching


def test_history_json_is_written_byte_for_byte_as_print_json_wrote_it(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mlrelease.audit import marks
    from mlrelease.cli import main
    from mlrelease.cli.output import to_data

    with Registry(generated) as reg:
        found = marks.findings(reg)  # the CLI marks what verify does not accept (issue 10)
        events = list(marks.mark_events(history(reg), found))
        one = list(marks.mark_events(history(reg, limit=1), found))
    for argv, chosen in ((["history", "--json"], events), (["history", "--json", "--limit", "1"], one)):
        assert main(["--repo", str(generated), *argv]) == 0
        wanted = json.dumps({"events": [{**to_data(e), "who": e.who} for e in chosen]}, indent=2, ensure_ascii=True) + "\n"
        assert capsys.readouterr().out == wanted


def test_an_empty_history_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlrelease.cli import main

    root = make_registry(tmp_path / "fresh", commit=False)
    assert main(["--repo", str(root), "history", "--json"]) == 0
    assert capsys.readouterr().out == '{\n  "events": []\n}\n'
