"""The registry's history as ``verify`` reads it: every commit once, oldest first, with its changes.

The commit log (:mod:`mlrelease.registry.commitlog`, kept under ``.git/mlrelease/``)
gives each commit's parents, author, message and the old and new blob of every file it
changed (merges: against their first parent). :class:`Tree` follows the files of the registry from commit to commit, so the
content of any file at a commit's parent (the config, a version manifest, another
environment's release state) is known without asking git again; blobs are read through
one ``git cat-file --batch`` pipe and parsed when read (:class:`Blobs`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.commitlog import CommitLog
from mlrelease.registry.gitio import CatFile, git
from mlrelease.registry.loader import Registry, parse_bytes
from mlrelease.registry.trailers import parse_trailers

NULL = "0" * 40
# The files whose every change verify checks, and the policy files it follows.
AUDITED = ("release", "rejections", "retrain", "accepted")
POLICY = ("config", "identities", "signers")
WATCHED = frozenset((*AUDITED, *POLICY))  # a commit that changes none of these has nothing to check
# Every file verify reads at a commit's parent: the changes of other files (telemetry,
# data sets, model.yaml) are not kept, nor the messages of commits it does not check;
# 124,566 commits held whole were 225 MB at 100,000 versions.
READ = frozenset((*WATCHED, "version"))


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # relative to the registry root
    old: str  # blob ids; NULL when the file did not exist on that side
    new: str
    kind: str  # a layout kind: release, rejections, retrain, config, ...
    model: str | None
    environment: str | None


@dataclass(frozen=True, slots=True)
class Commit:
    oid: str
    parents: tuple[str, ...]
    author: str  # Name <email>
    at: datetime
    message: str
    changes: tuple[Change, ...]  # registry files only, against the first parent

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def trailers(self) -> dict[str, str]:
        return parse_trailers(self.message)

    @property
    def audited(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind in AUDITED)


def commits(reg: Registry, tip: str, since: str | None = None) -> list[Commit]:
    """The commits reachable from ``tip`` (and not from ``since``), oldest first, from the commit log.

    :class:`~mlrelease.registry.commitlog.CommitLog` reads each commit from git once and
    keeps it under ``.git/mlrelease/`` (history reads the same log). Its
    merges carry no changes; a merge's changes against its first parent (the only
    thing verify checks of a merge) are asked of git here, merges being few.
    """
    out = []
    with CommitLog(reg, tip, write_behind=True) as log:  # a first build is written while verify walks
        for r in log.commits(since=since):
            raw: Iterable[tuple[str, str, str]] = r.changes
            merge = len(r.parents) > 1
            if merge:
                raw = _merge_changes(log.git_root, log.prefix, r.parents[0], r.oid)
            changes = _located(raw)
            checked = merge or any(ch.kind in WATCHED for ch in changes)
            out.append(Commit(r.oid, r.parents, r.author, r.at, r.message if checked else "", changes))
    out.reverse()
    return out


def _located(raw: Iterable[tuple[str, str, str]]) -> tuple[Change, ...]:
    changes = []
    for path, old, new in raw:
        loc = layout.locate(path)
        if isinstance(loc, layout.Located) and loc.kind in READ:
            changes.append(Change(path, old, new, loc.kind, loc.model, loc.environment))
    return tuple(changes)


def _merge_changes(git_root: Path, prefix: str, first: str, merge: str) -> list[tuple[str, str, str]]:
    out = git(git_root, "diff-tree", "-r", "-z", "--raw", "--no-abbrev", "--no-renames", first, merge, "--").stdout
    parts = out.split(b"\0")
    changes = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        words = meta.decode("ascii", "replace").split()
        rel = path.decode("utf-8", "surrogateescape")
        if len(words) >= 5 and meta.startswith(b":") and rel.startswith(prefix):
            changes.append((rel[len(prefix) :], words[2], words[3]))
    return changes


class Tree:
    """The registry's files (path → blob id) as of the last commit stepped through."""

    def __init__(self, git_root: Path, prefix: str) -> None:
        self.git_root = git_root
        self.prefix = prefix
        self.at: str | None = None
        self.files: dict[str, str] = {}

    def move_to(self, commit: str | None) -> None:
        """Read the tree of ``commit`` (None: the empty tree) when it is not where we are."""
        if commit == self.at:
            return
        self.files = {}
        self.at = commit
        if commit is None:
            return
        out = git(self.git_root, "ls-tree", "-r", "-z", "--full-tree", commit).stdout
        for entry in out.split(b"\0"):
            meta, _, path = entry.partition(b"\t")
            words = meta.split()
            rel = path.decode("utf-8", "surrogateescape")
            if len(words) == 3 and words[1] == b"blob" and rel.startswith(self.prefix):
                self.files[rel[len(self.prefix) :]] = words[2].decode()

    def copy(self) -> Tree:
        """Another tree at the same commit (a second walk over the same history need not list it again)."""
        other = Tree(self.git_root, self.prefix)
        other.at, other.files = self.at, dict(self.files)
        return other

    def step(self, c: Commit) -> None:
        """After ``c`` (whose first parent is where we are): apply its changes."""
        for ch in c.changes:
            if ch.new == NULL:
                self.files.pop(ch.path, None)
            else:
                self.files[ch.path] = ch.new
        self.at = c.oid


