"""Apply one change to the registry as one commit, locally or through a remote.

Actions, ``register``, ``import mlflow`` and the ``gitops-file`` backend (for a file in
the registry) write through :func:`apply`; ``import gto`` writes a chain of commits the
same way (:mod:`mlrelease.interop.gto_chain`). The caller gives a *builder*: a function that reads the
registry as it is at the branch tip and returns the files to write plus the commit message
(or None: nothing to do). The builder is where preconditions are checked, so it re-runs on
every retry against the newest tip — re-applying the intent, never rebasing text (the
Flux lesson), and a changed precondition surfaces as the builder's own error (e.g. stale
state).

Local only: under the machine-wide writer lock, commit on the branch tip and move the
branch by compare-and-swap. With a remote: build on the remote tip, push; retry only on
the rejections :class:`~mlrelease.gitstore.gitwrite.Contention` allows, bounded in attempts
and seconds; then fast-forward the local branch when it can be done without losing
anything. History stays linear. Each attempt fetches at most once, and the first builds on
the tip this process already knows (just fetched, or its own last push): a stale one
costs only a rejected push. Commits are written in process (:mod:`mlrelease.gitstore.objects`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlrelease.errors import MlreleaseError, PushRejected, StaleBranch
from mlrelease.gitstore import gitwrite, locks, objects
from mlrelease.gitstore.gitwrite import Identity
from mlrelease.registry.gitio import blob_id, git, git_config, git_toplevel
from mlrelease.registry.loader import Registry
from mlrelease.registry.source import WorkTreeSource, remember_child


@dataclass(frozen=True)
class Change:
    """What a builder returns: registry-relative paths → bytes (None deletes), and the message."""

    files: Mapping[str, bytes | None]
    message: str
    # Further commits on top of this one, written and moved to (or pushed) together: the branch
    # gets all of them or none (a release bundle's intents, one commit per model).
    chain: tuple[Change, ...] = ()

    @property
    def paths(self) -> list[str]:
        """Every path the change and its chain write."""
        return list(dict.fromkeys(p for c in (self, *self.chain) for p in c.files))


@dataclass(frozen=True)
class Committed:
    commit: str | None  # None: the change was already there (no-op, nothing written)
    branch: str
    pushed: bool
    attempts: int = 1
    note: str | None = None  # e.g. why the local branch was not fast-forwarded
    paths: tuple[str, ...] = ()  # the git paths it wrote: what a later refresh of the checkout brings


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
    if remote is not None and f"remote.{remote}.url" not in git_config(git_root):
        raise MlreleaseError(f"git remote {remote!r} is not configured in {git_root}")
    return Target(root, git_root, "" if prefix == "." else prefix, chosen, remote)


def apply(
    t: Target,
    build: Builder,
    *,
    author: Identity | None = None,
    date: datetime | None = None,
    attempts: int = gitwrite.PUSH_ATTEMPTS,
    seconds: float = gitwrite.PUSH_SECONDS,
    guard_checkout: bool = True,
    refresh: bool = True,
) -> Committed:
    """Build and commit one change; see the module docstring for the two paths.

    ``guard_checkout``: refuse when the user has uncommitted edits in a file the change
    writes (an action's first commit; its outcome is recorded whatever the checkout holds).
    ``refresh=False`` (with a remote): leave the local branch and checkout for a later
    :func:`fast_forward_local`, so an action of two commits refreshes them once.
    """
    with locks.repo_lock(t.git_root):
        gitwrite.repair_checkout(t.git_root)
    if t.remote is None:
        return _apply_local(t, build, author=author, date=date, guard=guard_checkout)
    return _apply_remote(t, build, author=author, date=date, attempts=attempts, seconds=seconds, guard=guard_checkout, refresh=refresh)


def _build_at(t: Target, ref: str, build: Builder) -> Change | None:
    with Registry(t.registry_root, ref) as reg:
        change = build(reg)
        if change is not None:
            _refuse_links(t, reg, change)
        return change


def _refuse_links(t: Target, reg: Registry, change: Change) -> None:
    """Never write through a symbolic link, at the tip or in the checkout: git would replace the user's link."""
    checkout = WorkTreeSource(t.registry_root)
    for path in change.paths:
        link = reg.source.link_of(path) or checkout.link_of(path)
        if link is not None:
            raise MlreleaseError(
                f"{link}: a symbolic link: mlrelease never writes through one (put the real folder or file here); nothing was written"
            )


def _commit(t: Target, parent: str | None, change: Change, author: Identity | None, date: datetime | None) -> str | None:
    """The change's commit on ``parent``, then each of its chain on the one before; the last one's id."""
    tip = parent
    for c in (change, *change.chain):
        files = {t.git_path(p): data for p, data in c.files.items()}
        new = gitwrite.commit_files(t.git_root, parent=tip, changes=files, message=c.message, author=author, date=date)
        if new is None:
            if c is change:
                return None
            raise MlreleaseError(f"a chained commit changed nothing ({c.message.splitlines()[0]}); nothing was written")
        if tip is not None:
            # The next build reads this commit: its listing is the parent's plus this change.
            blobs = {p: blob_id(data) if data is not None else None for p, data in c.files.items()}
            remember_child(t.git_root, tip, new, t.prefix, blobs)
        tip = new
    return tip


def _apply_local(t: Target, build: Builder, *, author: Identity | None, date: datetime | None, guard: bool) -> Committed:
    with locks.repo_lock(t.git_root):
        tip = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
        if tip is None:
            raise MlreleaseError(f"branch {t.branch} has no commits yet in {t.git_root}; commit the registry first")
        change = build_checked(t, tip, build) if guard else _build_at(t, tip, build)
        if change is None:
            return Committed(None, t.branch, pushed=False)
        new = _commit(t, tip, change, author, date)
        if new is None:
            return Committed(None, t.branch, pushed=False)
        paths = tuple(t.git_path(p) for p in change.paths)
        gitwrite.advance_branch(t.git_root, t.branch, new, tip, paths=paths)
        return Committed(new, t.branch, pushed=False, paths=paths)


def build_checked(t: Target, ref: str, build: Builder) -> Change | None:
    """Build at ``ref`` and refuse if the user has uncommitted edits in the files it writes."""
    change = _build_at(t, ref, build)
    if change is not None:
        _refuse_dirty(t, change.paths)
    return change


def _refuse_dirty(t: Target, paths: list[str]) -> None:
    if gitwrite.current_branch(t.git_root) == t.branch:
        dirty = gitwrite.dirty_paths(t.git_root, [t.git_path(p) for p in paths])
        if dirty:
            raise MlreleaseError(
                f"{dirty[0]}: has uncommitted changes in your checkout; commit or discard them first (mlrelease never overwrites your work)"
            )


def _apply_remote(
    t: Target,
    build: Builder,
    *,
    author: Identity | None,
    date: datetime | None,
    attempts: int,
    seconds: float,
    guard: bool,
    refresh: bool,
) -> Committed:
    """One fetch at most per attempt: the first builds on the tip this process last saw on the
    remote (fetched just before, or its own last push) — a stale one only costs a rejected push."""
    assert t.remote is not None
    remote = t.remote
    tries = 0
    contention = gitwrite.Contention(t.git_root, remote, t.branch)
    checked: set[str] = set()  # paths found clean in the user's checkout: asked once, not per attempt

    def built(tip: str) -> Change | None:
        change = _build_at(t, tip, build)
        if guard and change is not None and not set(change.paths) <= checked:
            _refuse_dirty(t, change.paths)
            checked.update(change.paths)
        return change

    with locks.repo_lock(t.git_root):

        def attempt() -> Committed | None:
            nonlocal tries
            tries += 1
            known = gitwrite.known_tip(t.git_root, remote, t.branch) if tries == 1 else None
            tip = known or gitwrite.fetch(t.git_root, remote, t.branch)
            change = built(tip)
            if change is None and known is not None:  # "nothing to do" is only believed at a fetched tip
                tip = gitwrite.fetch(t.git_root, remote, t.branch)
                change = built(tip)
            if change is None:
                return Committed(None, t.branch, pushed=False, attempts=tries)
            new = _commit(t, tip, change, author, date)
            if new is None:
                return Committed(None, t.branch, pushed=False, attempts=tries)
            result = gitwrite.push(t.git_root, remote, new, t.branch)
            paths = tuple(t.git_path(p) for p in change.paths)
            if result.ok:
                note = fast_forward_local(t, new, list(paths)) if refresh else None
                return Committed(new, t.branch, pushed=True, attempts=tries, note=note, paths=paths)
            contention.rejected(result, tip)
            return None

        return gitwrite.retrying(attempt, attempts=attempts, seconds=seconds)


def propose(t: Target, build: Builder, branch: str, *, author: Identity | None = None, date: datetime | None = None) -> Committed:
    """Build on the remote tip and push the commit to ``branch``, a new branch of its own (a pull request's head).

    The branch of record is not touched, locally or on the remote: the change reaches it
    when the pull request is merged. ``branch`` is new (one per action id), so nobody else
    pushes to it and a refused push is final (:class:`~mlrelease.errors.PushRejected`).
    """
    assert t.remote is not None
    with locks.repo_lock(t.git_root):
        gitwrite.repair_checkout(t.git_root)
        tip = gitwrite.fetch(t.git_root, t.remote, t.branch)
        change = _build_at(t, tip, build)
        new = _commit(t, tip, change, author, date) if change is not None else None
        if change is None or new is None:
            return Committed(None, branch, pushed=False)
        result = gitwrite.push(t.git_root, t.remote, new, branch)
        if not result.ok:
            gitwrite.Contention(t.git_root, t.remote, branch).rejected(result, tip)  # a hook's or the server's refusal, in its words
            raise PushRejected(f"git push of branch {branch} to {t.remote} was not confirmed ({result.detail}); run the action again")
        return Committed(new, branch, pushed=True, paths=tuple(t.git_path(p) for p in change.files))


def fast_forward_local(t: Target, new: str, paths: list[str]) -> str | None:
    """Bring the local branch to the pushed commit when that loses nothing."""
    local = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
    if local == new:
        return None
    if local is not None and not _is_ancestor(t.git_root, local, new):
        return f"local branch {t.branch} has commits that are not on {t.remote}; it was left as it is (pull to update)"
    if local is not None and gitwrite.current_branch(t.git_root) == t.branch:
        # Any change between the old local tip and the new commit is refreshed, not just ours.
        changed = objects.changed_paths(t.git_root, local, new)
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


def _is_ancestor(git_root: Path, old: str, new: str) -> bool:
    known = objects.is_ancestor(git_root, old, new)
    if known is not None:
        return known
    return git(git_root, "merge-base", "--is-ancestor", old, new, check=False).returncode == 0
