"""Lint's verdict on each file, cached: a warm lint of 100,000 manifests reads rows, not YAML.

What lint says about one file depends on three things: the file's bytes, mlrelease.yaml
(conventions, the metric catalogue) and what else exists (a parent version, a data set
version, a model folder). The first two are blob ids; the third is not one thing, so it
is *recorded*: the checks run against an :class:`~mlrelease.registry.lint.Index` whose
sets remember every question asked of them ("is 1.3.0 a version of fraud-card?") and
the answer. A cached verdict is reused only when the file and mlrelease.yaml are the same
blobs *and* every recorded question has the same answer in the registry now — so
registering a version re-lints only the files that asked about it, never the 99,999
others, and a verdict is never stale.

**Whole folders at once.** A folder whose files are all the same blobs as when its row
was written (keyed by mlrelease.yaml's blob id and every kind, blob id and path in it)
has one row too: its files' problems and the union of their questions, used while every
one of those questions has the same answer — exactly when each file's own row would be.
A model folder of 300 versions then costs one row and its few distinct questions.

Misses are parsed and checked on every core (:mod:`.parallel`), each worker reading its
own files; only the verdicts come back (problems and the questions, a few hundred bytes),
so memory stays flat however big the registry is. Verdicts live in the index file
(:mod:`.index`), and a corrupt file is rebuilt like the rest of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from mlrelease.errors import ManifestError, MlreleaseError, Problem
from mlrelease.registry.cache import corrupt
from mlrelease.registry.gitio import blob_id
from mlrelease.registry.index import Facts, Store, facts_of_parsed, index_path
from mlrelease.registry.layout import Located
from mlrelease.registry.loader import Registry
from mlrelease.registry.parallel import map_files
from mlrelease.registry.parse import parse_blob
from mlrelease.registry.types import Model, Version

Check = Callable[[object, Located, Any, Any], list[Problem]]
Question = tuple[Any, ...]  # (kind, *names, answer)


class _Asked:
    """A set that remembers each membership question and its answer."""

    __slots__ = ("_items", "_log", "_tag")

    def __init__(self, items: Any, log: list[Question], tag: tuple[Any, ...]) -> None:
        self._items, self._log, self._tag = items, log, tag

    def __contains__(self, item: object) -> bool:
        answer = item in self._items
        self._log.append((*self._tag, item, answer))
        return answer

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("lint checks may only ask membership of the recorded index (see lintcache)")

    def __len__(self) -> int:
        raise TypeError("lint checks may only ask membership of the recorded index (see lintcache)")


class _AskedMap:
    """A mapping of name → set whose ``get`` and membership questions are remembered."""

    __slots__ = ("_items", "_log", "_tag")

    def __init__(self, items: dict[str, set[str]], log: list[Question], tag: str) -> None:
        self._items, self._log, self._tag = items, log, tag

    def get(self, key: str, default: Any = None) -> Any:
        found = self._items.get(key)
        self._log.append((f"{self._tag}?", key, found is not None))
        return _Asked(found, self._log, (self._tag, key)) if found is not None else default

    def __contains__(self, key: object) -> bool:
        answer = key in self._items
        self._log.append((f"{self._tag}?", key, answer))
        return answer


class Recorder:
    """An index that answers like ``index`` and writes down every question (duck-types lint.Index)."""

    def __init__(self, index: Any) -> None:
        self.log: list[Question] = []
        self.models = _Asked(index.models, self.log, ("m",))
        self.versions = _AskedMap(index.versions, self.log, "v")
        self.datasets = _AskedMap(index.datasets, self.log, "d")

    def has_version(self, model: str, version: str) -> bool:
        return version in self.versions.get(model, ())


def still_true(questions: list[Any], index: Any) -> bool:
    """Does every recorded question get the same answer from ``index``?"""
    for q in questions:
        tag = q[0]
        if tag == "m":
            answer = q[1] in index.models
        elif tag == "v?":
            answer = q[1] in index.versions
        elif tag == "d?":
            answer = q[1] in index.datasets
        elif tag == "v":
            answer = q[2] in index.versions.get(q[1], ())
        elif tag == "d":
            answer = q[2] in index.datasets.get(q[1], ())
        else:
            return False
        if answer != q[-1]:
            return False
    return True


# What each worker checks with: set before the pool forks.
_CONTEXT: dict[str, Any] = {}


Verdict = tuple[str | None, list[Problem], list[Question], Facts | None]


def _verdict(kind: str, path: str, data: bytes | MlreleaseError) -> Verdict:
    """(blob id, problems, questions, index facts) of one file (runs in worker processes).

    Version manifests and model.yaml also give their index facts (:mod:`.index`), so a
    cold lint builds the data set, children and consumer indexes on the way.
    """
    if isinstance(data, MlreleaseError):
        return None, [Problem(path, None, str(data))], [], None
    oid = blob_id(data)
    try:
        value = parse_blob(kind, data, path)
    except ManifestError as exc:
        facts = Facts(oid, path, kind, False, problems=tuple(exc.problems)) if kind in ("version", "model") else None
        return oid, list(exc.problems), [], facts
    facts = facts_of_parsed(oid, path, value) if isinstance(value, Version | Model) else None
    config, index, check, loc_of = _CONTEXT["config"], _CONTEXT["index"], _CONTEXT["check"], _CONTEXT["located"]
    if config is None:
        return oid, [], [], facts
    recorder = Recorder(index)
    return oid, check(value, loc_of[path], config, recorder), recorder.log, facts


def check_files(
    reg: Registry, located: list[Located], config: Any, config_oid: str | None, index: Any, check: Check
) -> Iterator[list[Problem]]:
    """Each file's problems (parse and checks), in no particular order; cached verdicts where still true."""
    store = Store(index_path(reg))
    try:
        yield from _check_files(reg, store, located, config, config_oid, index, check)
    finally:
        store.close()


