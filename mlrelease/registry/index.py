"""Indexes of the registry, so a question about every manifest does not parse every manifest.

Three questions need every file of their kind, and each has an index here:

* **data set → versions** — which model versions were trained, validated or tested on a
  data set (``lineage --dataset NAME@VERSION``, or ``NAME`` for any version of it);
* **parent → children** — which versions of a model name a version as their parent
  (``lineage MODEL@VERSION``);
* **consumer → models** — which models an application calls, and where (issue 14's
  reverse query).

**Content-addressed, so never stale.** Every row is a fact about one blob — a version
manifest or a model.yaml — stored under the blob's git id and its path. A query takes the
blob ids of the registry being read (the work tree, or any ref: :meth:`Registry.blob_ids`)
and keeps only the rows of those blobs, so an edited, added, deleted or checked-out file
is seen at once, and two refs share every row of the files they have in common.

**Incremental.** Before answering, :meth:`Indexes._ensure` makes sure every current blob
has its facts: the files are grouped by folder, a folder whose sorted (path, blob id)
list was fully indexed before is skipped by one digest lookup, and only blobs never seen
are parsed — in worker processes on every core when there are many (a first build,
:mod:`.parallel`), in this process when a few versions were registered since.

**Broken files cost time, never answers.** The index is one SQLite file under
``.git/mlrelease/`` (never committed). If it is missing, unreadable, from another schema
or corrupt, it is deleted and built again from the registry; if it cannot be written at
all (a read-only repository), the same facts are kept in memory for this run. A manifest
that does not parse is a fact too (its problems), so the answers name it as the
parse-everything path did.

The release history has its own index (:mod:`.commitlog`); lint's per-file results are
cached by :mod:`.lintcache`; ``check``'s health inputs per live version
(:mod:`mlrelease.telemetry.inputs`) are kept in this file's ``derived`` table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mlrelease.errors import ManifestError, MlreleaseError, Problem
from mlrelease.registry import cache, layout
from mlrelease.registry.cache import code_version
from mlrelease.registry.gitio import blob_id, git_dir
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import sort_versions
from mlrelease.registry.parallel import map_files, pooled
from mlrelease.registry.parse import parse_blob
from mlrelease.registry.types import Model, Version

T = TypeVar("T")
FORMAT = "2"  # bump when the tables change
FILE = "index-v1.sqlite"
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    oid TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, model TEXT, ok INTEGER NOT NULL,
    parent TEXT, problems TEXT, PRIMARY KEY (oid, path));
CREATE INDEX IF NOT EXISTS files_by_parent ON files (model, parent);
CREATE INDEX IF NOT EXISTS files_broken ON files (ok, kind);
CREATE TABLE IF NOT EXISTS uses (
    oid TEXT NOT NULL, path TEXT NOT NULL, n INTEGER NOT NULL, role TEXT NOT NULL, dataset TEXT NOT NULL,
    dsversion TEXT NOT NULL, UNIQUE (oid, path, n));
CREATE INDEX IF NOT EXISTS uses_by_dataset ON uses (dataset, dsversion);
CREATE TABLE IF NOT EXISTS consumers (
    oid TEXT NOT NULL, path TEXT NOT NULL, n INTEGER NOT NULL, consumer TEXT NOT NULL, environments TEXT NOT NULL,
    UNIQUE (oid, path, n));
CREATE INDEX IF NOT EXISTS consumers_by_name ON consumers (consumer);
CREATE TABLE IF NOT EXISTS folders (digest TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS lint (key TEXT PRIMARY KEY, problems TEXT NOT NULL, questions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS derived (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Facts:
    """What the index keeps of one blob (a worker's answer: small, and picklable)."""

    oid: str | None  # of the bytes actually parsed; None: the file could not be read
    path: str
    kind: str  # version | model
    ok: bool
    parent: str | None = None
    problems: tuple[Problem, ...] = ()
    uses: tuple[tuple[str, str, str], ...] = ()  # (role, dataset, data set version), in the manifest's order
    consumers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (application, environments)
    error: str | None = None  # why the file could not be read


def facts_of(kind: str, path: str, data: bytes | MlreleaseError) -> Facts:
    """Parse one file into its facts (runs in worker processes)."""
    if isinstance(data, MlreleaseError):
        return Facts(None, path, kind, False, error=str(data))
    oid = blob_id(data)
    try:
        value = parse_blob(kind, data, path)  # the one way a file is read, its place checked too
    except ManifestError as exc:
        return Facts(oid, path, kind, False, problems=tuple(exc.problems))
    assert isinstance(value, Version | Model)
    return facts_of_parsed(oid, path, value)


def facts_of_parsed(oid: str, path: str, value: Version | Model) -> Facts:
    """The facts of a manifest already parsed (lint hands over what it parsed anyway)."""
    if isinstance(value, Version):
        uses = tuple((role, ref.dataset, ref.version) for role, ref in value.data.items())
        return Facts(oid, path, "version", True, parent=value.parent, uses=uses)
    return Facts(oid, path, "model", True, consumers=tuple((c.name, c.environments) for c in value.consumers))


@dataclass(frozen=True)
class Use:
    model: str
    version: str
    roles: tuple[str, ...]  # in the manifest's order
    used: tuple[str, ...]  # the data set's version per role


class Store(cache.Store):
    """The index file: :class:`~mlrelease.registry.cache.Store` with the facts' tables."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path, _TABLES, schema)

    def add(self, facts: Iterable[Facts], folders: Iterable[str]) -> None:
        files, uses, consumers = [], [], []
        for f in facts:
            assert f.oid is not None
            model = f.path.split("/")[1]
            problems = json.dumps([[p.path, p.line, p.message] for p in f.problems]) if f.problems else None
            files.append((f.oid, f.path, f.kind, model, int(f.ok), f.parent, problems))
            uses += [(f.oid, f.path, n, role, ds, dsv) for n, (role, ds, dsv) in enumerate(f.uses)]
            consumers += [(f.oid, f.path, n, app, json.dumps(list(envs))) for n, (app, envs) in enumerate(f.consumers)]
        self.write(
            ("INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", files),
            ("INSERT OR IGNORE INTO uses VALUES (?, ?, ?, ?, ?, ?)", uses),
            ("INSERT OR IGNORE INTO consumers VALUES (?, ?, ?, ?, ?)", consumers),
            ("INSERT OR IGNORE INTO folders VALUES (?)", [(d,) for d in folders]),
        )

    def derived(self, keys: list[str]) -> dict[str, bytes]:
        """Facts that code above the registry derived from blobs (check's health inputs), by their keys.

        The key names every blob the fact came from (its caller's business); the value is
        the caller's bytes, which it must check and may refuse (then it computes the fact
        again and :meth:`keep_derived` replaces it).
        """
        return {str(k): v for k, v in self.select("SELECT key, value FROM derived WHERE key IN ({marks})", keys) if isinstance(v, bytes)}

    def keep_derived(self, items: Sequence[tuple[str, bytes]]) -> None:
        self.write(("INSERT OR REPLACE INTO derived VALUES (?, ?)", items))


def schema() -> str:
    """The tables' format and the parser's code: an index written by other code is rebuilt, not read."""
    return f"{FORMAT}:{code_version()}"


def index_path(reg: Registry) -> Path | None:
    """Where the index file of ``reg`` lives (None outside git: the index is then kept in memory)."""
    return git_dir(reg.git_root) / "mlrelease" / FILE if reg.git_root is not None else None


def _digest(entries: list[tuple[str, str]]) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for path, oid in sorted(entries):
        h.update(f"{path}\0{oid}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _problems(text: object) -> list[Problem]:
    return [Problem(p, line, message) for p, line, message in json.loads(str(text))] if text else []


class Indexes(cache.StoreOwner):
    """The indexes of one registry as it is now (its work tree or its ref)."""

    store: Store  # the index file's own Store (with its facts' tables)

    def __init__(self, reg: Registry, *, store: Store | None = None) -> None:
        self.reg = reg
        self.store = store or Store(index_path(reg))
        self._files: dict[str, dict[str, str]] = {}  # kind → path → blob id, for the registry being read

    # ---- keeping it current ------------------------------------------------------------------

    def files(self, kind: str) -> dict[str, str]:
        """Path → blob id of every file of ``kind`` (version | model) in the registry being read."""
        if not self._files:  # one listing and one blob-id lookup for both kinds
            kinds: dict[str, str] = {}
            for path in self.reg.source.files(layout.MODELS):
                loc = layout.locate(path)
                if isinstance(loc, layout.Located) and loc.kind in ("version", "model"):
                    kinds[path] = loc.kind
            oids = self.reg.blob_ids(list(kinds))
            self._files = {"version": {}, "model": {}}
            for path, k in kinds.items():
                self._files[k][path] = oids[path]
        return self._files[kind]

    def _folder_files(self, model: str) -> dict[str, str]:
        """Path → blob id of ``model``'s version manifests only.

        A question about one model lists and hashes that model's folder, not the whole
        registry's 100,000 files (0.7 s at 100k): a model's few hundred manifests are
        hashed here, below :data:`~.source.BULK_AT`, without asking git's index at all.
        """
        folder = layout.versions_folder(model)  # ends in /
        if self._files:
            return {p: o for p, o in self._files["version"].items() if p.startswith(folder)}
        paths = [p for p in self.reg.source.files(folder) if _is_version(p)]
        return self.reg.blob_ids(paths)

    def _ensure(self, kind: str) -> dict[str, str]:
        """Facts for every current file of ``kind``; returns path → blob id."""
        files = self.files(kind)
        self._index(kind, files)
        return files

    def _index(self, kind: str, files: dict[str, str]) -> None:
        folders: dict[str, list[tuple[str, str]]] = {}
        for path, oid in files.items():
            folders.setdefault(path.rsplit("/", 1)[0] if kind == "version" else "models", []).append((path, oid))
        digest_of = {folder: _digest(entries) for folder, entries in folders.items()}
        done = {str(d) for (d,) in self.store.select("SELECT digest FROM folders WHERE digest IN ({marks})", list(digest_of.values()))}
        todo_folders = [folder for folder, d in digest_of.items() if d not in done]
        if not todo_folders:
            return
        wanted = [(path, oid) for folder in todo_folders for path, oid in folders[folder]]
        known = {
            (str(oid), str(path))
            for oid, path in self.store.select("SELECT oid, path FROM files WHERE oid IN ({marks})", sorted({o for _p, o in wanted}))
        }
        todo = [(kind, path, oid) for path, oid in wanted if (oid, path) not in known]
        found: list[Facts] = []
        complete = {digest_of[folder] for folder in todo_folders}
        for f in self._facts(todo):
            if f.error is not None:
                raise MlreleaseError(f.error)
            if f.oid != files.get(f.path):  # changed while we read it: keep what was read, vouch for its folder no more
                complete.discard(digest_of[_folder_of(kind, f.path)])
            found.append(f)
            if len(found) >= 5000:
                self.store.add(found, ())
                found = []
        self.store.add(found, complete)

    def _facts(self, todo: list[tuple[str, str, str]]) -> Iterable[Facts]:
        """The facts of files never indexed: in worker processes when there are many, else parsed here.

        Parsed here, they go through the registry's own parse (its cache and memo), so a
        command that reads the same manifests next (``lineage``'s parent chain walks most of
        a model's versions) does not parse them a second time.
        """
        if pooled(len(todo)):
            yield from map_files(todo, facts_of, self.reg.source)
            return
        results = self.reg.parse_many([(kind, path) for kind, path, _oid in todo])
        for kind, path, _oid in todo:
            status, value = results[(kind, path)]
            oid = self.reg.read_oid(kind, path)
            assert oid is not None  # parse_many raises for a file it cannot read
            yield facts_of_parsed(oid, path, value) if status == "ok" else Facts(oid, path, kind, False, problems=tuple(value))

    # ---- questions ---------------------------------------------------------------------------------

    def dataset_uses(self, name: str, version: str | None = None) -> tuple[list[Use], list[Problem]]:
        """Every version that used ``name`` (at ``version``, or at any version), by model then version.

        Models are those with a model.yaml, as everywhere. The problems are those of every version manifest that does not parse: it may have
        used the data set, and the answer must say it could not tell.
        """
        return self.store.answer(lambda: self._dataset_uses(name, version))

    def _dataset_uses(self, name: str, version: str | None = None) -> tuple[list[Use], list[Problem]]:
        models = {path.split("/")[1] for path in self.files("model")}  # a folder without model.yaml is no model
        files = {p: o for p, o in self._ensure("version").items() if p.split("/")[1] in models}
        sql = "SELECT oid, path, n, role, dsversion FROM uses WHERE dataset = ?"
        rows = (
            self.store.db.execute(sql, (name,)) if version is None else self.store.db.execute(sql + " AND dsversion = ?", (name, version))
        )
        found: dict[str, list[tuple[int, str, str]]] = {}
        for oid, path, n, role, dsv in rows:
            if files.get(str(path)) == oid:
                found.setdefault(str(path), []).append((int(n), str(role), str(dsv)))
        by_model: dict[str, dict[str, Use]] = {}
        for path, refs in found.items():
            loc = layout.locate(path)
            assert isinstance(loc, layout.Located) and loc.model is not None and loc.version is not None
            refs.sort()
            by_model.setdefault(loc.model, {})[loc.version] = Use(
                loc.model, loc.version, tuple(r for _, r, _ in refs), tuple(u for _, _, u in refs)
            )
        uses: list[Use] = []
        for model in sorted(by_model):
            uses.extend(by_model[model][v] for v in sort_versions(by_model[model]))
        return uses, self._broken(files, None)

    def children(self, model: str, version: str) -> tuple[list[str], list[Problem]]:
        """Versions of ``model`` whose parent is ``version``, oldest first; and the problems of its unreadable manifests."""
        return self.store.answer(lambda: self._children(model, version))

    def _children(self, model: str, version: str) -> tuple[list[str], list[Problem]]:
        files = self._folder_files(model)
        self._index("version", files)  # only this model's folder: `show MODEL@VERSION` must not index the whole registry
        rows = self.store.db.execute("SELECT oid, path FROM files WHERE model = ? AND parent = ?", (model, version))
        out = []
        for oid, path in rows:
            loc = layout.locate(str(path))
            if files.get(str(path)) == oid and isinstance(loc, layout.Located) and loc.version and loc.version != version:
                out.append(loc.version)
        return sort_versions(out), self._broken(files, model)

    def consumers(self, application: str) -> list[tuple[str, tuple[str, ...]]]:
        """(model, environments) for every model whose model.yaml names ``application`` as a consumer."""
        return self.store.answer(lambda: self._consumers(application))

    def _consumers(self, application: str) -> list[tuple[str, tuple[str, ...]]]:
        files = self._ensure("model")
        rows = self.store.db.execute("SELECT oid, path, environments FROM consumers WHERE consumer = ? ORDER BY path, n", (application,))
        out = []
        for oid, path, envs in rows:
            if files.get(str(path)) == oid:
                out.append((str(path).split("/")[1], tuple(json.loads(str(envs)))))
        return out

    def _broken(self, files: dict[str, str], model: str | None) -> list[Problem]:
        rows = self.store.db.execute("SELECT oid, path, problems FROM files WHERE ok = 0 AND kind = 'version'")
        broken = {str(path): _problems(text) for oid, path, text in rows if files.get(str(path)) == oid}
        if model is not None:
            names = sort_versions(p[len(layout.versions_folder(model)) : -len(layout.SUFFIX)] for p in broken)
            return [p for v in names for p in broken[layout.version_path(model, v)]]
        order = sorted(broken, key=_model_then_version)
        return [p for path in order for p in broken[path]]


def _is_version(path: str) -> bool:
    loc = layout.locate(path)
    return isinstance(loc, layout.Located) and loc.kind == "version"


def _folder_of(kind: str, path: str) -> str:
    return path.rsplit("/", 1)[0] if kind == "version" else "models"


def _model_then_version(path: str) -> tuple[str, object]:
    from mlrelease.registry.names import version_key

    parts = path.split("/")
    return parts[1], version_key(parts[-1][: -len(layout.SUFFIX)])
