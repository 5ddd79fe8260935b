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
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from mlrelease.errors import GitError, MlreleaseError, PushRejected, RetriesExhausted, StaleBranch
from mlrelease.gitstore import objects
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import cat_file, config_true, git, git_config, git_dir, git_text, head_branch
from mlrelease.secrets import leaked, redact
from mlrelease.textsafe import visible

T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def identity(git_root: Path) -> Identity:
    """Who is acting: the committer identity exactly as git resolves it (``git var GIT_COMMITTER_IDENT``).

    An identity git only guessed (no ``user.email``, ``GIT_COMMITTER_EMAIL`` or ``EMAIL``)
    is refused: the audit trail must name a person, not ``root@host``.
    """
    cfg = git_config(git_root)
    ident = cfg.get("GIT_COMMITTER_IDENT", "").strip()
    chosen = os.environ.get("GIT_COMMITTER_EMAIL") or os.environ.get("EMAIL") or cfg.get("user.email", "").strip()
    if "<" not in ident or not chosen:
        raise MlreleaseError("no git identity: set user.name and user.email (git config --global user.name 'Your Name')")
    name, rest = ident.split("<", 1)
    email = rest.split(">", 1)[0]
    if not name.strip() or not email.strip():
        raise MlreleaseError("no git identity: set user.name and user.email (git config --global user.name 'Your Name')")
    return Identity(name.strip(), email.strip())


def rev(git_root: Path, ref: str) -> str | None:
    """The commit ``ref`` names now, or None (asked through the shared ``cat-file --batch``)."""
    found = cat_file(git_root).object(f"{ref}^{{commit}}")
    return found[0] if found else None


def current_branch(git_root: Path) -> str | None:
    """The checked-out branch, or None for a detached HEAD."""
    return head_branch(git_root)


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

    Paths are relative to the git root. No index, work tree or ref is touched. Every
    commit passes here, so no secret does (:mod:`mlrelease.secrets`): the message is
    redacted, and a file that would carry one is refused with nothing written.
    """
    message = redact(message)
    for path, data in changes.items():
        variable = leaked(data.decode("utf-8", "replace")) if data is not None else None
        if variable is not None:
            raise MlreleaseError(
                f"{path}: would record the value of the secret in {variable}; nothing was written "
                "(a backend or a reason echoed it, and it could not be redacted from the file)"
            )
    if objects.writes_here(git_root):
        found = cat_file(git_root).object(f"{parent}^{{tree}}") if parent else None
        if parent and found is None:
            raise MlreleaseError(f"commit {parent} is missing in {git_root}")
        base = found[0] if found else None
        tree, _ = objects.tree_with(git_root, base, changes)
        if tree == base:
            return None
        if objects.commits_here(git_root):
            cfg = git_config(git_root)
            who = author or _ident(cfg.get("GIT_AUTHOR_IDENT", ""))
            by = committer or _ident(cfg.get("GIT_COMMITTER_IDENT", ""))
            return objects.commit(
                git_root, tree, parent, message, objects.ident(who.name, who.email, date), objects.ident(by.name, by.email, date)
            )
    else:
        tree = _plumbing_tree(git_root, parent, changes)
        if parent and git_text(git_root, "rev-parse", f"{parent}^{{tree}}").strip() == tree:
            return None
    return _commit_tree(git_root, tree, parent, message, author, committer, date)


def _ident(text: str) -> Identity:
    """``Name <email> 1700000000 +0100`` (as ``git var`` prints it) → the name and e-mail."""
    name, _, rest = text.partition("<")
    email = rest.partition(">")[0]
    if not email:
        raise MlreleaseError("no git identity: set user.name and user.email (git config --global user.name 'Your Name')")
    return Identity(name.strip(), email.strip())


def _plumbing_tree(git_root: Path, parent: str | None, changes: Mapping[str, bytes | None]) -> str:
    """The tree through git's plumbing on a private index (a repository we do not write objects in)."""
    env: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mlrelease-index-") as tmp:
        env["GIT_INDEX_FILE"] = str(Path(tmp) / "index")
        if parent:
            git(git_root, "read-tree", parent, env=env)
        else:
            git(git_root, "read-tree", "--empty", env=env)
        # A fixed number of git calls whatever the number of files (an import writes hundreds).
        gone = [path for path, data in changes.items() if data is None]
        kept = [(path, data) for path, data in changes.items() if data is not None]
        if gone:
            git(git_root, "update-index", "--force-remove", "-z", "--stdin", input="".join(f"{p}\0" for p in gone).encode(), env=env)
        if kept:
            blobs = Path(tmp) / "blobs"
            blobs.mkdir()
            for n, (_path, data) in enumerate(kept):
                (blobs / str(n)).write_bytes(data)
            listing = "".join(f"{blobs / str(n)}\n" for n in range(len(kept))).encode()
            oids = git_text(git_root, "hash-object", "-w", "--no-filters", "--stdin-paths", input=listing).split()
            info = "".join(f"100644 {oid}\t{path}\0" for (path, _data), oid in zip(kept, oids, strict=True))
            git(git_root, "update-index", "--add", "-z", "--index-info", input=info.encode(), env=env)
        return git_text(git_root, "write-tree", env=env).strip()


