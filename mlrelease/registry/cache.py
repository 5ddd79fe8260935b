"""Parsed manifests cached by git blob id: content-addressed, so never stale.

One SQLite file under ``.git/mlrelease/`` (outside the work tree, never committed). A
missing, locked or corrupt cache only costs speed: every failure falls back to parsing.

A cached result is a function of the bytes *and of the code that read them*, so every
key also carries :func:`code_version` of the modules that produce it: after an upgrade
(or any edit of the parser) old entries are simply never found again.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from mlrelease.errors import MlreleaseError

SCHEMA = 3  # bump when a parser's output changes shape (code_version() below also changes with any edit)
_CODE: list[str] = []


def code_version() -> str:
    """A digest of the code that reads and checks manifests: what cached results are keyed by besides the data.

    Every module of ``mlrelease.registry`` plus the two it imports from above
    (``errors``, ``textsafe``) — the whole package rather than a list of the parser's
    modules, so a module that starts taking part in parsing or lint (``rollout.py``,
    ``shape.py`` did) can never be forgotten. Reading ~30 small files costs about a
    millisecond, once per process.
    """
    if not _CODE:
        import hashlib

        here = Path(__file__).resolve().parent
        h = hashlib.sha1(usedforsecurity=False)
        for path in [*sorted(here.glob("*.py")), here.parent / "errors.py", here.parent / "textsafe.py"]:
            h.update(path.name.encode())
            try:
                h.update(path.read_bytes())
            except OSError:
                h.update(b"\0missing")
        _CODE.append(h.hexdigest()[:16])
    return _CODE[0]


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
        return f"{SCHEMA}:{code_version()}:{kind}:{oid}:{path}"

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
            self.put_raw(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def put_raw(self, key: str, data: bytes) -> None:
        """``value`` already pickled (by a worker, with the highest protocol, as :meth:`put` does)."""
        if self._db is not None:
            self._pending.append((key, data))
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


BUSY_TIMEOUT = 30  # seconds a writer waits for another (a first build of 100,000 files writes for a few)


def corrupt(exc: sqlite3.Error) -> bool:
    """Is this the file's fault (rebuild it) rather than another process holding it (wait, or say so)?"""
    code = getattr(exc, "sqlite_errorcode", None)
    return code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and "locked" not in str(exc)


T = TypeVar("T")


class Store:
    """An index file under ``.git/mlrelease/``: anything wrong with it means delete it and start again.

    ``tables`` is the schema (``CREATE TABLE`` statements, one of them ``meta``) and
    ``version()`` what must be recorded in ``meta`` for the file to be read: a file that
    is not SQLite, cut short, missing a table or written by other code is removed and
    made again, never read or "repaired" (creating a missing table empty would leave the
    rest claiming facts that are gone). Another process holding the file is waited for
    (:data:`BUSY_TIMEOUT`), then said; a repository that cannot be written to gets the
    same tables in memory for this run.
    """

    def __init__(self, path: Path | None, tables: str, version: Callable[[], str]) -> None:
        self.path = path
        self._tables = tables
        self._version = version
        self._names = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", tables))
        self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self.path is not None:
            deadline = time.monotonic() + BUSY_TIMEOUT
            while True:
                try:
                    return self._open(self.path)
                except (sqlite3.Error, OSError) as exc:
                    if isinstance(exc, sqlite3.Error) and not corrupt(exc):
                        # SQLite answers BUSY without waiting in some moments (another process
                        # turning the file to WAL, or recovering it): wait here as its timeout would
                        if time.monotonic() < deadline:
                            time.sleep(0.05)
                            continue
                        raise self.busy() from None
                    break
            if self._discard():
                with contextlib.suppress(sqlite3.Error, OSError):
                    db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
                    self._check(db)
                    return db
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)  # read-only .git: this run only
        self._check(db)
        return db

    def _open(self, path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._check(db)
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _check(self, db: sqlite3.Connection) -> None:
        version = self._version()
        found = {str(name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if found and found != self._names:
            raise sqlite3.DatabaseError(f"tables {sorted(found)}, not {sorted(self._names)}")
        if not found:
            db.executescript(self._tables)
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (version,))
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != version:
            raise sqlite3.DatabaseError(f"schema {row[0] if row else None}, not {version}")

    def busy(self) -> MlreleaseError:
        return MlreleaseError(f"the index {self.path} is busy: another mlrelease is writing it; try again")

    def _discard(self) -> bool:
        """Remove a broken file (and its journal); False when it cannot be removed."""
        assert self.path is not None
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError:
            return False
        return True

    def rebuild(self) -> None:
        """Start from nothing (after the file turned out to be corrupt while reading it)."""
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        if self.path is not None:
            self._discard()
        self.db = self._connect()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    def answer(self, question: Callable[[], T]) -> T:
        """Run ``question``; if the file turns out to be corrupt on the way, rebuild it and ask again, once.

        Another process holding the file is waited for (SQLite's timeout, and a bounded retry for
        the moments it answers BUSY at once); only then is it said.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return question()
            except sqlite3.DatabaseError as exc:
                if corrupt(exc):
                    break
                if time.monotonic() >= deadline:
                    raise self.busy() from None
                time.sleep(0.05)
        self.rebuild()
        try:
            return question()
        except sqlite3.DatabaseError:
            raise MlreleaseError(f"the index {self.path} cannot be built") from None

    def select(self, query: str, keys: list[str], *extra: object) -> Iterator[tuple[object, ...]]:
        """``query`` with ``{marks}`` for ``keys``, run in chunks (SQLite bounds the parameters)."""
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            sql = query.format(marks=",".join("?" * len(chunk)))
            yield from self.db.execute(sql, (*chunk, *extra))

    def write(self, *statements: tuple[str, Sequence[tuple[object, ...]]]) -> None:
        """Each (sql, rows) for every row, all in one transaction."""
        if not any(rows for _sql, rows in statements):
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in statements:
                self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise


class StoreOwner:
    """A reader that owns one :class:`Store` and closes it when done (``with Indexes(reg) as i:``)."""

    store: Store

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
