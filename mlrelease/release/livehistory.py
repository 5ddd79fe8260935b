"""What was live in an environment over time, read from the git history of its release file.

Two rules need the past, not just the current state: the order gate ("must have been
live in staging first" — still true after staging moved on) and rollback's default
target ("what was live before"). Both read the successive contents of
``releases/<env>/<model>.yaml`` rather than a ``previous`` field or commit trailers:

* the file's content is the record of truth (trailers are the narrative about it), so
  the answer holds for commits written by hand, by an import or by older tools;
* a ``previous`` field would hold one step only (a second rollback needs the step before)
  and would duplicate, and could contradict, what git already keeps.

A file's log at a commit is kept under ``.git/mlrelease/filelog/`` (the commits that
changed it and their blobs: facts about that commit's history, never stale) and extended
in process for the commits that came since, through the shared ``cat-file`` pipe: after
the first read in a clone, a promotion costs no ``git log`` (issue 9's budget of git
processes). Where that walk cannot be exact — a merge on the way, an old tip no longer an
ancestor, a shallow clone, more than :data:`WALK_LIMIT` new commits — ``git log`` answers,
as before. The planner asks only when the current state does not answer already.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from mlrelease.errors import ManifestError, MlreleaseError
from mlrelease.gitstore.objects import commit_header
from mlrelease.registry import yamlsafe
from mlrelease.registry.gitio import cat_file, git, git_dir
from mlrelease.registry.parse import parse_rejections, parse_release
from mlrelease.registry.types import Rejection, ReleaseState

T = TypeVar("T")


@dataclass(frozen=True)
class LiveChange:
    """A commit at which the primary live version of one (environment, model) changed."""

    commit: str
    version: str
    since: datetime
    action: str | None  # desired.action that got it there: promote | rollback


Entry = tuple[str, str]  # (commit, blob): a commit that changed the file, and the file's content after it
BATCH_MIN = 8  # files without a kept log before read_logs walks the history once for all of them
WALK_LIMIT = 400  # new commits walked in process; beyond that one `git log` is cheaper
_SEEN: dict[tuple[str, str, str], list[Entry]] = {}  # (repository, commit id, path) → its log, this process
_SEEN_MAX = 4096  # logs kept in process: a dashboard's batch (read_logs) holds one per model


def _is_oid(ref: str) -> bool:
    return len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref)


def file_log(git_root: Path, ref: str, git_path: str) -> list[Entry]:
    """The commits at ``ref`` that changed ``git_path`` (deletions left out), newest first, as
    ``git log --raw ref -- path`` lists them; at a commit id read once per process and kept."""
    if not _is_oid(ref) or "\n" in git_path:  # a name may move; cat-file reads names a line each
        return _git_log(git_root, ref, git_path)
    key = (str(git_root), ref, git_path)
    if key not in _SEEN:
        kept = _Kept(git_root, git_path)
        entries = kept.extended_to(ref)
        if entries is None:
            entries = _git_log(git_root, ref, git_path)
        kept.save(ref, entries)
        _remember(key, entries)
    return _SEEN[key]


def _remember(key: tuple[str, str, str], entries: list[Entry]) -> None:
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    _SEEN[key] = entries


_PLAIN = re.compile(r"[A-Za-z0-9._/*+@-]+")


def read_logs(git_root: Path, ref: str, glob: str, paths: Sequence[str]) -> bool:
    """The logs of many files at once, for :func:`file_log` to answer from: one ``git log``.

    ``glob`` (a git ``:(glob)`` pathspec) must match every path of ``paths`` (and may match
    others). A dashboard asks one file's log per model (``models/<m>/rejections.yaml``):
    cold, each is a walk of the whole history (about 2 s at 124,566 commits, so 10 minutes
    for 300 candidates), where one walk with the glob answers for all of them (about 7 s).
    Only where the answers are the same as per-file logs: at a commit id, on a history
    without merges (git simplifies a merge per pathspec, so a glob could keep a side branch
    a single path drops). Paths already answered (kept under ``.git/mlrelease/filelog/``
    at this commit or a few commits before) are not worth a walk; nothing is read when
    fewer than :data:`BATCH_MIN` are missing. True if the logs were read.
    """
    if not _is_oid(ref) or not all(_PLAIN.fullmatch(p) for p in [glob, *paths]):
        return False  # git quotes unusual names in --raw, and a glob character in a folder would match others
    missing = [p for p in paths if (str(git_root), ref, p) not in _SEEN and _Kept(git_root, p).tip is None]
    if len(missing) < BATCH_MIN:
        return False
    if git(git_root, "rev-list", "--min-parents=2", "--max-count=1", ref).stdout.strip():
        return False  # a merge in the history: per-file logs (see above)
    found: dict[str, list[Entry]] = {p: [] for p in missing}
    for path, commit, blob in _logged(git_root, ref, f":(glob){glob}"):
        if path in found:
            found[path].append((commit, blob))
    for path, entries in found.items():
        _Kept(git_root, path).save(ref, entries)
        _remember((str(git_root), ref, path), entries)
    return True


def _git_log(git_root: Path, ref: str, git_path: str) -> list[Entry]:
    return [(commit, blob) for _path, commit, blob in _logged(git_root, ref, git_path)]


def _logged(git_root: Path, ref: str, pathspec: str) -> Iterator[tuple[str, str, str]]:
    """(path, commit, blob after it) of each change ``git log --raw`` lists, newest first; deletions left out."""
    out = git(git_root, "log", "--format=commit %H", "--raw", "--no-abbrev", "--no-renames", ref, "--", pathspec).stdout
    commit = ""
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("commit "):
            commit = line[7:].strip()
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) >= 5 and parts[4] != "D":
                yield path, commit, parts[3]


class _Kept:
    """One file's log at one commit, kept under ``.git/mlrelease/filelog/`` (not in a shallow clone,
    whose history is cut: its log would change when deepened)."""

    def __init__(self, git_root: Path, git_path: str) -> None:
        self.git_root, self.git_path = git_root, git_path
        folder = git_dir(git_root)
        digest = hashlib.sha1(git_path.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()
        self.file = None if (folder / "shallow").exists() else folder / "mlrelease" / "filelog" / f"{digest}.json"
        self.tip: str | None = None
        self.entries: list[Entry] = []
        try:
            data = json.loads(self.file.read_text(encoding="utf-8")) if self.file is not None else None
            if isinstance(data, dict) and data.get("path") == git_path and _is_oid(str(data.get("tip"))):
                entries = [(str(c), str(b)) for c, b in data["entries"]]
                if all(_is_oid(c) and _is_oid(b) for c, b in entries):
                    self.tip, self.entries = str(data["tip"]), entries
        except (OSError, ValueError, TypeError, KeyError):
            pass  # missing or not ours: `git log` answers and the file is written again

    def extended_to(self, tip: str) -> list[Entry] | None:
        """The log at ``tip``: the kept one plus the commits since, walked in process; None where
        that walk would not be exact (see the module docstring)."""
        if self.tip is None:
            return None
        new: list[Entry] = []
        commit = tip
        try:
            blob = self._blob(commit)
            for _ in range(WALK_LIMIT):
                if commit == self.tip:
                    return new + self.entries
                parents = commit_header(self.git_root, commit)[1]
                if len(parents) != 1:
                    return None  # a merge (git log's simplification decides) or the root: not ours to tell
                before = self._blob(parents[0])
                if blob != before and blob is not None:
                    new.append((commit, blob))
                commit, blob = parents[0], before
        except MlreleaseError:
            return None  # an object is missing (a shallow or pruned history)
        return None

    def _blob(self, commit: str) -> str | None:
        found = cat_file(self.git_root).object(f"{commit}:{self.git_path}")
        if found is not None and found[1] != "blob":
            raise MlreleaseError(f"{self.git_path} is a {found[1]} at {commit}")  # git log would list what is inside
        return found[0] if found is not None else None

    def save(self, tip: str, entries: list[Entry]) -> None:
        if self.file is None or tip == self.tip:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
            temp.write_text(json.dumps({"path": self.git_path, "tip": tip, "entries": entries}), encoding="utf-8")
            os.replace(temp, self.file)
        except OSError:
            pass  # a read-only repository: answered from git each time


def file_versions(git_root: Path, ref: str, git_path: str, parse: Callable[[object, str], T]) -> list[tuple[str, T]]:
    """(commit, parsed content) of every version of one file, newest first; unreadable ones are skipped, not fatal."""
    versions = []
    cat = cat_file(git_root)
    for commit, blob in file_log(git_root, ref, git_path):
        try:
            versions.append((commit, parse(yamlsafe.load(cat.read(blob), git_path), git_path)))
        except ManifestError:
            continue
    return versions


def release_states(git_root: Path, ref: str, git_path: str) -> list[tuple[str, ReleaseState]]:
    """(commit, state) of every version of the release file, newest first."""
    return file_versions(git_root, ref, git_path, parse_release)


def rejections_ever(git_root: Path, ref: str, git_path: str, current: Sequence[Rejection]) -> tuple[Rejection, ...]:
    """``current`` and every rejection the file held before and no longer does.

    mlrelease has no un-reject: a rejection that is gone was removed by hand, so it
    still holds (its reason says so, and `mlrelease verify` reports the commit).
    """
    kept = {(r.version, r.by, r.at) for r in current}
    removed: dict[tuple[str, str, datetime], Rejection] = {}
    for commit, rejections in file_versions(git_root, ref, git_path, parse_rejections):
        for r in rejections:
            key = (r.version, r.by, r.at)
            if key not in kept and key not in removed:
                why = f"{r.reason} (removed from the file by hand after commit {commit[:10]}; a rejection holds forever)"
                removed[key] = dataclasses.replace(r, reason=why)
    return (*current, *removed.values())


def live_changes(git_root: Path, ref: str, git_path: str) -> list[LiveChange]:
    """Newest first. Unreadable historical versions of the file are skipped, not fatal."""
    states = [(c, s) for c, s in release_states(git_root, ref, git_path) if s.live is not None]
    changes: list[LiveChange] = []
    for commit, state in reversed(states):  # oldest first, to see each change once
        live = state.live
        assert live is not None
        if not changes or changes[-1].version != live.version:
            action = state.desired.action if state.desired and state.desired.promotion_id == live.promotion_id else None
            changes.append(LiveChange(commit, live.version, live.since, action))
    return list(reversed(changes))


def was_live(changes: list[LiveChange], version: str) -> LiveChange | None:
    """The most recent time ``version`` became live, if it ever did."""
    return next((c for c in changes if c.version == version), None)


def rollback_target(changes: list[LiveChange], current: str, skip: set[str]) -> str | None:
    """What was live before ``current``: the newest earlier version that did not leave by a rollback.

    Skipping versions whose last exit was a rollback makes repeated rollbacks step further
    back (1.0 → 1.1 → 1.2, roll back → 1.1, roll back → 1.0) instead of bouncing between
    the last two. ``skip`` holds versions never to choose (rejected ones).
    """
    left_by_rollback: dict[str, bool] = {}
    for newer, older in pairwise(changes):
        if older.version != newer.version:
            left_by_rollback.setdefault(older.version, newer.action == "rollback")
    for c in changes:
        if c.version != current and c.version not in skip and not left_by_rollback.get(c.version, False):
            return c.version
    return None