class Blobs:
    """Blob contents and their parse, read a window of history at a time; the last parse of each file kept.

    The walk reads a file at a commit's parent (the release state before a change, the
    config, a manifest, another environment's state) far more often than it changes, so
    keeping the latest parse per file answers most reads, while memory stays the size of
    one registry and a window, not of the history (every blob ever written, parsed up
    front, was 500 MB at 100,000 versions). What the next commits will read is fetched
    ahead with one ``git cat-file --batch`` call (:meth:`fetch`): one read at a time
    through a pipe waits for git to be scheduled each time, half a millisecond on a busy
    machine. Anything not fetched is read through the pipe.
    """

    def __init__(self, git_root: Path) -> None:
        self.git_root = git_root
        self._cat = CatFile(git_root)  # a pipe of its own: a forked walk must not share its parent's
        self._last: dict[tuple[str, str], tuple[str, tuple[Any, str | None]]] = {}
        self._data: dict[str, bytes] = {}  # fetched, not parsed yet
        self._ahead: dict[tuple[str, str, str], tuple[Any, str | None]] = {}  # parsed ahead, not asked yet

    def close(self) -> None:
        self._cat.close()

    def known(self, kind: str, path: str, oid: str) -> bool:
        """Whether ``parse`` answers this without asking git."""
        last = self._last.get((kind, path))
        return oid in self._data or (kind, path, oid) in self._ahead or (last is not None and last[0] == oid)

    def fetch(self, oids: Iterable[str], *, keep: bool = False) -> None:
        """Read these blobs in one ``git cat-file --batch`` (dropping what an earlier window fetched unless ``keep``)."""
        if not keep:
            self._data, self._ahead = {}, {}
        wanted = sorted({oid for oid in oids if oid and oid != NULL and oid not in self._data})
        if not wanted:
            return
        out = git(self.git_root, "cat-file", "--batch", input=("\n".join(wanted) + "\n").encode(), timeout=None).stdout
        i = 0
        while i < len(out):
            nl = out.index(b"\n", i)
            header = out[i:nl].split()
            if len(header) < 3 or header[1] == b"missing":
                i = nl + 1
                continue
            size = int(header[2])
            self._data[header[0].decode()] = out[nl + 1 : nl + 1 + size]
            i = nl + 1 + size + 1

    def ahead(self, kind: str, path: str, oid: str) -> Any:
        """Parse a fetched blob now (to see what it will need), keeping the result for :meth:`parse`."""
        last = self._last.get((kind, path))
        if last is not None and last[0] == oid:
            return last[1][0]
        key = (kind, path, oid)
        if key not in self._ahead:
            self._ahead[key] = self._parse(kind, path, oid)
        return self._ahead[key][0]

    def read(self, oid: str) -> bytes:
        data = self._data.pop(oid, None)
        return data if data is not None else self._cat.read(oid)

    def parse(self, kind: str, path: str, oid: str | None) -> tuple[Any, str | None]:
        """(object, None), (None, None) for no file, or (None, the problem) for an unreadable one."""
        if oid is None or oid == NULL:
            return None, None
        last = self._last.get((kind, path))
        if last is not None and last[0] == oid:
            return last[1]
        result = self._ahead.pop((kind, path, oid), None) or self._parse(kind, path, oid)
        self._last[(kind, path)] = (oid, result)
        return result

    def _parse(self, kind: str, path: str, oid: str) -> tuple[Any, str | None]:
        try:
            data = self.read(oid)
        except MlreleaseError as exc:
            return None, str(exc)
        return _result(parse_bytes(kind, path, data), path)


def _result(value: tuple[str, Any], path: str | None) -> tuple[Any, str | None]:
    """The loader's ("ok", object) | ("err", problems) as (object, None) | (None, first problem)."""
    status, obj = value
    if status == "ok":
        return obj, None
    return None, str(obj[0]) if obj else f"{path}: unreadable"
