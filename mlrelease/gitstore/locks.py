"""Locks between mlrelease processes on this machine: ``flock``, so a dead holder never leaves one stale."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.registry.gitio import git_dir


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
