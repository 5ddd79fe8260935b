"""The registry the app shows, opened afresh by each thread worker, and how it changes.

A :class:`~mlrelease.registry.loader.Registry` memoises parses by path, so a long-lived
one would keep showing a file after it was edited; and its ``git cat-file`` pipe is not
for two threads at once. Each worker therefore opens its own (cheap: the parse cache
under ``.git/`` is shared and keyed by blob id, so nothing is parsed twice).

:meth:`Session.fingerprint` is what the watcher polls every couple of seconds: the commit
HEAD points at plus the modification times of the registry's folders and of its small
mutable files (release states, telemetry, model.yaml, rejections, retrain requests).
Version manifests are immutable once written, so their folder's time catches new ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.gitstore import gitwrite
from mlrelease.notify import journal
from mlrelease.notify.journal import Delivery
from mlrelease.registry import layout
from mlrelease.registry.gitio import git_text, git_toplevel
from mlrelease.registry.loader import Registry

# Folders whose files may change in place (small, few); elsewhere only the folder's time is read.
_MUTABLE = (layout.RELEASES, layout.TELEMETRY, layout.RETRAIN)


class Session:
    """Where the registry is (``root``, optionally a git ``ref``), and helpers around it."""

    def __init__(self, root: Path, ref: str | None = None) -> None:
        self.root = root.resolve()
        self.ref = ref
        self.git_root = git_toplevel(self.root)

    def open(self) -> Registry:
        """A fresh registry for one worker; close it (``with``) when done."""
        return Registry(self.root, self.ref)

    def head(self) -> str | None:
        return None if self.git_root is None else gitwrite.rev(self.git_root, self.ref or "HEAD")

    def fingerprint(self) -> tuple[object, ...]:
        """Changes whenever something the app shows may have changed (see the module doc)."""
        if self.ref is not None:
            return (self.head(),)
        stamps: list[tuple[str, int]] = []

        def stamp(path: str) -> None:
            try:
                stamps.append((path, os.stat(path).st_mtime_ns))
            except OSError:
                stamps.append((path, -1))

        root = str(self.root)
        stamp(os.path.join(root, layout.CONFIG))
        for top in layout.FOLDERS:
            base = os.path.join(root, top)
            stamp(base)
            for entry in _scandir(base):
                if not entry.is_dir(follow_symlinks=False):
                    if top in _MUTABLE:
                        stamp(entry.path)
                    continue
                stamp(entry.path)
                for inner in _scandir(entry.path):
                    if inner.is_dir(follow_symlinks=False):
                        stamp(inner.path)  # models/<m>/versions
                    elif top in _MUTABLE or top == layout.MODELS:
                        stamp(inner.path)  # model.yaml, rejections.yaml, releases/<env>/<m>.yaml
        return (self.head(), tuple(stamps))

    # ---- the notifications' delivery log (beside the clone, not in the registry's tree) ----

    def deliveries(self, limit: int = 500) -> list[Delivery]:
        """The delivery log, newest first, as ``mlrelease notify log`` reads it; then it counts as seen."""
        if self.git_root is None:
            return []
        found = journal.read(self.git_root, limit=limit)
        journal.mark_seen(self.git_root)
        return found

    def unseen_failures(self) -> int:
        """Failed deliveries since the log was last looked at (0 when that cannot be told)."""
        if self.git_root is None:
            return 0
        try:
            return journal.unseen_failures(self.git_root)
        except (MlreleaseError, OSError):
            return 0

    def fetch(self, remote: str, branch: str) -> str:
        """``git fetch`` the configured remote; say (one line) how far the checkout is behind it."""
        if self.git_root is None:
            return f"{self.root} is not in a git repository: nothing to fetch"
        tip = gitwrite.fetch(self.git_root, remote, branch)
        local = gitwrite.rev(self.git_root, "HEAD")
        ahead = 0
        if local is not None and tip != local:
            ahead = int(git_text(self.git_root, "rev-list", "--count", f"{local}..{tip}").strip() or 0)
        if ahead:
            return f"fetched {remote}/{branch}: {ahead} new commit(s) not in your checkout yet (git pull to see them here)"
        return f"fetched {remote}/{branch}: your checkout is up to date"


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return [e for e in it if not e.name.startswith(".")]
    except OSError:
        return []