def _key(loc: Located, oid: str, config_oid: str | None) -> str:
    return f"{loc.kind}:{oid}:{config_oid or '-'}:{loc.path}"  # the code that checked is the index file's schema


def _folder_key(locs: list[Located], oids: dict[str, str], config_oid: str | None) -> str:
    """A folder's row: every (kind, blob id, path) in it and mlrelease.yaml's blob id."""
    h = hashlib.sha1(f"{config_oid or '-'}\n".encode(), usedforsecurity=False)
    for loc in sorted(locs, key=lambda loc: loc.path):
        h.update(f"{loc.kind}:{oids[loc.path]}:{loc.path}\n".encode("utf-8", "surrogateescape"))
    return f"folder:{h.hexdigest()}"


def _rows(store: Store, keys: list[str]) -> dict[str, tuple[str, str]]:
    cached: dict[str, tuple[str, str]] = {}
    try:
        for key, problems, questions in store.select("SELECT key, problems, questions FROM lint WHERE key IN ({marks})", keys):
            cached[str(key)] = (str(problems), str(questions))
    except sqlite3.DatabaseError as exc:
        if corrupt(exc):
            store.rebuild()
        return {}  # busy: check everything this time
    return cached


def _held(hit: tuple[str, str] | None, index: Any) -> list[list[Any]] | None:
    """A cached verdict's problems (as dumped) when every question it recorded has the same answer now; else None."""
    if hit is None:
        return None
    try:
        if still_true(json.loads(hit[1]), index):
            return [] if hit[0] == "[]" else list(json.loads(hit[0]))  # most files: none
    except (ValueError, TypeError):
        pass  # a row we cannot read: check again
    return None


def _problems(dumped: list[list[Any]]) -> list[Problem]:
    return [Problem(p, line, m) for p, line, m in dumped]


