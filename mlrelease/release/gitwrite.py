"""Writing to git without touching anyone's work: commits built on a temporary index.

An action must work from a dirty or detached work tree and never commit or disturb the
user's uncommitted changes. So commits are made with plumbing on a private index
(``read-tree`` → ``update-index`` → ``write-tree`` → ``commit-tree``), the branch is moved
with a compare-and-swap (``update-ref NEW OLD``), and only then, if the user's checkout is
on that branch, the touched files alone are brought up to date in their index and work
tree. Local writers are serialised by an ``flock`` the kernel releases if we crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from mlrelease.errors import ExitCode, GitError, MlreleaseError
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import git, git_dir, git_text

T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def identity(git_root: Path) -> Identity:
    """Who is acting: git's committer identity (user.name / user.email, or GIT_* vars)."""
    configured = dict(
        line.split(" ", 1)
        for line in git_text(git_root, "config", "--get-regexp", r"^user\.(name|email)$", check=False).splitlines()
        if " " in line
    )
    name = os.environ.get("GIT_COMMITTER_NAME") or configured.get("user.name", "").strip()
    email = os.environ.get("GIT_COMMITTER_EMAIL") or configured.get("user.email", "").strip()
    if not name or not email:
        raise MlreleaseError("no git identity: set user.name and user.email (git config --global user.name 'Your Name')")
    return Identity(name, email)


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float, holder: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``: the kernel frees it if we die, so it never goes stale.

    ``holder`` says what is held, for the error when waiting takes longer than ``timeout``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MlreleaseError(f"another mlrelease process holds {holder} for more than {timeout:g} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def repo_lock(git_root: Path, timeout: float = 60.0) -> contextlib.AbstractContextManager[None]:
    """Serialise mlrelease writers of one repository on this machine."""
    return file_lock(git_dir(git_root) / "mlrelease" / "write.lock", timeout=timeout, holder=f"the write lock on {git_root}")


def rev(git_root: Path, ref: str) -> str | None:
    proc = git(git_root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def current_branch(git_root: Path) -> str | None:
    """The checked-out branch, or None for a detached HEAD."""
    proc = git(git_root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def commit_files(
    git_root: Path,
    *,
    parent: str | None,
    changes: Mapping[str, bytes | None],
    message: str,
    author: Identity | None = None,
    committer: Identity | None = None,
    date: datetime | None = None,
) -> str | None:
    """A commit of ``parent``'s tree plus ``changes`` (None deletes); None if nothing changed.

    Paths are relative to the git root. No index, work tree or ref is touched.
    """
    env: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mlrelease-index-") as tmp:
        env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
        if parent:
            git(git_root, "read-tree", parent, env=env)
        else:
            git(git_root, "read-tree", "--empty", env=env)
        for path, data in changes.items():
            if data is None:
                git(git_root, "update-index", "--force-remove", "--", path, env=env)
            else:
                oid = git_text(git_root, "hash-object", "-w", "--stdin", input=data).strip()
                git(git_root, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", env=env)
        tree = git_text(git_root, "write-tree", env=env).strip()
    if parent and git_text(git_root, "rev-parse", f"{parent}^{{tree}}").strip() == tree:
        return None
    who = {}
    if author:
        who.update({"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email})
    if committer:
        who.update({"GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email})
    if date:
        stamp = format_timestamp(date)
        who.update({"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    args = ["commit-tree", tree, "-F", "-"]
    if parent:
        args[2:2] = ["-p", parent]
    return git_text(git_root, *args, input=message.encode("utf-8"), env=who).strip()


def dirty_paths(git_root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` have uncommitted changes (staged or not) in the user's checkout."""
    if not paths:
        return []
    out = git_text(git_root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    dirty = []
    for entry in out.split("\0"):
        if len(entry) > 3:
            dirty.append(entry[3:])
    return dirty


def advance_branch(git_root: Path, branch: str, new: str, old: str | None, *, paths: list[str] = ()) -> None:  # type: ignore[assignment]
    """Move ``branch`` from ``old`` to ``new`` (compare-and-swap), then refresh the checkout.

    Raises :class:`StaleBranch` when the branch moved since ``old`` was read. Where the
    user's HEAD is that branch, only ``paths`` are refreshed in their index and work tree
    (checked clean beforehand by the caller through :func:`dirty_paths`).
    """
    try:
        git(git_root, "update-ref", "-m", "mlrelease", f"refs/heads/{branch}", new, old or "0" * 40)
    except GitError as exc:
        raise StaleBranch(f"branch {branch} moved while we were writing; try again ({exc})") from None
    if paths and current_branch(git_root) == branch:
        present = set(git_text(git_root, "ls-tree", "-z", "--name-only", "--full-tree", new, "--", *paths).split("\0"))
        existing = [p for p in paths if p in present]
        removed = [p for p in paths if p not in present]
        if existing:
            # With a commit, checkout updates the index and the work tree of these paths alone.
            git(git_root, "checkout", "-q", new, "--", *existing)
        for p in removed:
            git(git_root, "rm", "-q", "--cached", "--ignore-unmatch", "--", p)
            with contextlib.suppress(FileNotFoundError):
                (git_root / p).unlink()


class StaleBranch(MlreleaseError):
    exit_code = ExitCode.STALE_STATE


# ---- remotes ----------------------------------------------------------------------------

RETRYABLE = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
    "incorrect old value",
    "failed to lock",
)


@dataclass(frozen=True)
class PushResult:
    ok: bool
    retryable: bool
    detail: str


def fetch(git_root: Path, remote: str, branch: str) -> str:
    """Fetch ``branch`` from ``remote``; return the remote tip's commit id."""
    git(git_root, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", timeout=60)
    tip = rev(git_root, f"refs/remotes/{remote}/{branch}")
    if tip is None:
        raise MlreleaseError(f"remote {remote} has no branch {branch}")
    return tip


def push(git_root: Path, remote: str, commit: str, branch: str) -> PushResult:
    """One push attempt, judged by ``--porcelain`` status flags rather than server wording."""
    proc = git(git_root, "push", "--porcelain", remote, f"{commit}:refs/heads/{branch}", check=False, timeout=60)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(f"refs/heads/{branch}"):
            flag, summary = parts[0], parts[2]
            if flag in (" ", "+", "*", "="):
                return PushResult(True, False, summary)
            if flag == "!":
                text = f"{summary} {err}".lower()
                return PushResult(False, any(r in text for r in RETRYABLE), summary.strip())
    text = (err or out).strip().splitlines()
    first = text[-1] if text else f"exit code {proc.returncode}"
    return PushResult(False, any(r in (err + out).lower() for r in RETRYABLE), first)


class RetriesExhausted(MlreleaseError):
    exit_code = ExitCode.RETRIES_EXHAUSTED


def retrying(attempt: Callable[[], T | None], *, attempts: int = 20, seconds: float = 60.0, base: float = 0.1, cap: float = 2.0) -> T:
    """Call ``attempt`` until it returns a value; None means "rejected, try again".

    Full-jitter exponential backoff, bounded both in attempts and in wall time.
    """
    start = time.monotonic()
    for n in range(attempts):
        result = attempt()
        if result is not None:
            return result
        elapsed = time.monotonic() - start
        if n + 1 >= attempts or elapsed >= seconds:
            break
        delay = random.uniform(0, min(cap, base * 2**n))
        time.sleep(min(delay, max(0.0, seconds - elapsed)))
    raise RetriesExhausted(
        f"push still rejected after {n + 1} attempts in {time.monotonic() - start:.1f} s; nothing was changed on the remote"
    )
