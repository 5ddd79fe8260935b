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

Misses are parsed and checked on every core (:mod:`.parallel`), each worker reading its
own files; only the verdicts come back (problems and the questions, a few hundred bytes),
so memory stays flat however big the registry is. Verdicts live in the index file
(:mod:`.index`), and a corrupt file is rebuilt like the rest of it.
"""

from __future__ import annotations

import contextlib
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


def _check_files(
    reg: Registry, store: Store, located: list[Located], config: Any, config_oid: str | None, index: Any, check: Check
) -> Iterator[list[Problem]]:
    oids = reg.blob_ids([loc.path for loc in located])
    keys = {_key(loc, oids[loc.path], config_oid): loc for loc in located}
    cached: dict[str, tuple[str, str]] = {}
    try:
        for key, problems, questions in store.select("SELECT key, problems, questions FROM lint WHERE key IN ({marks})", list(keys)):
            cached[str(key)] = (str(problems), str(questions))
    except sqlite3.DatabaseError as exc:
        if corrupt(exc):
            store.rebuild()
        cached = {}  # busy: check everything this time
    todo: list[Located] = []
    for key, loc in keys.items():
        hit = cached.get(key)
        if hit is not None:
            try:
                questions = json.loads(hit[1])
                if still_true(questions, index):
                    yield [] if hit[0] == "[]" else [Problem(p, line, m) for p, line, m in json.loads(hit[0])]  # most files: none
                    continue
            except (ValueError, TypeError):
                pass  # a row we cannot read: check the file again
        todo.append(loc)
    _CONTEXT.update(config=config, index=index, check=check, located={loc.path: loc for loc in todo})
    rows: list[tuple[str, str, str]] = []
    facts: list[Facts] = []
    try:
        items = [(loc.kind, loc.path, oids[loc.path]) for loc in todo]
        verdicts = map_files(items, _verdict, reg.source)
        for loc, (oid, problems, questions, fact) in zip(todo, verdicts, strict=True):
            yield problems
            if oid is not None and oid == oids[loc.path]:  # not changed while we read it
                rows.append((_key(loc, oid, config_oid), _dump(problems), json.dumps(questions)))
                if fact is not None:
                    facts.append(fact)
            if len(rows) >= 5000:
                _save(store, rows, facts)
                rows, facts = [], []
    finally:
        _CONTEXT.clear()
    _save(store, rows, facts)


def _dump(problems: list[Problem]) -> str:
    return json.dumps([[p.path, p.line, p.message] for p in problems])


def _save(store: Store, rows: list[tuple[str, str, str]], facts: list[Facts]) -> None:
    with contextlib.suppress(sqlite3.Error):  # a verdict not saved costs a re-check next time, nothing else
        store.write(("INSERT OR REPLACE INTO lint VALUES (?, ?, ?)", rows))
        store.add(facts, ())
