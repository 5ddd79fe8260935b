"""The registry's history as ``verify`` reads it: every commit once, oldest first, with its changes.

The commit log (:mod:`mlrelease.registry.commitlog`, kept under ``.git/mlrelease/``)
gives each commit's parents, author, message and the old and new blob of every file it
changed (merges: against their first parent). :class:`Tree` follows the files of the registry from commit to commit, so the
content of any file at a commit's parent (the config, a version manifest, another
environment's release state) is known without asking git again; blobs are read through
one ``git cat-file --batch`` pipe and parsed once per blob id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.cache import ParseCache
from mlrelease.registry.commitlog import CommitLog
from mlrelease.registry.gitio import CatFile, git
from mlrelease.registry.loader import Registry, parse_bytes
from mlrelease.registry.trailers import parse_trailers

NULL = "0" * 40
# The files whose every change verify checks, and the policy files it follows.
AUDITED = ("release", "rejections", "retrain", "accepted")
POLICY = ("config", "identities", "signers")


@dataclass(frozen=True)
class Change:
    path: str  # relative to the registry root
    old: str  # blob ids; NULL when the file did not exist on that side
    new: str
    kind: str  # a layout kind: release, rejections, retrain, config, ...
    model: str | None
    environment: str | None


@dataclass(frozen=True)
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
    keeps it under ``.git/mlrelease/`` (history and ``--at`` read the same log). Its
    merges carry no changes; a merge's changes against its first parent (the only
    thing verify checks of a merge) are asked of git here, merges being few.
    """
    with CommitLog(reg, tip) as log:
        records = list(log.commits(since=since))
    records.reverse()
    out = []
    for r in records:
        raw: Iterable[tuple[str, str, str]] = r.changes
        if len(r.parents) > 1:
            raw = _merge_changes(log.git_root, log.prefix, r.parents[0], r.oid)
        out.append(Commit(r.oid, r.parents, r.author, r.at, r.message, _located(raw)))
    return out


def _located(raw: Iterable[tuple[str, str, str]]) -> tuple[Change, ...]:
    changes = []
    for path, old, new in raw:
        loc = layout.locate(path)
        if isinstance(loc, layout.Located):
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

    def step(self, c: Commit) -> None:
        """After ``c`` (whose first parent is where we are): apply its changes."""
        for ch in c.changes:
            if ch.new == NULL:
                self.files.pop(ch.path, None)
            else:
                self.files[ch.path] = ch.new
        self.at = c.oid


class Blobs:
    """Blob contents and their parse, each once per blob id: read in one batch, parsed on all cores, cached.

    :meth:`prefetch` reads many blobs with one ``git cat-file --batch`` call and parses
    them (a process pool for many, as lint does), through the parse cache under
    ``.git/mlrelease/`` (keyed by blob id, so never stale); :meth:`parse` answers from
    there, or reads the one blob it lacks.
    """

    def __init__(self, git_root: Path, cache: ParseCache | None = None) -> None:
        self.git_root = git_root
        self._cat = CatFile(git_root)
        self._data: dict[str, bytes] = {}
        self._parsed: dict[tuple[str, str], tuple[Any, str | None]] = {}
        self._cache = cache or ParseCache(None)

    def close(self) -> None:
        self._cat.close()
        self._cache.close()

    def read(self, oid: str) -> bytes:
        if oid not in self._data:
            self._data[oid] = self._cat.read(oid)
        return self._data[oid]

    def prefetch(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Read and parse (kind, path, blob id) items not known yet, in one batch."""
        wanted = {(kind, oid): path for kind, path, oid in items if oid and oid != NULL and (kind, oid) not in self._parsed}
        if not wanted:
            return
        keys = {ParseCache.key(kind, path, oid): (kind, oid) for (kind, oid), path in wanted.items()}
        for key, value in self._cache.get_many(list(keys)).items():
            self._parsed[keys[key]] = _result(value, None)
        missing = [(kind, oid, path) for (kind, oid), path in wanted.items() if (kind, oid) not in self._parsed]
        oids = sorted({oid for _k, oid, _p in missing if oid not in self._data})
        if oids:
            out = git(self.git_root, "cat-file", "--batch", input=("\n".join(oids) + "\n").encode(), timeout=None).stdout
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
        jobs = [(kind, path, self._data[oid]) for kind, oid, path in missing if oid in self._data]
        results = _parse_all(jobs)
        for (kind, oid, path), result in zip([m for m in missing if m[1] in self._data], results, strict=True):
            self._cache.put(ParseCache.key(kind, path, oid), result)
            self._parsed[(kind, oid)] = _result(result, path)
        self._cache.flush()

    def parse(self, kind: str, path: str, oid: str | None) -> tuple[Any, str | None]:
        """(object, None), (None, None) for no file, or (None, the problem) for an unreadable one."""
        if oid is None or oid == NULL:
            return None, None
        key = (kind, oid)
        if key not in self._parsed:
            try:
                data = self.read(oid)
            except MlreleaseError as exc:
                return None, str(exc)
            self._parsed[key] = _result(parse_bytes(kind, path, data), path)
        return self._parsed[key]


PARALLEL_AT = 400  # below this many blobs, a process pool costs more than it saves


def _parse_all(jobs: list[tuple[str, str, bytes]]) -> list[tuple[str, Any]]:
    if len(jobs) >= PARALLEL_AT and (os.cpu_count() or 1) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_parse_job, jobs, chunksize=64))
    return [_parse_job(job) for job in jobs]


def _parse_job(job: tuple[str, str, bytes]) -> tuple[str, Any]:
    return parse_bytes(*job)


def _result(value: tuple[str, Any], path: str | None) -> tuple[Any, str | None]:
    """The loader's ("ok", object) | ("err", problems) as (object, None) | (None, first problem)."""
    status, obj = value
    if status == "ok":
        return obj, None
    return None, str(obj[0]) if obj else f"{path}: unreadable"
