"""Running git: argv lists only, a fixed environment, errors as one line.

Every git call in mlrelease goes through :func:`git` so that it never inherits settings
that hang or change behaviour in CI (pagers, editors, prompts, ``ext::``, hooks). The
user's own configuration is read as git reads it (``GIT_CONFIG_GLOBAL``,
``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_COUNT``…), so identity and signing are the ones
``git config`` shows in the same shell: a team that signs its commits gets signed ones.
"""

from __future__ import annotations

import os
import subprocess
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
    """The work tree's top folder, or None outside a repository (found ones are remembered)."""
    key = str(path)
    if key not in _TOPLEVEL:
        proc = git(path, "rev-parse", "--show-toplevel", check=False)
        if proc.returncode != 0:
            return None  # not remembered: `git init` may make it a repository later
        _TOPLEVEL[key] = Path(proc.stdout.decode().strip())
    return _TOPLEVEL[key]


def git_dir(git_root: Path) -> Path:
    """The repository's common git folder (shared by all its worktrees), remembered per process."""
    key = str(git_root)
    if key not in _GITDIR:
        path = Path(git_text(git_root, "rev-parse", "--git-common-dir").strip())
        _GITDIR[key] = path if path.is_absolute() else git_root / path
    return _GITDIR[key]


def blob_id(data: bytes) -> str:
    """Git's object id for a blob with these bytes: the parse cache's key."""
    import hashlib

    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


class CatFile:
    """One long-lived ``git cat-file --batch`` process: thousands of blobs in one pipe."""

    def __init__(self, cwd: Path) -> None:
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def read(self, oid: str) -> bytes:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", *_SAFE_CONFIG, "cat-file", "--batch"],
                cwd=self._cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=git_env(),
            )
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(oid.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            raise MlreleaseError(f"git object {oid} is missing")
        size = int(header[2])
        data = self._proc.stdout.read(size)
        self._proc.stdout.read(1)  # the newline after each object
        return data

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
