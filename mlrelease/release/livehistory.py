"""What was live in an environment over time, read from the git history of its release file.

Two rules need the past, not just the current state: the order gate ("must have been
live in staging first" — still true after staging moved on) and rollback's default
target ("what was live before"). Both read the successive contents of
``releases/<env>/<model>.yaml`` rather than a ``previous`` field or commit trailers:

* the file's content is the record of truth (trailers are the narrative about it), so
  the answer holds for commits written by hand, by an import or by older tools;
* a ``previous`` field would hold one step only (a second rollback needs the step before)
  and would duplicate, and could contradict, what git already keeps.

It costs one ``git log`` of one path plus one ``cat-file`` pipe, and the planner asks
only when the current state does not answer already.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from mlrelease.errors import ManifestError
from mlrelease.registry import yamlsafe
from mlrelease.registry.gitio import CatFile, git
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


_SEEN: dict[tuple[str, str, str], bytes] = {}  # (repository, commit id, path) → its `git log --raw`


def _file_log(git_root: Path, ref: str, git_path: str) -> bytes:
    """The file's log at ``ref``; at a commit id it cannot change, so a plan and its re-check at the same tip read it once."""
    key = (str(git_root), ref, git_path)
    if key in _SEEN:
        return _SEEN[key]
    out = git(git_root, "log", "--format=commit %H", "--raw", "--no-abbrev", "--no-renames", ref, "--", git_path).stdout
    if len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref):
        if len(_SEEN) > 256:
            _SEEN.clear()
        _SEEN[key] = out
    return out


def file_versions(git_root: Path, ref: str, git_path: str, parse: Callable[[object, str], T]) -> list[tuple[str, T]]:
    """(commit, parsed content) of every version of one file, newest first; unreadable ones are skipped, not fatal."""
    out = _file_log(git_root, ref, git_path)
    entries: list[tuple[str, str]] = []  # (commit, blob), newest first
    commit = ""
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("commit "):
            commit = line[7:].strip()
        elif line.startswith(":"):
            meta, _, _path = line.partition("\t")
            parts = meta.split()
            if len(parts) >= 5 and parts[4] != "D":
                entries.append((commit, parts[3]))
    versions = []
    cat = CatFile(git_root)
    try:
        for commit, blob in entries:
            try:
                versions.append((commit, parse(yamlsafe.load(cat.read(blob), git_path), git_path)))
            except ManifestError:
                continue
    finally:
        cat.close()
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