def _check_files(
    reg: Registry, store: Store, located: list[Located], config: Any, config_oid: str | None, index: Any, check: Check
) -> Iterator[list[Problem]]:
    """Whole folders first (one row per folder whose files are all the same blobs), then file by file.

    A folder's row holds its files' problems and the union of their questions, so a warm
    lint of a model folder of 300 versions reads one row and answers its distinct questions
    once, instead of 300 rows; it holds exactly when every file's own verdict would.
    """
    oids = reg.blob_ids([loc.path for loc in located])
    folders: dict[str, list[Located]] = {}
    for loc in located:
        folders.setdefault(loc.path.rsplit("/", 1)[0], []).append(loc)
    folder_keys = {_folder_key(locs, oids, config_oid): folder for folder, locs in folders.items()}
    done = _rows(store, list(folder_keys))
    pending: list[Located] = []
    stale: list[str] = []  # folders whose row is missing or no longer holds
    for fkey, folder in folder_keys.items():
        held = _held(done.get(fkey), index)
        if held is not None:
            yield _problems(held)
        else:
            stale.append(fkey)
            pending.extend(folders[folder])
    keys = {_key(loc, oids[loc.path], config_oid): loc for loc in pending}
    cached = _rows(store, list(keys))
    rows: list[tuple[str, str, str]] = []
    gather = _Gather({fkey: folders[folder_keys[fkey]] for fkey in stale}, rows)
    todo: list[Located] = []
    for key, loc in keys.items():
        hit = cached.get(key)
        held = _held(hit, index)
        if held is not None and hit is not None:
            yield _problems(held)
            gather.add(loc.path, held, json.loads(hit[1]))
        else:
            todo.append(loc)
    _CONTEXT.update(config=config, index=index, check=check, located={loc.path: loc for loc in todo})
    facts: list[Facts] = []
    try:
        items = [(loc.kind, loc.path, oids[loc.path]) for loc in todo]
        for loc, (oid, problems, questions, fact) in zip(todo, map_files(items, _verdict, reg.source), strict=True):
            yield problems
            if oid is not None and oid == oids[loc.path]:  # not changed while we read it
                dumped = [[p.path, p.line, p.message] for p in problems]
                rows.append((_key(loc, oid, config_oid), json.dumps(dumped), json.dumps(questions)))
                gather.add(loc.path, dumped, questions)
                if fact is not None:
                    facts.append(fact)
            else:
                gather.lose(loc.path)
            if len(rows) >= 5000:
                _save(store, rows, facts)
                rows.clear()
                facts = []
    finally:
        _CONTEXT.clear()
    _save(store, rows, facts)


class _Gather:
    """Folder rows made as their last file's verdict comes in (then its files' verdicts are let go: memory stays flat)."""

    def __init__(self, folders: dict[str, list[Located]], rows: list[tuple[str, str, str]]) -> None:
        self._rows = rows
        self._folder = {loc.path: fkey for fkey, locs in folders.items() for loc in locs}
        self._left = {fkey: len(locs) for fkey, locs in folders.items()}
        self._parts: dict[str, tuple[list[list[Any]], dict[tuple[Any, ...], None]]] = {fkey: ([], {}) for fkey in folders}

    def add(self, path: str, dumped: list[list[Any]], questions: list[Any]) -> None:
        fkey = self._folder[path]
        parts = self._parts.get(fkey)
        if parts is None:  # a file of it was lost
            return
        parts[0].extend(dumped)
        parts[1].update((tuple(q), None) for q in questions)
        self._left[fkey] -= 1
        if not self._left[fkey]:  # every file's verdict known, of the blob keyed
            del self._parts[fkey]
            self._rows.append((fkey, json.dumps(parts[0]), json.dumps([list(q) for q in parts[1]])))

    def lose(self, path: str) -> None:
        """A file changed while it was read (or could not be): no row for its folder this time."""
        self._parts.pop(self._folder[path], None)


def _save(store: Store, rows: list[tuple[str, str, str]], facts: list[Facts]) -> None:
    with contextlib.suppress(sqlite3.Error):  # a verdict not saved costs a re-check next time, nothing else
        store.write(("INSERT OR REPLACE INTO lint VALUES (?, ?, ?)", rows))
        store.add(facts, ())