def _commit_tree(
    git_root: Path, tree: str, parent: str | None, message: str, author: Identity | None, committer: Identity | None, date: datetime | None
) -> str:
    """``git commit-tree``: where git must write the commit itself (signing, another encoding)."""
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
    signing = signs_commits(git_root)
    if signing:
        args.insert(1, "-S")  # commit-tree does not read commit.gpgsign itself
    try:
        return git_text(git_root, *args, input=message.encode("utf-8"), env=who).strip()
    except GitError as exc:
        if not signing:
            raise
        raise MlreleaseError(f"signing the commit failed ({signing_settings(git_root)}): {exc}; nothing was written or pushed") from None


def signs_commits(git_root: Path) -> bool:
    """The user's ``commit.gpgsign``, as git reads it (repository, global, system, environment)."""
    return config_true(git_config(git_root).get("commit.gpgsign"))


def signing_settings(git_root: Path) -> str:
    """The settings a signing failure depends on, for the error message."""
    cfg = git_config(git_root)
    return ", ".join(f"{key}={cfg.get(key.lower()) or '(not set)'}" for key in ("commit.gpgsign", "gpg.format", "user.signingkey"))


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


def advance_branch(git_root: Path, branch: str, new: str, old: str | None, *, paths: Sequence[str] = ()) -> None:
    """Move ``branch`` from ``old`` to ``new`` (compare-and-swap), then refresh the checkout.

    Raises :class:`StaleBranch` when the branch moved since ``old`` was read. Where the
    user's HEAD is that branch, only ``paths`` are refreshed in their index and work tree
    (checked clean beforehand by the caller through :func:`dirty_paths`). Moving the branch
    and refreshing the checkout are two steps, so a record of the refresh is written
    before the first and removed after the second: a process killed in between leaves it,
    and :func:`repair_checkout` finishes the refresh on the next run.
    """
    refresh = bool(paths) and current_branch(git_root) == branch
    record = _refresh_record(git_root)
    if refresh:
        lock = git_dir(git_root) / "index.lock"
        if lock.exists():
            raise CheckoutBusy(
                f"{lock} exists: another git process is using this checkout, or one crashed "
                "(remove the file if no git is running); the branch was not moved"
            )
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"branch": branch, "old": old, "new": new, "paths": list(paths)}), encoding="utf-8")
    try:
        git(git_root, "update-ref", "-m", "mlrelease", f"refs/heads/{branch}", new, old or "0" * 40)
    except GitError as exc:
        record.unlink(missing_ok=True)
        raise StaleBranch(f"branch {branch} moved while we were writing; try again ({exc})") from None
    if refresh:
        try:
            _refresh_paths(git_root, new, list(paths))
        except GitError:
            return  # the record stays: the next run finishes the refresh (repair_checkout)
        record.unlink(missing_ok=True)


class CheckoutBusy(MlreleaseError):
    """The user's checkout is locked by git (``index.lock``): it cannot be refreshed now."""


def _refresh_record(git_root: Path) -> Path:
    return git_dir(git_root) / "mlrelease" / "refresh.json"


def _refresh_paths(git_root: Path, commit: str, paths: list[str]) -> None:
    """Bring ``paths`` in the index and work tree to ``commit`` (deleting those it lacks)."""
    cat = cat_file(git_root)
    existing = [p for p in paths if cat.object(f"{commit}:{p}") is not None]
    removed = [p for p in paths if p not in existing]
    if existing:
        # With a commit, checkout updates the index and the work tree of these paths alone.
        git(git_root, "checkout", "-q", commit, "--", *existing)
    for p in removed:
        git(git_root, "rm", "-q", "--cached", "--ignore-unmatch", "--", p)
        with contextlib.suppress(FileNotFoundError):
            (git_root / p).unlink()


