"""The registry's git history, indexed: every commit read once, then answered from rows.

``history`` and ``verify`` walk the commits of the registry. ``git log
--raw`` over 100,000 commits takes tens of seconds on every run; here each commit is read
once, its record kept under ``.git/mlrelease/`` by commit id (a commit never changes, so
a record is never stale), and the order of the commits reachable from a tip is kept as a
chain that later tips extend: after ``mlrelease promote`` only the two new commits are
read.

API (for ``history`` and ``verify``; ``--at DATE`` is one ``git rev-list``, :func:`mlrelease.registry.timetravel.moment`)::

    from mlrelease.registry.commitlog import CommitLog

    with CommitLog(reg) as log:             # up to date with reg.ref, or HEAD; None-tip when no commits
        log.tip                             # the commit id it answers for
        for c in log.commits():             # every commit reachable from the tip, newest first
            c.oid, c.parents                # ids; parents in order (the first is the first parent)
            c.author, c.at                  # "Name <email>", author date (aware datetime)
            c.committer, c.committed        # the same for the committer
            c.message                       # the whole message (trailers: registry.trailers.parse_trailers)
            c.changes                       # ((path, old blob, new blob), ...) of registry files, vs the first parent
            c.touched                       # False: the commit changed no file at all
        log.commits(model="fraud-card")     # only commits that changed a file of that model (release state,
        log.commits(environment="prod")     #   manifest, rejections, telemetry, retrain ...) / of that environment
        log.commits(kinds=("release",))     # only commits that changed files of these layout kinds
        log.commits(since="v1.0")           # only commits not reachable from that revision (verify --since)
        log.commit(oid)                     # one record (any indexed commit), or None

Paths in ``changes`` are relative to the registry root: every file the commit changed
under it, the layout's (:func:`mlrelease.registry.layout.locate`: ``mlrelease.yaml``,
manifests, release states ...) and any other; the ``model``/``environment``/``kinds``
filters go by the layout (a file the layout does not know has no kind). The index's
schema includes a digest of ``layout.py``, so a layout that learns a new kind rebuilds
the index rather than answer with old kinds. Merges have no changes (as ``git log
--raw`` shows them), so their events come from their trailers alone. Order is ``git
log``'s for the commits new since an indexed tip, put before that tip's own order: the
same as ``git log`` on a linear history; after a merge of a branch whose commits are
older than the merge base's newest, the branch's commits come at the merge (topological
order) where ``git log`` would interleave them by date. Signatures are not recorded: a
caller that needs them asks git (``git verify-commit``) for the commits it cares about.

verify opens it with ``write_behind=True``: a first build of up to :data:`KEEP` commits is
answered from the records just read, and written by a forked process meanwhile (waited for
before this process exits, and before the file is opened again).

A missing, corrupt or foreign index file is rebuilt from git; a read-only repository
gets an index in memory for the run. A registry in a subfolder of its repository has an
index file of its own (paths and changes are relative to its root).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlrelease.errors import MlreleaseError, NotFound
from mlrelease.registry import layout
from mlrelease.registry.cache import Store, StoreOwner
from mlrelease.registry.gitio import git, git_dir
from mlrelease.registry.loader import Registry

SCHEMA = "2"
FILE = "commits-v2.sqlite"  # the index of a registry at the repository's root
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS commits (
    oid TEXT PRIMARY KEY, parents TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL, committer TEXT NOT NULL,
    committed TEXT NOT NULL, message TEXT NOT NULL, touched INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    oid TEXT NOT NULL, n INTEGER NOT NULL, path TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
    kind TEXT, model TEXT, environment TEXT, PRIMARY KEY (oid, n));
CREATE INDEX IF NOT EXISTS changes_by_model ON changes (model);
CREATE INDEX IF NOT EXISTS changes_by_environment ON changes (environment);
CREATE INDEX IF NOT EXISTS changes_by_kind ON changes (kind);
CREATE TABLE IF NOT EXISTS chain (id INTEGER NOT NULL, seq INTEGER NOT NULL, oid TEXT NOT NULL, fp INTEGER NOT NULL,
    PRIMARY KEY (id, seq));
CREATE INDEX IF NOT EXISTS chain_by_oid ON chain (oid);
CREATE TABLE IF NOT EXISTS tips (tip TEXT NOT NULL, prefix TEXT NOT NULL, chain INTEGER NOT NULL, length INTEGER NOT NULL,
    PRIMARY KEY (tip, prefix));
"""
READ_BATCH = 20_000  # at most this many commits per git log call on a first build
READ_SPLIT = 2_000  # and a history longer than this is split between the cores (git does the diffs)
FETCH = 1000  # records per read from the index: a limited history stops after the first page or two
KEEP = 20_000  # a first build of at most this many commits answers this run from the records it read, not the file
WRITE_BEHIND = 2_000  # and one of at least this many is written by a forked process while the caller works (write_behind=True)


