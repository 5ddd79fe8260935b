"""Blob ids remembered by stat data (mlrelease/registry/statids.py): the ids of the bytes on disk, whatever was done to them.

Every answer is compared with the ids of the files' bytes hashed now, through the edits
that keep a file's size and modification time (an in-place edit with the time set back, a
file renamed over it), deletion, a link put in its place, and with the remembered rows
deleted (rebuilt from nothing) or the file corrupt (started again). ``RACY`` is cut to
0.1 s so the tests need not wait two seconds for files to settle; the rule is the same.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from bench import gen
from mlrelease.cli.output import json_text
from mlrelease.errors import MlreleaseError
from mlrelease.registry import statids
from mlrelease.registry.gitio import blob_id
from mlrelease.registry.loader import Registry
from mlrelease.registry.source import WorkTreeSource
from mlrelease.registry.statids import StatIds
from mlrelease.telemetry.health import assess
from tests.test_health_inputs import NOW, checked

SETTLE = 0.15  # s: longer than the RACY the tests use


@pytest.fixture(autouse=True)
def short_racy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statids, "RACY", 100_000_000)


def hashed(root: Path, paths: list[str]) -> dict[str, str]:
    return {p: blob_id((root / p).read_bytes()) for p in paths}


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM ids").fetchone()[0])


def ids_of(root: Path, db: Path, paths: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], int]:
    """(blob ids as the source answers, how many files it read to answer)."""
    source = WorkTreeSource(root, StatIds(db))
    reads: list[str] = []
    blob = source.blob

    def counting(path: str) -> tuple[str, bytes | None]:
        reads.append(path)
        return blob(path)

    monkeypatch.setattr(source, "blob", counting)
    try:
        return source.blob_ids(paths), len(reads)
    finally:
        source.close()


def test_remembered_ids_are_the_bytes_ids_through_edits_that_keep_size_and_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "files"
    (root / "a").mkdir(parents=True)
    paths = [f"a/f{i}.yaml" for i in range(6)]
    for i, p in enumerate(paths):
        (root / p).write_text(f"value: {i}\n")
    db = tmp_path / "ids.sqlite"

    found, reads = ids_of(root, db, paths, monkeypatch)
    assert found == hashed(root, paths) and reads == len(paths)
    assert rows(db) == 0  # just written: racy, not remembered
    time.sleep(SETTLE)
    found, reads = ids_of(root, db, paths, monkeypatch)
    assert found == hashed(root, paths) and rows(db) == len(paths)
    found, reads = ids_of(root, db, paths, monkeypatch)
    assert found == hashed(root, paths) and reads == 0  # every id from its stat data

    # an in-place edit of the same size, its modification time set back to the one remembered
    edited = root / paths[0]
    before = edited.stat()
    edited.write_text("value: 9\n")
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert edited.stat().st_size == before.st_size and edited.stat().st_mtime_ns == before.st_mtime_ns
    # another file of the same size and time renamed over one
    other = root / "a" / "new.tmp"
    other.write_text("value: 8\n")
    os.utime(other, ns=(before.st_atime_ns, (root / paths[1]).stat().st_mtime_ns))
    other.replace(root / paths[1])
    found, reads = ids_of(root, db, paths, monkeypatch)
    assert found == hashed(root, paths) and reads == 2

    time.sleep(SETTLE)
    incremental, _ = ids_of(root, db, paths, monkeypatch)
    db.unlink()
    assert ids_of(root, db, paths, monkeypatch)[0] == incremental == hashed(root, paths)  # rebuilt from nothing

    # gone, or a link in its place: the same errors as reading it
    (root / paths[2]).unlink()
    with pytest.raises(MlreleaseError, match="no such file"):
        ids_of(root, db, paths, monkeypatch)
    (root / paths[2]).symlink_to(root / paths[3])
    with pytest.raises(MlreleaseError, match="symbolic link"):
        ids_of(root, db, paths, monkeypatch)


def test_a_file_written_within_racy_of_its_reading_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statids, "RACY", 60_000_000_000)  # a minute: nothing just written is old enough
    root = tmp_path / "files"
    root.mkdir()
    (root / "x.yaml").write_text("a: 1\n")
    db = tmp_path / "ids.sqlite"
    for _ in range(2):
        found, reads = ids_of(root, db, ["x.yaml"], monkeypatch)
        assert found == hashed(root, ["x.yaml"]) and reads == 1
    assert rows(db) == 0


def test_a_corrupt_ids_file_is_started_again_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "files"
    root.mkdir()
    paths = [f"f{i}.yaml" for i in range(4)]
    for i, p in enumerate(paths):
        (root / p).write_text(f"v: {i}\n")
    db = tmp_path / "ids.sqlite"
    time.sleep(SETTLE)
    ids_of(root, db, paths, monkeypatch)
    good = db.read_bytes()
    for damage in (b"not a database at all" * 200, good[:1024]):
        db.write_bytes(damage)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        assert ids_of(root, db, paths, monkeypatch)[0] == hashed(root, paths)
        assert rows(db) == len(paths)  # made again, whole
    with sqlite3.connect(db) as conn:  # a row of another shape than its stat data is never a hit
        conn.execute("UPDATE ids SET stat = 'x'")
    found, reads = ids_of(root, db, paths, monkeypatch)
    assert found == hashed(root, paths) and reads == len(paths)


def test_check_sees_an_in_place_edit_that_keeps_size_and_time(tmp_path: Path) -> None:
    """``check`` at a fixed clock, a telemetry file edited in place without a commit, its size and times kept."""
    root = tmp_path / "registry"
    gen.build(root, models=6, versions=6, releases=40, seed=3)
    checked(root)
    time.sleep(SETTLE)
    first = checked(root)  # remembers every file it hashed
    assert rows(root / ".git" / "mlrelease" / statids.FILE) > 0
    assert checked(root) == first == read_whole(root)

    telemetry = sorted((root / "telemetry" / "production").glob("*.yaml"))[0]
    before = telemetry.stat()
    text = telemetry.read_text()
    i = text.rindex("errors: ") + len("errors: ")  # the newest snapshot's: one digit changed, the length kept
    edited = text[:i] + ("9" if text[i] != "9" else "8") + text[i + 1 :]
    telemetry.write_text(edited)
    os.utime(telemetry, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert telemetry.stat().st_size == before.st_size
    after = checked(root)
    assert after != first
    assert after == read_whole(root)
    time.sleep(SETTLE)
    assert checked(root) == after  # remembered again, as it is now


def read_whole(root: Path) -> str:
    """``check --json`` with no parse cache and no remembered blob id: every file hashed and read."""
    with Registry(root, use_cache=False) as reg:
        return json_text(assess(reg, now=NOW).to_json())
