"""Parsed manifests cached by git blob id: content-addressed, so never stale.

One SQLite file under ``.git/mlrelease/`` (outside the work tree, never committed). A
missing, locked or corrupt cache only costs speed: every failure falls back to parsing.
"""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = 3  # bump when a parser's output changes shape


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, bytes]] = []
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=0.5, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("CREATE TABLE IF NOT EXISTS parsed (key TEXT PRIMARY KEY, value BLOB)")
        except (sqlite3.Error, OSError):
            self._db = None

    @staticmethod
    def key(kind: str, path: str, oid: str) -> str:
        return f"{SCHEMA}:{kind}:{oid}:{path}"

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if self._db is None or not keys:
            return {}
        out: dict[str, Any] = {}
        try:
            for i in range(0, len(keys), 900):
                chunk = keys[i : i + 900]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, value FROM parsed WHERE key IN ({marks})"  # noqa: S608 - only placeholders
                for k, v in self._db.execute(query, chunk):
                    with contextlib.suppress(Exception):
                        out[k] = pickle.loads(v)  # noqa: S301 - our own file under .git, as trusted as hooks
        except sqlite3.Error:
            return out
        return out

    def put(self, key: str, value: Any) -> None:
        if self._db is not None:
            self._pending.append((key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
            if len(self._pending) >= 2000:
                self.flush()

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO parsed VALUES (?, ?)", self._pending)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