@dataclass(frozen=True)
class CommitRecord:
    oid: str
    parents: tuple[str, ...]
    author: str
    at: datetime
    committer: str
    committed: datetime
    message: str
    changes: tuple[tuple[str, str, str], ...]
    touched: bool


class CommitLog(StoreOwner):
    """The indexed history of the registry at ``reg.ref`` (or HEAD), or at the commit ``tip`` (verify's resumes)."""

    def __init__(self, reg: Registry, tip: str | None = None, *, write_behind: bool = False) -> None:
        """``write_behind``: a first build is written to the file by a forked process, so that the caller
        (verify) goes on with the records at once; the process is waited for before this one exits, and
        before any other CommitLog of the same file is opened. Only unfiltered :meth:`commits` are
        answered without waiting for it.
        """
        if reg.git_root is None:
            raise MlreleaseError(f"history is read from git, and {reg.root} is not in a git repository")
        self.git_root = reg.git_root
        prefix = Path(reg.root).resolve().relative_to(Path(reg.git_root).resolve()).as_posix()
        self.prefix = "" if prefix == "." else prefix + "/"
        path = git_dir(reg.git_root) / "mlrelease" / _file_name(self.prefix)
        _join(path)  # a first build still being written by a forked process: wait for it, then read it
        self.store = Store(path, _TABLES, _schema)
        self._write_behind = write_behind
        self._pending = False  # a forked writer has this first build still to write (_settle waits)
        # The records of a first build, newest first, while this object lives: reading back what was just
        # written cost a cold verify 0.2-0.3 s at 15,539 commits. Longer histories are read back page by page
        # (held whole, 124,566 records are over 200 MB).
        self._fresh: list[CommitRecord] | None = None
        rev = tip or reg.ref or "HEAD"
        proc = git(self.git_root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            if tip is not None or reg.ref is not None:
                raise NotFound(f"--ref {rev!r}: no such commit")
            self.tip: str | None = None  # a repository without commits has no history yet
            self._chain, self._length = 0, 0
            return
        self.tip = tip_oid = proc.stdout.decode().strip()
        self._chain, self._length = self.store.answer(lambda: self._ensure(tip_oid))  # a corrupt file: from nothing, once

    @property
    def db(self) -> sqlite3.Connection:
        return self.store.db

    # ---- keeping it current --------------------------------------------------------------------------

    def _ensure(self, tip: str) -> tuple[int, int]:
        row = self.db.execute("SELECT chain, length FROM tips WHERE tip = ? AND prefix = ?", (tip, self.prefix)).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        base = self._indexed_ancestor(tip)
        if base is not None:
            old_tip, chain, length = base
            new = _rev_list(self.git_root, f"{old_tip}..{tip}")
            fp = _first_parent_line(self.git_root, tip, old_tip)
            if fp is not None:
                return self._extend(tip, chain, length, new, fp)
        with ThreadPoolExecutor(max_workers=1) as pool:  # the two walks of the whole history side by side (each is git's work)
            line = pool.submit(_first_parent_line, self.git_root, tip, None)
            new = _rev_list(self.git_root, tip)
            fp = line.result() or set()
        return self._extend(tip, None, 0, new, fp)

    def _indexed_ancestor(self, tip: str) -> tuple[str, int, int] | None:
        """The longest indexed tip that ``tip`` descends from (a few candidates are tried)."""
        rows = self.db.execute(
            "SELECT tip, chain, length FROM tips WHERE prefix = ? ORDER BY length DESC LIMIT 8", (self.prefix,)
        ).fetchall()
        for old, chain, length in rows:
            if git(self.git_root, "merge-base", "--is-ancestor", str(old), tip, check=False).returncode == 0:
                return str(old), int(chain), int(length)
        return None

    def _extend(self, tip: str, chain: int | None, length: int, new: list[str], fp: set[str]) -> tuple[int, int]:
        """Record ``new`` (newest first) on top of ``chain[:length]``; read the commits not yet recorded."""
        known = {str(oid) for (oid,) in self.store.select("SELECT oid FROM commits WHERE oid IN ({marks})", new)}  # 500 a query
        unknown = [oid for oid in new if oid not in known]
        cores = os.cpu_count() or 1
        size = min(READ_BATCH, max(READ_SPLIT, -(-len(unknown) // cores)))
        batches = [unknown[i : i + size] for i in range(0, len(unknown), size)]
        keep: list[CommitRecord] | None = [] if chain is None and not known and len(new) <= KEEP else None
        behind = keep is not None and self._write_behind and len(new) >= WRITE_BEHIND and self.store.path is not None
        behind = behind and _alone() and self.db.execute("PRAGMA database_list").fetchone()[2] != ""  # not in memory
        # A first build reads on every core: git does the diffs, so one git per core.
        with ThreadPoolExecutor(max_workers=max(1, min(len(batches), cores))) as pool:
            for records in pool.map(lambda batch: _read(self.git_root, batch, self.prefix), batches):
                if not behind:
                    self._store(records)
                if keep is not None:
                    keep += records
        if keep is not None and [r.oid for r in keep] == new:  # git log --no-walk=unsorted gives them in the order asked
            self._fresh = keep
        if behind and self._fresh is not None:
            return self._write_in_child(tip, new, fp)
        if behind:
            assert keep is not None
            self._store(keep)
        return self._record(tip, chain, length, new, fp)

    def _write_in_child(self, tip: str, new: list[str], fp: set[str]) -> tuple[int, int]:
        """Fork a process that writes the first build's records and chain (the same two transactions)."""
        assert self._fresh is not None and self.store.path is not None
        records, path = self._fresh, self.store.path
        # SQLite keeps per-process state of each open file (its locks among them) that a forked child
        # would inherit and trust: so no connection of this file is open across the fork. The parent
        # opens it again once the writer is done (_settle).
        self.store.close()
        pid = os.fork()
        if pid == 0:  # the writer: its own connection; the parent's is never touched here
            code = 1
            try:
                _close_inherited()
                self.store = Store(path, _TABLES, _schema)
                self._store(records)
                self._record(tip, None, 0, new, fp)
                self.store.close()
                code = 0
            finally:
                os._exit(code)  # no atexit, no finalizers of what the parent owns
        _WRITERS[path] = pid
        self._pending = True
        return 0, len(new)  # the chain's id is the writer's: asked of the file once it is written (_settle)

    def _settle(self) -> None:
        """Wait for a write-behind of this log, then answer from the file."""
        if self._pending:
            _join(self.store.path)
            self._pending = False
            self.store = Store(self.store.path, _TABLES, _schema)
            row = self.db.execute("SELECT chain, length FROM tips WHERE tip = ? AND prefix = ?", (self.tip, self.prefix)).fetchone()
            if row is None:  # the writer failed: build again, here
                self._fresh = None
                self._write_behind = False
                assert self.tip is not None
                self._chain, self._length = self.store.answer(lambda: self._ensure(str(self.tip)))
            else:
                self._chain, self._length = int(row[0]), int(row[1])

    def _record(self, tip: str, chain: int | None, length: int, new: list[str], fp: set[str]) -> tuple[int, int]:
        """The chain of ``new`` (newest first) on top of ``chain[:length]``, and the tip, in one transaction."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if chain is not None:
                end = db.execute("SELECT MAX(seq) FROM chain WHERE id = ?", (chain,)).fetchone()[0]
                if end is not None and int(end) != length - 1:  # another tip grew this chain: copy our part
                    fresh = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chain").fetchone()[0])
                    db.execute("INSERT INTO chain SELECT ?, seq, oid, fp FROM chain WHERE id = ? AND seq < ?", (fresh, chain, length))
                    chain = fresh
            else:
                chain = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chain").fetchone()[0])
            rows = [(chain, length + i, oid, int(oid in fp)) for i, oid in enumerate(reversed(new))]
            db.executemany("INSERT INTO chain VALUES (?, ?, ?, ?)", rows)
            total = length + len(new)
            db.execute("INSERT OR REPLACE INTO tips VALUES (?, ?, ?, ?)", (tip, self.prefix, chain, total))
            db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return chain, total

    def _store(self, records: list[CommitRecord]) -> None:
        commits, changes = [], []
        for r in records:
            commits.append(
                (r.oid, " ".join(r.parents), r.author, r.at.isoformat(), r.committer, r.committed.isoformat(), r.message, int(r.touched))
            )
            for n, (path, old, new) in enumerate(r.changes):
                loc = layout.locate(path)
                kind, model, env = (loc.kind, loc.model, loc.environment) if isinstance(loc, layout.Located) else (None, None, None)
                changes.append((r.oid, n, path, old, new, kind, model, env))
        self.store.write(
            ("INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?)", commits),
            ("INSERT OR IGNORE INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", changes),
        )

    # ---- questions ---------------------------------------------------------------------------------------

    def commits(
        self,
        *,
        model: str | None = None,
        environment: str | None = None,
        kinds: tuple[str, ...] | None = None,
        untouched: bool = False,
        since: str | None = None,
    ) -> Iterator[CommitRecord]:
        """Commits reachable from the tip, newest first; with filters, only those that changed such a file.

        ``untouched``: with a filter, also the commits that changed no file at all (an
        imported tag that changed nothing carries its event in its trailers alone).
        """
        if self.tip is None:
            return
        if self._fresh is not None and model is None and environment is None and kinds is None:
            wanted = self._since(since) if since is not None else None
            yield from (r for r in self._fresh if wanted is None or r.oid in wanted)
            return
        self._settle()
        where: list[str] = ["k.id = ?", "k.seq < ?"]
        params: list[object] = [self._chain, self._length]
        wanted = self._since(since) if since is not None else None
        filters = []
        if model is not None:
            filters.append("x.model = ?")
            params.append(model)
        if environment is not None:
            filters.append("x.environment = ?")
            params.append(environment)
        if kinds is not None:
            filters.append(f"x.kind IN ({','.join('?' * len(kinds))})")
            params += list(kinds)
        if filters:
            clause = f"k.oid IN (SELECT x.oid FROM changes x WHERE {' AND '.join(filters)})"  # noqa: S608 - fixed clauses, values bound
            where.append(f"({clause} OR c.touched = 0)" if untouched else clause)
        sql = (
            "SELECT c.oid, c.parents, c.author, c.at, c.committer, c.committed, c.message, c.touched FROM chain k "  # noqa: S608
            f"JOIN commits c ON c.oid = k.oid WHERE {' AND '.join(where)} ORDER BY k.seq DESC"
        )
        page: list[tuple[object, ...]] = []
        cursor = self.db.execute(sql, params)
        while True:
            page = cursor.fetchmany(FETCH)
            if not page:
                return
            if wanted is not None:
                page = [r for r in page if r[0] in wanted]
            changes = self._changes([str(r[0]) for r in page]) if page else {}
            for oid, parents, author, at, committer, committed, message, touched in page:
                if wanted is not None:
                    wanted.discard(str(oid))
                yield CommitRecord(
                    str(oid),
                    tuple(str(parents).split()),
                    str(author),
                    datetime.fromisoformat(str(at)),
                    str(committer),
                    datetime.fromisoformat(str(committed)),
                    str(message),
                    changes.get(str(oid), ()),
                    bool(touched),
                )
            if wanted is not None and not wanted:
                return  # every commit since the revision was given

    def _changes(self, oids: list[str]) -> dict[str, tuple[tuple[str, str, str], ...]]:
        out: dict[str, list[tuple[str, str, str]]] = {}
        marks = ",".join("?" * len(oids))
        for oid, path, old, new in self.db.execute(f"SELECT oid, path, old, new FROM changes WHERE oid IN ({marks}) ORDER BY oid, n", oids):  # noqa: S608
            out.setdefault(str(oid), []).append((str(path), str(old), str(new)))
        return {k: tuple(v) for k, v in out.items()}

    def _since(self, rev: str) -> set[str]:
        """Commits reachable from the tip and not from ``rev``."""
        proc = git(self.git_root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            raise NotFound(f"no such commit: {rev!r}")
        return set(_rev_list(self.git_root, f"{proc.stdout.decode().strip()}..{self.tip}"))

    def commit(self, oid: str) -> CommitRecord | None:
        self._settle()
        row = self.db.execute(
            "SELECT oid, parents, author, at, committer, committed, message, touched FROM commits WHERE oid = ?", (oid,)
        ).fetchone()
        if row is None:
            return None
        changes = self._changes([oid]).get(oid, ())
        return CommitRecord(
            str(row[0]), tuple(str(row[1]).split()), str(row[2]), datetime.fromisoformat(str(row[3])), str(row[4]),
            datetime.fromisoformat(str(row[5])), str(row[6]), changes, bool(row[7]),
        )  # fmt: skip


def _file_name(prefix: str) -> str:
    """One index file per registry root inside the repository: records' paths are relative to it."""
    if not prefix:
        return FILE
    return f"{FILE.removesuffix('.sqlite')}-{hashlib.sha1(prefix.encode('utf-8', 'surrogateescape'), usedforsecurity=False).hexdigest()[:12]}.sqlite"


def _schema() -> str:
    """The tables' format and the layout's code: the kinds, models and environments of changes come from it."""
    if not _LAYOUT:
        source = Path(layout.__file__).read_bytes()
        _LAYOUT.append(hashlib.sha1(source, usedforsecurity=False).hexdigest()[:16])
    return f"{SCHEMA}:{_LAYOUT[0]}"


_LAYOUT: list[str] = []
_WRITERS: dict[Path, int] = {}  # index file -> the forked process writing a first build of it (write_behind)


def _join(path: Path | None = None) -> None:
    """Wait for the writers of ``path`` (None: all; at exit, so that a run ends with its log written)."""
    for p, pid in list(_WRITERS.items()):
        if path is None or p == path:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            _WRITERS.pop(p, None)


atexit.register(_join)


def _alone() -> bool:
    """Whether a writer may be forked: this process has one thread (the TUI verifies in a worker thread,
    and a fork there could inherit a lock another thread holds, e.g. SQLite's, and hang the writer)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _close_inherited() -> None:
    """In the writer: close what it inherited past stdio (the parent's pipes to git, its other index files).

    Whoever waits for the end of the parent's pipes (git cat-file's stdin, a caller reading a
    pipe) must not wait for the writer too; SQLite files of the parent are not the writer's to touch.
    """
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 256))
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


# ---- reading git ------------------------------------------------------------------------------------------


def _rev_list(git_root: Path, spec: str) -> list[str]:
    return git(git_root, "rev-list", spec, "--", timeout=600).stdout.decode().split()


def _first_parent_line(git_root: Path, tip: str, stop: str | None) -> set[str] | None:
    """Commits on the tip's first-parent line (down to ``stop``); None when ``stop`` is not on that line."""
    spec = tip if stop is None else f"{stop}..{tip}"
    line = git(git_root, "rev-list", "--first-parent", "--reverse", spec, "--", timeout=600).stdout.decode().split()
    if stop is not None:
        if not line:
            return None
        first_parent = git(git_root, "rev-parse", "--verify", "--quiet", f"{line[0]}^1", check=False).stdout.decode().strip()
        if first_parent != stop:
            return None  # the old tip came in through a merge's second parent: its order is not ours
    return set(line)


def _read(git_root: Path, oids: list[str], prefix: str) -> list[CommitRecord]:
    """Records of these commits, one ``git log --no-walk`` for all of them."""
    token = secrets.token_hex(8)
    fmt = f"%x00{token}%x00%H%n%P%n%aI%n%an <%ae>%n%cI%n%cn <%ce>%n%B"  # git strips newlines from names
    args = ["log", "--no-walk=unsorted", "--stdin", "-z", "--raw", "--no-abbrev", "--no-renames", "--no-color", f"--format={fmt}"]
    out = git(git_root, *args, input=("\n".join(oids) + "\n").encode(), timeout=1200).stdout
    records = []
    for chunk in out.split(f"\0{token}\0".encode())[1:]:
        records.append(_parse(chunk, prefix))
    return records


def _parse(chunk: bytes, prefix: str) -> CommitRecord:
    text, _, raw = chunk.partition(b"\0")
    oid, parents, at, author, committed, committer, message = text.decode("utf-8", "replace").split("\n", 6)
    fields = raw.lstrip(b"\n").split(b"\0")
    changes = []
    touched = False
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.decode("ascii", "replace").split()
        if len(parts) < 5 or not meta.startswith(b":"):
            continue
        touched = True
        rel = path.decode("utf-8", "surrogateescape")
        if rel.startswith(prefix):
            changes.append((rel[len(prefix) :], parts[2], parts[3]))
    return CommitRecord(
        oid,
        tuple(parents.split()),
        author,
        datetime.fromisoformat(at),
        committer,
        datetime.fromisoformat(committed),
        message,
        tuple(changes),
        touched,
    )
