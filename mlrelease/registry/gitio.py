"""Running git: argv lists only, a fixed environment, errors as one line.

Every git call in mlrelease goes through :func:`git` so that it never inherits settings
that hang or change behaviour in CI (pagers, editors, prompts, ``ext::``, hooks). The
user's own configuration is read as git reads it (``GIT_CONFIG_GLOBAL``,
``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_COUNT``…), so identity and signing are the ones
``git config`` shows in the same shell: a team that signs its commits gets signed ones.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
import time
from pathlib import Path

from mlrelease.errors import GitError, MlreleaseError

_SAFE_CONFIG = (
    "-c",
    "core.quotepath=false",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "gc.auto=0",
    "-c",
    "maintenance.auto=false",  # what gc.auto=0 means since git 2.29: no `maintenance run --auto` after a fetch
)


# What git reads from the environment that is the user's choice, not a caller's state
# (GIT_DIR, GIT_INDEX_FILE, GIT_WORK_TREE… from a hook would point git elsewhere).
_USER_GIT_ENV = frozenset(
    {
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_SSH_COMMAND",
        "GIT_SSH",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_COUNT",
    }
)


def _user_git_var(name: str) -> bool:
    return name in _USER_GIT_ENV or name.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or _user_git_var(k)}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat", "GIT_EDITOR": "true", "LC_ALL": "C", "LANG": "C"})
    if extra:
        env.update(extra)
    return env


def git(
    cwd: Path | str,
    *args: str,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[bytes]:
    argv = ["git", *_SAFE_CONFIG, *args]
    try:
        proc = subprocess.run(argv, cwd=cwd, input=input, capture_output=True, env=git_env(env), timeout=timeout, check=False)
    except FileNotFoundError:
        raise MlreleaseError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} timed out after {timeout:g} s", returncode=-1) from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        first = next((line for line in err.splitlines() if line.strip()), f"exit code {proc.returncode}")
        raise GitError(f"git {args[0]} failed: {first}", stderr=err, returncode=proc.returncode)
    return proc


def git_text(
    cwd: Path | str,
    *args: str,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float | None = 120,
) -> str:
    """:func:`git`'s standard output as text."""
    return git(cwd, *args, input=input, check=check, env=env, timeout=timeout).stdout.decode("utf-8", "replace")


_TOPLEVEL: dict[str, Path] = {}
_GITDIR: dict[str, Path] = {}


def git_toplevel(path: Path) -> Path | None:
    """The work tree's top folder, or None outside a repository (found ones are remembered).

    The same ``rev-parse`` also tells the common git folder, remembered for :func:`git_dir`.
    """
    key = str(path)
    if key not in _TOPLEVEL:
        proc = git(path, "rev-parse", "--show-toplevel", "--git-common-dir", "--git-dir", check=False)
        lines = proc.stdout.decode().splitlines()
        if proc.returncode != 0 or len(lines) < 3:
            return None  # not remembered: `git init` may make it a repository later
        top, common, own = (Path(line) if Path(line).is_absolute() else (Path(path) / line).resolve() for line in lines[:3])
        _TOPLEVEL[key] = top
        _GITDIR.setdefault(str(top), common)
        _OWNDIR.setdefault(str(top), own)
    return _TOPLEVEL[key]


_OWNDIR: dict[str, Path] = {}


def head_branch(git_root: Path) -> str | None:
    """The branch checked out in this work tree, or None for a detached HEAD.

    Read from the work tree's own ``HEAD`` file where refs are files (git's default);
    asked of ``git symbolic-ref`` otherwise (reftable) or when the folder is not known.
    """
    own = _OWNDIR.get(str(git_root))
    if own is not None and git_config(git_root).get("extensions.refstorage", "files").lower() == "files":
        try:
            head = (own / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            head = ""
        if head.startswith("ref: refs/heads/"):
            return head.removeprefix("ref: refs/heads/")
        if head and not head.startswith("ref:"):
            return None  # a commit id: detached
    proc = git(git_root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def git_dir(git_root: Path) -> Path:
    """The repository's common git folder (shared by all its worktrees), remembered per process."""
    key = str(git_root)
    if key not in _GITDIR:
        path = Path(git_text(git_root, "rev-parse", "--git-common-dir").strip())
        _GITDIR[key] = path if path.is_absolute() else git_root / path
    return _GITDIR[key]


_CONFIG: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, dict[str, str]]] = {}
CONFIG_SECONDS = 10.0