def repair_checkout(git_root: Path) -> str | None:
    """Finish a checkout refresh that a killed mlrelease left half done; say what was repaired.

    Only paths the record names, and only where the index and the work tree still hold
    what the branch had before the interrupted write (the user changed nothing there), are
    brought to the branch tip: mlrelease never overwrites the user's work.
    """
    record = _refresh_record(git_root)
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        branch, old, paths = str(data["branch"]), data.get("old"), [str(p) for p in data["paths"]]
    except (OSError, ValueError, KeyError, TypeError):
        record.unlink(missing_ok=True)
        return None
    if current_branch(git_root) != branch or (git_dir(git_root) / "index.lock").exists():
        return None  # later: the user switched branches, or git is busy
    tip = rev(git_root, f"refs/heads/{branch}")
    if tip is None:
        record.unlink(missing_ok=True)
        return None
    untouched = [p for p in paths if _as_in(git_root, p, old)]
    if untouched:
        _refresh_paths(git_root, tip, untouched)
    record.unlink(missing_ok=True)
    return f"finished refreshing {', '.join(untouched)} in your checkout (an earlier mlrelease was interrupted)" if untouched else None


def _as_in(git_root: Path, path: str, commit: str | None) -> bool:
    """The index and the work tree hold ``path`` exactly as ``commit`` had it."""
    staged = git_text(git_root, "ls-files", "-s", "--", path).split()
    before = git_text(git_root, "ls-tree", commit, "--", path).split() if commit else []
    if (staged[1] if len(staged) > 1 else None) != (before[2] if len(before) > 2 else None):
        return False
    return git(git_root, "diff", "--quiet", "--", path, check=False).returncode == 0


# ---- remotes ----------------------------------------------------------------------------

# How ``git push --porcelain`` reports the ref (flag, then "[summary] (reason)"), and what
# each means for a writer. Only these words of the ref's own result line are read: what a
# hook or the server writes on stderr is shown to the user, never interpreted.
_BEHIND = ("fetch first", "non-fast-forward", "stale info")  # [rejected]: someone pushed first
_REF_BUSY = ("failed to update ref", "failed to lock")  # [remote rejected]: the remote could not lock the ref
STALE_LOCK_TRIES = 3  # ref-busy answers in a row, with nobody pushing meanwhile, that mean a stale lock
STALE_LOCK_SECONDS = 0.5  # ... spread over at least this long (a live push holds the lock for milliseconds)


@dataclass(frozen=True)
class PushResult:
    """One push attempt. ``status``: ok, behind (fetch and rebuild), ref-busy (the remote could
    not lock the ref), unknown (the remote did not report: it may have landed), declined (a
    hook refused it; ``detail`` is the hook's own words) or refused (anything else, final)."""

    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def retryable(self) -> bool:
        return self.status in ("behind", "ref-busy", "unknown")


def _remote_words(err: str) -> str:
    """What the remote side (a hook) wrote, as one safe line: ``remote:`` lines without the prefix."""
    lines = [line[len("remote:") :].strip() for line in err.splitlines() if line.startswith("remote:")]
    text = " / ".join(line for line in lines if line)
    return visible(text, single_line=True)[:500] if text else ""


def judge_push(out: str, err: str, branch: str, returncode: int) -> PushResult:
    """The verdict on one ``git push --porcelain``, from the status line of ``refs/heads/<branch>``."""
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[1].endswith(f":refs/heads/{branch}"):
            continue
        flag, result = parts[0], parts[2].strip()
        summary, _, reason = result.partition(" (")
        reason = reason.removesuffix(")")
        if flag in (" ", "+", "*", "=", "-"):  # "-": a deleted ref
            return PushResult("ok", result)
        if summary == "[rejected]" and reason in _BEHIND:
            return PushResult("behind", result)
        if summary == "[remote rejected]" and reason.endswith("hook declined"):
            words = _remote_words(err)
            return PushResult("declined", f"{reason}: {words}" if words else f"{reason} (the hook gave no reason)")
        if summary == "[remote rejected]" and reason in _REF_BUSY:
            return PushResult("ref-busy", result)
        if summary == "[remote failure]":
            return PushResult("unknown", result)
        words = _remote_words(err)
        return PushResult("refused", f"{result}{f': {words}' if words else ''}")
    # No status line for the ref: the push did not get as far as the remote's answer.
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    return PushResult("refused", visible(lines[-1] if lines else f"git push exited with code {returncode}", single_line=True))


