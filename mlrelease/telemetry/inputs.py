"""Health inputs per live version, kept in the registry's index: a warm ``check`` reads rows, not files.

``check`` judges every model in every environment where it is live. What that judgement
needs from the registry — the release state's live version, its manifest, the newest
telemetry snapshot of a ``file`` source and the drift computed from them against the
training profile (the manifest's, or its ``train`` data set's) — is a function of those
files' bytes, of ``mlrelease.yaml`` (the metric catalogue) and of the code; only the
version's age and what the retraining policy makes of it depend on the clock, and those
are computed on every run (:func:`health._verdict`). At 100,000 versions a warm ``check``
read 2,500 parsed files from the parse cache to find 1,200 rows; now it reads one row of
the index per (environment, model).

**Keyed by blob ids, never stale.** A row's key is the digest of the code, the blob id of
``mlrelease.yaml``, the environment, the model and the blob id of the release state it
was read from; its value also names every other file that was read and the blob id of the
bytes that were parsed (:meth:`Registry.read_oid`) — or that the file was absent (a dev
environment without telemetry, a data set not there). A row is used only when each of
those files is still that blob (or still absent); otherwise, and for every row that had a
problem, the row is read and judged as before and kept again. A kept row whose bytes do
not unpickle to what this module writes is not trusted: it is read again.

**Built incrementally**: a registered version or a new telemetry snapshot invalidates the
rows that read it, nothing else. The rows live in the index file of
:mod:`mlrelease.registry.index` (its ``derived`` table), so a missing or corrupt file is
rebuilt like the rest of it, and a read-only ``.git`` keeps them in memory for the run.
Network sources are fetched on every run: only ``file`` sources' figures are registry
files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.cache import code_version, corrupt
from mlrelease.registry.index import Store, index_path
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.types import Environment, Telemetry, Version
from mlrelease.telemetry.drift import DriftReport

FORMAT = "3"  # 2: rows keep their JSON texts; 3: the metrics' too
_CODE: list[str] = []
Texts = tuple[str | None, str, str]  # a row's JSON as mlrelease.jsontext wrote it: newest snapshot (None: none), features', metrics' drift


@dataclass(frozen=True)
class Kept:
    """One (environment, model)'s inputs as read: nothing live there (``live`` None), or its live version's."""

    live: str | None
    deps: tuple[tuple[str, str | None], ...] = ()  # (path, blob id read; None: the file was absent)
    telemetry: Telemetry | None = None  # what the file source's fetch gave (the newest snapshot)
    report: DriftReport | None = None  # its age_days is the age when kept: recomputed at use
    texts: Texts | None = None  # the JSON of the newest snapshot and of the features' and metrics' drift (health._texts)


def kept_here(env: Environment) -> bool:
    """Rows of environments whose figures are registry files (the default source) can be kept."""
    return env.telemetry is None or env.telemetry.type == "file"


def _code() -> str:
    """The registry's code digest, this package's modules (drift, health, the file source, this one) and the JSON writer."""
    if not _CODE:
        here = Path(__file__).resolve().parent
        h = hashlib.sha1(code_version().encode(), usedforsecurity=False)
        for path in [*sorted(here.glob("*.py")), here.parent / "jsontext.py"]:  # the kept JSON texts are its
            h.update(path.name.encode())
            with contextlib.suppress(OSError):
                h.update(path.read_bytes())
        _CODE.append(h.hexdigest()[:16])
    return _CODE[0]


class Inputs:
    """The kept health inputs of one registry (work tree or ref); :meth:`close` when done.

    Opening waits for another process writing the index file as every index reader does
    (and raises :class:`MlreleaseError` when it stays busy: ``assess`` then reads every row).
    """

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.store = Store(index_path(reg))
        self._config = reg.read_oid("config", layout.CONFIG)

    def close(self) -> None:
        self.store.close()

    def _key(self, env: str, model: str, state_oid: str) -> str:
        material = json.dumps([FORMAT, _code(), self._config, env, model, state_oid])
        return hashlib.sha1(material.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()

    def lookup(self, pairs: list[tuple[str, Environment]]) -> dict[tuple[str, str], Kept]:
        """(model, environment) → its kept inputs, for every pair whose inputs are all still the same blobs.

        A file that cannot be read here (permissions) is no kept row: the row is read as
        before, which says the problem.
        """
        try:
            return self._lookup(pairs)
        except MlreleaseError:
            return {}

    def _lookup(self, pairs: list[tuple[str, Environment]]) -> dict[tuple[str, str], Kept]:
        if self._config is None:
            return {}
        source = self.reg.source
        paths = {layout.release_path(e.name, m): (m, e.name) for m, e in pairs if kept_here(e)}
        present = [p for p in paths if source.exists(p)]
        states = self.reg.blob_ids(present)
        keys = {self._key(paths[p][1], paths[p][0], states[p]): paths[p] for p in present}
        try:
            rows = self.store.derived(list(keys))
        except sqlite3.DatabaseError as exc:
            if corrupt(exc):
                self.store.rebuild()  # a broken file costs time, never an answer
            return {}
        found: dict[tuple[str, str], Kept] = {}
        for key, blob in rows.items():
            value = _unpickle(blob)
            if isinstance(value, Kept) and _whole(value):  # anything else (damaged, foreign) is read again, and kept again
                found[keys[key]] = value
        return self._still(found)

    def _still(self, found: dict[tuple[str, str], Kept]) -> dict[tuple[str, str], Kept]:
        """Only the rows whose every other file is still the blob read (or still absent)."""
        source = self.reg.source
        wanted = sorted({p for k in found.values() for p, oid in k.deps if oid is not None and source.exists(p)})
        now = self.reg.blob_ids(wanted)
        out = {}
        for pair, k in found.items():
            if all((now.get(p) == oid) if oid is not None else (not source.exists(p) and source.link_of(p) is None) for p, oid in k.deps):
                out[pair] = k
        return out

    def keep(self, rows: list[tuple[str, str, Kept]]) -> None:
        """Keep (environment, model, inputs) rows, each keyed by the release state that was read."""
        if self._config is None:
            return
        items = []
        for env, model, k in rows:
            state = self.reg.read_oid("release", layout.release_path(env, model))
            if state is not None:
                items.append((self._key(env, model, state), pickle.dumps(k, protocol=pickle.HIGHEST_PROTOCOL)))
        try:
            self.store.keep_derived(items)
        except sqlite3.DatabaseError as exc:
            if corrupt(exc):
                self.store.rebuild()
            # busy, or not writable: the rows are read again next time


def _whole(k: Kept) -> bool:
    """The kept JSON texts are what this code writes: three, each text (the newest snapshot's may be None)."""
    t = k.texts
    return t is None or (
        isinstance(t, tuple) and len(t) == 3 and isinstance(t[0], str | None) and isinstance(t[1], str) and isinstance(t[2], str)
    )


def _unpickle(blob: bytes) -> object:
    try:
        return pickle.loads(blob)  # noqa: S301 - our own file under .git, as trusted as the parse cache
    except Exception:  # damaged bytes raise anything: the row is read again
        return None


def deps(reg: Registry, env: str, version: Version) -> tuple[tuple[str, str | None], ...] | None:
    """Every file a row's judgement read besides its release state, as read (None: one was not read whole)."""
    manifest = layout.version_path(version.model, version.version)
    out: list[tuple[str, str | None]] = [(manifest, reg.read_oid("version", manifest))]
    telemetry = layout.telemetry_path(env, version.model)
    out.append((telemetry, reg.read_oid("telemetry", telemetry)))  # None: absent (fetch found no file)
    ref = version.data.get("train")
    if version.profile is None and ref is not None and unsafe_reason(ref.dataset) is None and unsafe_reason(ref.version) is None:
        dataset = layout.dataset_path(ref.dataset, ref.version)
        out.append((dataset, reg.read_oid("dataset", dataset)))  # training_baseline's read, or its absence
    if out[0][1] is None:
        return None
    return tuple(out)