def git_config(git_root: Path) -> dict[str, str]:
    """The configuration git uses here, and the identities it resolves, from one ``git var -l``.

    Keys are as ``git config --list`` spells them (``user.email``, ``commit.gpgsign``), the
    last value winning, plus ``GIT_COMMITTER_IDENT`` and ``GIT_AUTHOR_IDENT``. Remembered
    for :data:`CONFIG_SECONDS`: an action asks many times within a second, and a dashboard
    left open still sees a setting the user changes.
    """
    # The environment is part of the answer (GIT_COMMITTER_EMAIL, GIT_CONFIG_COUNT...): a process
    # that acts for several people in turn (tests, a service) must never get another's identity.
    key = (str(git_root), tuple(sorted((k, v) for k, v in os.environ.items() if _user_git_var(k) or k in ("EMAIL", "HOME"))))
    read_at, values = _CONFIG.get(key, (0.0, {}))
    if time.monotonic() - read_at > CONFIG_SECONDS:
        proc = git(git_root, "var", "-l", check=False)
        values = {}
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            name, sep, value = line.partition("=")
            if sep:
                values[name] = value
        _CONFIG[key] = (time.monotonic(), values)
    return values


def config_true(value: str | None) -> bool:
    """A git boolean as ``git config --bool`` reads it (a key with no value is true)."""
    return value is not None and value.strip().lower() in ("", "true", "yes", "on", "1")


def blob_id(data: bytes) -> str:
    """Git's object id for a blob with these bytes: the parse cache's key."""
    import hashlib

    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


class CatFile:
    """One long-lived ``git cat-file --batch`` process: thousands of objects in one pipe.

    Safe to share between threads. :func:`cat_file` gives the one process of a repository
    that every reader in this process shares.
    """

    def __init__(self, cwd: Path) -> None:
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _ask(self, name: str) -> tuple[str, str, bytes] | None:
        """(object id, type, bytes) of an object name (any revision syntax), or None if missing."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    ["git", *_SAFE_CONFIG, "cat-file", "--batch"],
                    cwd=self._cwd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=git_env(),
                )
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
            self._proc.stdin.flush()
            header = self._proc.stdout.readline().split()
            if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):
                return None
            size = int(header[2])
            data = self._proc.stdout.read(size)
            self._proc.stdout.read(1)  # the newline after each object
            return header[0].decode(), header[1].decode(), data

    def read(self, oid: str) -> bytes:
        found = self._ask(oid)
        if found is None:
            raise MlreleaseError(f"git object {oid} is missing")
        return found[2]

    def object(self, name: str) -> tuple[str, str, bytes] | None:
        """(id, type, bytes) of ``name`` (``main:path``, ``abc123^{tree}``...), None if there is none."""
        if "\n" in name or not name:
            return None
        return self._ask(name)

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                if self._proc.stdin:
                    self._proc.stdin.close()
                self._proc.wait()
                self._proc = None


_CATS: dict[str, CatFile] = {}


def cat_file(git_root: Path) -> CatFile:
    """The shared ``cat-file --batch`` of this repository for this process (closed at exit)."""
    key = str(git_root)
    if key not in _CATS:
        if not _CATS:
            atexit.register(_close_cats)
        _CATS[key] = CatFile(git_root)
    return _CATS[key]


def _close_cats() -> None:
    for cat in _CATS.values():
        cat.close()
