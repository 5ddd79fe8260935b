"""Blob ids of work-tree files remembered by their stat data, the way git's index does: hashing only what changed.

Indexes and caches look rows up by blob id (:meth:`WorkTreeSource.blob_ids`), and a work
tree's blob ids cost reading and hashing each file — for ``check`` at 100,000 versions,
2,500 release states, manifests and telemetry files (0.1 s) on every run; for ``lint``
after a checkout or a copy that git's own index does not vouch for yet, 107,000 files.
git's index answers the same question with a file's stat data: it re-hashes a file only
when its size, modification or change time, inode or device differ from what it recorded.
This is the same answer for the files git does not vouch for.

**Never stale.** A row is (path → size, mtime, ctime, inode, device, blob id) and is used
only when ``lstat`` gives exactly those five now. Any write changes the change time — which
nothing can set back, unlike the modification time ``touch -d`` or ``cp -p`` set — and a
rename that puts another file at the path changes the inode. A write in the same clock tick
as the stat recorded would not show, so git's racy-timestamp rule applies: a file is
remembered only when both its times are more than :data:`RACY` before the moment it was
read, and when its stat data was the same before and after reading it (so the bytes hashed
are the bytes of that stat data). Recently written files are simply hashed each time.

**A broken file only costs time.** The rows live in ``.git/mlrelease/stat-ids.sqlite``
(:class:`~mlrelease.registry.cache.Store`: a file that is not SQLite, cut short or of another
schema is deleted and started again; a read-only ``.git`` keeps the rows in memory for the
run); the file being busy, or failing while it is read, means hashing as before.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.registry.cache import Store, corrupt

FILE = "stat-ids.sqlite"
FORMAT = "1"
RACY = 2_000_000_000  # ns: a file changed this close to its reading may change again unseen in the same tick
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS ids (path BLOB PRIMARY KEY, stat TEXT NOT NULL, oid TEXT NOT NULL);
"""


def stat_key(st: os.stat_result) -> str:
    """What must be unchanged for a remembered blob id to hold (git's index compares the same)."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}"


class StatIds:
    """The remembered blob ids of one work tree's files; opened on first use, :meth:`close` when done."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._store: Store | None = None
        self._failed = False

    def _db(self) -> Store | None:
        if self._store is None and not self._failed:
            try:
                self._store = Store(self.path, _TABLES, lambda: FORMAT)
            except MlreleaseError:  # busy for long: hash as before
                self._failed = True
        return self._store

    def ids(
        self,
        paths: list[str],
        stat_of: Callable[[str], os.stat_result | None],
        blob: Callable[[str], str],
    ) -> dict[str, str]:
        """Blob id of every path: remembered where ``stat_of`` (an lstat of a plain file, None otherwise) is unchanged, else ``blob``'s.

        ``blob`` is what the caller did without this (read and hash, raising for a missing
        file or a link); it is called for every path not answered here, so errors are the same.
        """
        stats = {p: st for p in paths if (st := stat_of(p)) is not None}
        known = self._get(list(stats))
        out: dict[str, str] = {}
        fresh: list[tuple[bytes, str, str]] = []
        for p in paths:
            st = stats.get(p)
            key = stat_key(st) if st is not None else None
            row = known.get(p)
            if row is not None and row[0] == key:
                out[p] = row[1]
                continue
            oid = blob(p)
            out[p] = oid
            if st is not None and key is not None and _settled(st, time.time_ns()):
                after = stat_of(p)
                if after is not None and stat_key(after) == key:
                    fresh.append((p.encode("utf-8", "surrogateescape"), key, oid))
        self._put(fresh)
        return out

    def _get(self, paths: list[str]) -> dict[str, tuple[str, str]]:
        store = self._db() if paths else None
        if store is None:
            return {}
        keys = [p.encode("utf-8", "surrogateescape") for p in paths]
        try:
            rows = list(store.select("SELECT path, stat, oid FROM ids WHERE path IN ({marks})", keys))  # type: ignore[arg-type]
        except sqlite3.DatabaseError as exc:
            self._trouble(exc)
            return {}
        return {bytes(p).decode("utf-8", "surrogateescape"): (str(s), str(o)) for p, s, o in rows if isinstance(p, bytes)}

    def _put(self, rows: Iterable[tuple[bytes, str, str]]) -> None:
        rows = list(rows)
        store = self._db() if rows else None
        if store is None:
            return
        try:
            store.write(("INSERT OR REPLACE INTO ids VALUES (?, ?, ?)", rows))
        except sqlite3.DatabaseError as exc:
            self._trouble(exc)

    def _trouble(self, exc: sqlite3.DatabaseError) -> None:
        """A corrupt file is started again (nothing in it is trusted); a busy one is passed over for this run."""
        assert self._store is not None
        if corrupt(exc):
            with contextlib.suppress(MlreleaseError):
                self._store.rebuild()
                return
        self._store.close()
        self._store, self._failed = None, True

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _settled(st: os.stat_result, now: int) -> bool:
    """Both times far enough in the past that another write would give another stat (git's racy rule)."""
    return max(st.st_mtime_ns, st.st_ctime_ns) < now - RACY