class Contention:
    """The failed pushes of one write to one remote branch: try again, or give up with the reason.

    Someone else's push (``behind``) is retried by the caller's budget. A remote that cannot
    lock the ref is retried while others push (the tip moves); when it keeps failing with
    nobody pushing, its lock file was left by a git that crashed there, and that is said
    at once instead of being retried like contention.
    """

    def __init__(self, git_root: Path, remote: str, branch: str, *, nothing: str = "nothing was changed on the remote") -> None:
        self._git_root, self._remote, self._branch, self._nothing = git_root, remote, branch, nothing
        self._busy: list[tuple[str, float]] = []  # (remote tip, when) of the ref-busy answers in a row

    def rejected(self, result: PushResult, tip: str) -> None:
        """After a failed push built on remote tip ``tip``: return to try again, or raise."""
        where = f"git push to {self._remote}"
        if result.status == "declined":
            raise PushRejected(f"{where} was declined by the remote's hook: {result.detail}; {self._nothing}")
        if result.status == "refused":
            raise PushRejected(f"{where} was refused: {result.detail}; {self._nothing}")
        if result.status != "ref-busy" or (self._busy and self._busy[0][0] != tip):
            self._busy = []
        if result.status == "ref-busy":
            self._busy.append((tip, time.monotonic()))
            spread = self._busy[-1][1] - self._busy[0][1]
            if len(self._busy) >= STALE_LOCK_TRIES and spread >= STALE_LOCK_SECONDS:
                raise PushRejected(self._stale_lock(spread))

    def _stale_lock(self, spread: float) -> str:
        lock = f"refs/heads/{self._branch}.lock"
        where = lock
        url = git_text(self._git_root, "remote", "get-url", self._remote, check=False).strip()
        folder = Path(url.removeprefix("file://")) if url and "://" not in url.replace("file://", "") else None
        if folder is not None and (folder / lock).is_file():
            age = time.time() - (folder / lock).stat().st_mtime
            where = f"{folder / lock} (there for {age:.0f} s)"
        return (
            f"git push to {self._remote}: the remote could not lock refs/heads/{self._branch} on {len(self._busy)} attempts "
            f"over {spread:.1f} s while nobody else pushed: its lock file {where} looks stale, left by a git process that "
            f"crashed on the server. Remove {lock} in the remote repository once no git runs there; {self._nothing}"
        )


def fetch(git_root: Path, remote: str, branch: str) -> str:
    """Fetch ``branch`` from ``remote``; return the remote tip's commit id.

    A shallow clone is deepened to the whole history on the way: the gates ask history
    questions ("was it ever live in staging?") that a cut history answers wrongly.
    """
    deepen = ["--unshallow"] if (git_dir(git_root) / "shallow").is_file() else []
    git(git_root, "fetch", "--quiet", "--no-tags", *deepen, remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", timeout=60)
    tip = rev(git_root, f"refs/remotes/{remote}/{branch}")
    if tip is None:
        raise MlreleaseError(f"remote {remote} has no branch {branch}")
    _SEEN[(str(git_root), remote, branch)] = (tip, time.monotonic())
    return tip


# The remote branch's tip as this process last saw it (fetched, or its own push landed), and when.
_SEEN: dict[tuple[str, str, str], tuple[str, float]] = {}
FRESH_SECONDS = 2.0


def known_tip(git_root: Path, remote: str, branch: str) -> str | None:
    """The tip of ``remote``'s ``branch`` this process fetched or pushed in the last
    :data:`FRESH_SECONDS` (a dashboard's plan shown for minutes is fetched again)."""
    seen = _SEEN.get((str(git_root), remote, branch))
    return seen[0] if seen is not None and time.monotonic() - seen[1] <= FRESH_SECONDS else None


def push(git_root: Path, remote: str, commit: str, branch: str) -> PushResult:
    """One push attempt, judged by its ``--porcelain`` status line (:func:`judge_push`)."""
    proc = git(git_root, "push", "--porcelain", remote, f"{commit}:refs/heads/{branch}", check=False, timeout=60)
    result = judge_push(proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), branch, proc.returncode)
    if result.ok:
        _SEEN[(str(git_root), remote, branch)] = (commit, time.monotonic())
    return result


def delete_branch(git_root: Path, remote: str, branch: str, expected: str) -> PushResult:
    """Delete ``branch`` on ``remote`` only while it still points at ``expected`` (our own commit, nobody's since)."""
    proc = git(
        git_root,
        "push",
        "--porcelain",
        f"--force-with-lease=refs/heads/{branch}:{expected}",
        remote,
        f":refs/heads/{branch}",
        check=False,
        timeout=60,
    )
    return judge_push(proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), branch, proc.returncode)


# A push rejected because someone else pushed first is retried this often and this long: a
# burst of promotions from CI through one remote (8 at once, bench/contention_bench.py)
# must all land, so the budget is sized for the unlucky tail, not the median (6 pushes).
PUSH_ATTEMPTS = 60
PUSH_SECONDS = 180.0


def retrying(
    attempt: Callable[[], T | None], *, attempts: int = PUSH_ATTEMPTS, seconds: float = PUSH_SECONDS, base: float = 0.1, cap: float = 2.0
) -> T:
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
