"""Apply one change to the registry as one commit: the only way mlrelease writes to git.

The caller gives a *builder*: a function that reads the registry as it is at the branch
tip and returns the files to write plus the commit message (or None: nothing to do). The
builder is where preconditions are checked, so it re-runs on every retry against the
newest tip — re-applying the intent, never rebasing text (the Flux lesson), and a changed
precondition surfaces as the builder's own error (e.g. stale state).

Local only: under the machine-wide writer lock, commit on the branch tip and move the
branch by compare-and-swap. With a remote: fetch, build on the remote tip, push; retry
only on recognised rejections, bounded in attempts and seconds; then fast-forward the
local branch when it can be done without losing anything. History stays linear.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlrelease.errors import MlreleaseError, StaleBranch
from mlrelease.registry.gitio import git, git_toplevel
from mlrelease.registry.loader import Registry
from mlrelease.release import gitwrite
from mlrelease.release.gitwrite import Identity


@dataclass(frozen=True)
class Change:
    """What a builder returns: registry-relative paths → bytes (None deletes), and the message."""

    files: Mapping[str, bytes | None]
    message: str


@dataclass(frozen=True)
class Committed:
    commit: str | None  # None: the change was already there (no-op, nothing written)
    branch: str
    pushed: bool
    attempts: int = 1
    note: str | None = None  # e.g. why the local branch was not fast-forwarded


Builder = Callable[[Registry], Change | None]


@dataclass(frozen=True)
class Target:
    """Where writes go: the git repo holding the registry, its branch, and maybe a remote."""

    registry_root: Path
    git_root: Path
    prefix: str  # the registry's folder inside the git repo ("" at the top)
    branch: str
    remote: str | None = None

    def git_path(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel


def target(registry_root: Path, *, remote: str | None = None, branch: str | None = None) -> Target:
    """Resolve the write target: the checked-out branch, else ``branch`` or main."""
    root = registry_root.resolve()
    git_root = git_toplevel(root)
    if git_root is None:
        raise MlreleaseError(f"{root} is not in a git repository; run `git init` there or `mlrelease init`")
    prefix = os.path.relpath(root, git_root)
    chosen = gitwrite.current_branch(git_root) or branch or "main"
    if remote is not None and git(git_root, "remote", "get-url", remote, check=False).returncode != 0:
        raise MlreleaseError(f"git remote {remote!r} is not configured in {git_root}")
    return Target(root, git_root, "" if prefix == "." else prefix, chosen, remote)


def apply(
    t: Target,
    build: Builder,
    *,
    author: Identity | None = None,
    date: datetime | None = None,
    attempts: int = 20,
    seconds: float = 60.0,
) -> Committed:
    """Build and commit one change; see the module docstring for the two paths."""
    with gitwrite.repo_lock(t.git_root):
        gitwrite.repair_checkout(t.git_root)
    if t.remote is None:
        return _apply_local(t, build, author=author, date=date)
    return _apply_remote(t, build, author=author, date=date, attempts=attempts, seconds=seconds)


def _build_at(t: Target, ref: str, build: Builder) -> Change | None:
    with Registry(t.registry_root, ref) as reg:
        return build(reg)


def _commit(t: Target, parent: str | None, change: Change, author: Identity | None, date: datetime | None) -> str | None:
    files = {t.git_path(p): data for p, data in change.files.items()}
    return gitwrite.commit_files(t.git_root, parent=parent, changes=files, message=change.message, author=author, date=date)


def _apply_local(t: Target, build: Builder, *, author: Identity | None, date: datetime | None) -> Committed:
    with gitwrite.repo_lock(t.git_root):
        tip = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
        if tip is None:
            raise MlreleaseError(f"branch {t.branch} has no commits yet in {t.git_root}; commit the registry first")
        change = build_checked(t, tip, build)
        if change is None:
            return Committed(None, t.branch, pushed=False)
        new = _commit(t, tip, change, author, date)
        if new is None:
            return Committed(None, t.branch, pushed=False)
        gitwrite.advance_branch(t.git_root, t.branch, new, tip, paths=[t.git_path(p) for p in change.files])
        return Committed(new, t.branch, pushed=False)


def build_checked(t: Target, ref: str, build: Builder) -> Change | None:
    """Build at ``ref`` and refuse if the user has uncommitted edits in the files it writes."""
    change = _build_at(t, ref, build)
    if change is None:
        return None
    if gitwrite.current_branch(t.git_root) == t.branch:
        dirty = gitwrite.dirty_paths(t.git_root, [t.git_path(p) for p in change.files])
        if dirty:
            raise MlreleaseError(
                f"{dirty[0]}: has uncommitted changes in your checkout; commit or discard them first (mlrelease never overwrites your work)"
            )
    return change


def _apply_remote(t: Target, build: Builder, *, author: Identity | None, date: datetime | None, attempts: int, seconds: float) -> Committed:
    assert t.remote is not None
    remote = t.remote
    tries = 0
    contention = gitwrite.Contention(t.git_root, remote, t.branch)
    with gitwrite.repo_lock(t.git_root):

        def attempt() -> Committed | None:
            nonlocal tries
            tries += 1
            tip = gitwrite.fetch(t.git_root, remote, t.branch)
            change = build_checked(t, tip, build)
            if change is None:
                return Committed(None, t.branch, pushed=False, attempts=tries)
            new = _commit(t, tip, change, author, date)
            if new is None:
                return Committed(None, t.branch, pushed=False, attempts=tries)
            result = gitwrite.push(t.git_root, remote, new, t.branch)
            if result.ok:
                note = fast_forward_local(t, new, [t.git_path(p) for p in change.files])
                return Committed(new, t.branch, pushed=True, attempts=tries, note=note)
            contention.rejected(result, tip)
            return None

        return gitwrite.retrying(attempt, attempts=attempts, seconds=seconds)


def fast_forward_local(t: Target, new: str, paths: list[str]) -> str | None:
    """Bring the local branch to the pushed commit when that loses nothing."""
    local = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
    if local is not None and git(t.git_root, "merge-base", "--is-ancestor", local, new, check=False).returncode != 0:
        return f"local branch {t.branch} has commits that are not on {t.remote}; it was left as it is (pull to update)"
    if local is not None and gitwrite.current_branch(t.git_root) == t.branch:
        # Any change between the old local tip and the new commit is refreshed, not just ours.
        changed = git(t.git_root, "diff", "--name-only", local, new).stdout.decode().split()
        dirty = gitwrite.dirty_paths(t.git_root, changed)
        if dirty:
            return f"pushed, but your checkout has uncommitted changes in {dirty[0]}; pull when ready"
        paths = changed
    try:
        gitwrite.advance_branch(t.git_root, t.branch, new, local, paths=paths)
    except StaleBranch:
        return f"pushed, but local branch {t.branch} moved meanwhile; pull to update"
    except gitwrite.CheckoutBusy as exc:
        return f"pushed, but your checkout was not updated: {exc}; pull when ready"
    return None
