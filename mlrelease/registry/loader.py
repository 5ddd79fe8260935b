"""The registry as typed objects, read lazily: each command pays only for what it shows.

Version lists come from file names, ``list`` reads release state and the manifests of
what is live, ``show MODEL`` reads one model's manifests. Every parse goes through a
cache keyed by git blob id, and where a command needs everything (lint, the TUI) the
uncached manifests are parsed on all cores.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from mlrelease.errors import ManifestError, MlreleaseError, NotFound, Problem
from mlrelease.registry import layout
from mlrelease.registry.cache import ParseCache
from mlrelease.registry.gitio import blob_id, git_dir, git_toplevel
from mlrelease.registry.identities import Identities
from mlrelease.registry.layout import find_root
from mlrelease.registry.names import sort_versions, unsafe_reason
from mlrelease.registry.parallel import map_files, pooled
from mlrelease.registry.parse import parse_blob
from mlrelease.registry.signers import AllowedSigners
from mlrelease.registry.source import LINK, GitRefSource, Source, WorkTreeSource
from mlrelease.registry.statids import FILE as STAT_IDS
from mlrelease.registry.statids import StatIds
from mlrelease.registry.types import (
    Acceptance,
    Config,
    Dataset,
    Model,
    Rejection,
    ReleaseState,
    RetrainRequest,
    Telemetry,
    Version,
)

T = TypeVar("T")
CONFIG = layout.CONFIG


def parse_bytes(kind: str, path: str, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", parse_blob(kind, data, path)
    except ManifestError as exc:
        return "err", exc.problems


def _parse_read_pickled(kind: str, path: str, data: bytes | MlreleaseError) -> tuple[str | None, bytes]:
    """:func:`_parse_read` with the result pickled as :class:`ParseCache` keeps it (a pooled worker's job)."""
    oid, result = _parse_read(kind, path, data)
    return oid, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def _parse_read(kind: str, path: str, data: bytes | MlreleaseError) -> tuple[str | None, tuple[str, Any]]:
    """(blob id of what was read, parse result) — a worker's job in :meth:`Registry.parse_many`."""
    if isinstance(data, MlreleaseError):
        raise data
    return blob_id(data), parse_bytes(kind, path, data)


class Registry:
    """A registry at ``root`` (work tree) or at ``ref`` (any commit, branch or tag)."""

    def __init__(self, root: Path, ref: str | None = None, *, use_cache: bool = True) -> None:
        self.root = root.resolve()
        self.ref = ref
        self.git_root = git_toplevel(self.root)
        if ref is not None:
            if self.git_root is None:
                raise MlreleaseError(f"--ref needs a git repository, and {self.root} is not in one")
            prefix = os.path.relpath(self.root, self.git_root)
            self.source: Source = GitRefSource(self.git_root, ref, "" if prefix == "." else prefix)
        else:
            ids = StatIds(git_dir(self.git_root) / "mlrelease" / STAT_IDS) if use_cache and self.git_root is not None else None
            self.source = WorkTreeSource(self.root, ids)
        self._cache = ParseCache(self._cache_path() if use_cache else None)
        self._memo: dict[tuple[str, str], tuple[str, Any]] = {}
        self._read: dict[tuple[str, str], str] = {}  # (kind, path) → blob id of the bytes that were parsed
        self._config: Config | None = None

    def _cache_path(self) -> Path | None:
        if self.git_root is None:
            return None
        return git_dir(self.git_root) / "mlrelease" / "parse-cache.sqlite"

    def close(self) -> None:
        self._cache.close()
        self.source.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def label(self) -> str:
        return self.source.label

    # ---- generic parse path -------------------------------------------------------------

    def _result(self, kind: str, path: str) -> tuple[str, Any]:
        memo = self._memo.get((kind, path))
        if memo is not None:
            return memo
        oid, data = self.source.blob(path)
        key = ParseCache.key(kind, path, oid)
        hit = self._cache.get_many([key]).get(key)
        if hit is None:
            if data is None:
                data = self.source.read(path)
                oid = blob_id(data)
            hit = parse_bytes(kind, path, data)
            self._cache.put(ParseCache.key(kind, path, oid), hit)
        self._memo[(kind, path)] = hit
        self._read[(kind, path)] = oid
        return hit

    # What each kind parses to (registry/parse.PARSERS), for the type checker.
    @overload
    def parse(self, kind: Literal["config"], path: str) -> Config: ...
    @overload
    def parse(self, kind: Literal["model"], path: str) -> Model: ...
    @overload
    def parse(self, kind: Literal["version"], path: str) -> Version: ...
    @overload
    def parse(self, kind: Literal["release"], path: str) -> ReleaseState: ...
    @overload
    def parse(self, kind: str, path: str) -> Any: ...

    def parse(self, kind: str, path: str) -> Any:
        """Parse one file of a kind; raise :class:`ManifestError` with all its problems."""
        status, value = self._result(kind, path)
        if status == "err":
            raise ManifestError(value)
        return value

    def parse_many(self, items: Iterable[tuple[str, str]], *, parallel: bool = False) -> dict[tuple[str, str], tuple[str, Any]]:
        """Parse many files at once: one cache query, and every core for the misses (:mod:`.parallel`)."""
        items = list(items)
        wanted = [it for it in dict.fromkeys(items) if it not in self._memo]
        oids = self.blob_ids([path for _kind, path in wanted])
        keyed = {ParseCache.key(kind, path, oids[path]): (kind, path) for kind, path in wanted}
        hits = self._cache.get_many(list(keyed))
        misses: list[tuple[str, tuple[str, str]]] = []
        for key, item in keyed.items():
            if key in hits:
                self._memo[item] = hits[key]
                self._read[item] = oids[item[1]]
            else:
                misses.append((key, item))
        jobs = [(kind, path, oids[path]) for _key, (kind, path) in misses]
        if pooled(len(jobs), parallel=parallel):
            # workers send each result pickled as the cache keeps it: the parent unpickles it once
            # (as the pool would) and stores those bytes, instead of pickling it all again
            for (key, item), (oid, raw) in zip(misses, map_files(jobs, _parse_read_pickled, self.source), strict=True):
                self._remember(key, item, oid, oids[item[1]], pickle.loads(raw), raw)  # noqa: S301 - our own workers' bytes
        else:
            for (key, item), (oid, result) in zip(misses, map_files(jobs, _parse_read, self.source, parallel=False), strict=True):
                self._remember(key, item, oid, oids[item[1]], result, None)
        self._cache.flush()
        return {item: self._memo[item] for item in items}

    def _remember(self, key: str, item: tuple[str, str], oid: str | None, expected: str, result: Any, raw: bytes | None) -> None:
        self._memo[item] = result
        if oid is not None:
            self._read[item] = oid
        if oid == expected:  # not changed while we read it
            if raw is not None:
                self._cache.put_raw(key, raw)
            else:
                self._cache.put(key, result)

    def read_oid(self, kind: str, path: str) -> str | None:
        """The blob id of the bytes this registry parsed for ``path`` (None: not parsed yet).

        What a fact derived from parsed files must be keyed by (the health inputs of
        :mod:`mlrelease.telemetry.inputs`): the file may have changed since, and a blob id
        asked for afterwards could name bytes that were never read.
        """
        return self._read.get((kind, path))

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        """Blob ids of these files, as the registry is read (work tree or ref): what caches and indexes key by."""
        return self.source.blob_ids(paths)

    # ---- config ---------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        if self._config is None:
            if not self.present(CONFIG):
                raise MlreleaseError(f"{CONFIG}: not found in {self.label}")
            self._config = self.parse("config", CONFIG)
        return self._config

    # ---- models and versions --------------------------------------------------------------

    def files(self) -> list[str]:
        """Every file under the registry's folders (hidden files such as .gitkeep excluded)."""
        return [p for top in layout.FOLDERS for p in self.source.files(top)]

    def present(self, path: str) -> bool:
        """Whether a file is at ``path``; a symbolic link on the way is refused, never followed nor passed over."""
        if self.source.exists(path):
            return True
        link = self.source.link_of(path)
        if link is not None:
            raise ManifestError([Problem(link, None, LINK)])
        return False

    def link_problems(self, *prefixes: str) -> list[Problem]:
        """One problem per symbolic link under ``prefixes`` (default: the whole registry)."""
        tops = prefixes or (layout.CONFIG, *layout.FOLDERS)
        found = {link for top in tops for link in (self.source.links(top) if top != layout.CONFIG else [])}
        if layout.CONFIG in tops and self.source.link_of(layout.CONFIG):
            found.add(layout.CONFIG)
        return [Problem(link, None, LINK) for link in sorted(found)]

    def model_names(self) -> list[str]:
        """Folders under models/ that have a model.yaml: one listing of models/ itself, not of every manifest."""
        _files, folders = self.source.entries(layout.MODELS)
        return sorted(name for name in folders if self.source.exists(layout.model_path(name)))

    def _check_name(self, what: str, name: str) -> None:
        reason = unsafe_reason(name)
        if reason:
            raise NotFound(f"{what} name {name!r} {reason}")

    def model(self, name: str) -> Model:
        self._check_name("model", name)
        path = layout.model_path(name)
        if not self.present(path):
            known = ", ".join(self.model_names()[:8]) or "none"
            raise NotFound(f"no model {name!r} in {self.label} (models: {known})")
        return self.parse("model", path)

    def version_names(self, model: str) -> list[str]:
        """Every version of a model, oldest first, from file names alone (no parsing)."""
        self._check_name("model", model)
        names, _folders = self.source.entries(layout.versions_folder(model))  # what layout.locate calls versions
        return sort_versions(name[: -len(layout.SUFFIX)] for name in names if name.endswith(layout.SUFFIX))

    def version(self, model: str, version: str) -> Version:
        self._check_name("model", model)
        self._check_name("version", version)
        path = layout.version_path(model, version)
        if not self.present(path):
            self.model(model)
            raise NotFound(f"model {model!r} has no version {version!r}")
        return self.parse("version", path)

    def versions(self, model: str, *, parallel: bool = False) -> list[Version]:
        """All versions of one model, oldest first; the first broken manifest raises."""
        items = [("version", layout.version_path(model, v)) for v in self.version_names(model)]
        results = self.parse_many(items, parallel=parallel)
        out = []
        for item in items:
            status, value = results[item]
            if status == "err":
                raise ManifestError(value)
            out.append(value)
        return out

    def latest_version(self, model: str) -> str | None:
        names = self.version_names(model)
        return names[-1] if names else None

    # ---- release state -------------------------------------------------------------------

    def release(self, env: str, model: str) -> ReleaseState | None:
        path = layout.release_path(env, model)
        if not self.present(path):
            return None
        return self.parse("release", path)

    def releases(self, problems: list[Problem] | None = None) -> dict[tuple[str, str], ReleaseState]:
        """Every release state, keyed by (environment, model).

        With ``problems``, a broken file becomes its problems there and the rest is still
        returned (a face that shows what it can); without, the first broken file raises.
        """
        located = layout.located(self.source.files(layout.RELEASES), "release")
        links = self.link_problems(layout.RELEASES)
        if links and problems is None:
            raise ManifestError(links)
        if problems is not None:
            problems.extend(links)
        results = self.parse_many([(loc.kind, loc.path) for loc in located])
        out: dict[tuple[str, str], ReleaseState] = {}
        for loc in located:
            status, value = results[(loc.kind, loc.path)]
            if status == "err":
                if problems is None:
                    raise ManifestError(value)
                problems.extend(value)
                continue
            assert loc.environment is not None and loc.model is not None
            out[(loc.environment, loc.model)] = value
        return out

    def live_versions(self, model: str) -> dict[str, ReleaseState]:
        """Environment → release state for a model, in the configured environment order."""
        out: dict[str, ReleaseState] = {}
        for env in self.config.environment_names:
            state = self.release(env, model)
            if state is not None:
                out[env] = state
        return out

    # ---- datasets, rejections, retrain requests, telemetry -------------------------------

    def dataset_names(self) -> list[str]:
        return sorted({loc.dataset for loc in layout.located(self.source.files(layout.DATASETS), "dataset") if loc.dataset})

    def dataset_versions(self, name: str) -> list[str]:
        self._check_name("dataset", name)
        located = layout.located(self.source.files(layout.dataset_folder(name)), "dataset")
        return sort_versions(loc.version for loc in located if loc.version is not None)

    def dataset(self, name: str, version: str) -> Dataset | None:
        self._check_name("dataset", name)
        self._check_name("dataset version", version)
        path = layout.dataset_path(name, version)
        return self.parse("dataset", path) if self.present(path) else None

    def rejections(self, model: str) -> tuple[Rejection, ...]:
        path = layout.rejections_path(model)
        return self.parse("rejections", path) if self.present(path) else ()

    def retrain_requests(self, model: str) -> tuple[RetrainRequest, ...]:
        path = layout.retrain_path(model)
        return self.parse("retrain", path) if self.present(path) else ()

    def telemetry(self, env: str, model: str) -> Telemetry | None:
        path = layout.telemetry_path(env, model)
        return self.parse("telemetry", path) if self.present(path) else None

    def acceptances(self) -> tuple[Acceptance, ...]:
        """``audit/accepted.yaml``: findings of verify accepted by a second person (``review --finding``)."""
        path = layout.ACCEPTED
        return self.parse("accepted", path).accepted if self.source.exists(path) else ()

    # ---- controls: who is who, which keys may sign ----------------------------------------

    def identities(self) -> Identities:
        """``controls/identities.yaml``, or no people and no groups."""
        path = layout.IDENTITIES
        return self.parse("identities", path) if self.source.exists(path) else Identities()

    def allowed_signers(self) -> AllowedSigners | None:
        """``controls/allowed_signers``, or None when the registry has none."""
        path = layout.ALLOWED_SIGNERS
        return self.parse("signers", path) if self.source.exists(path) else None

    # ---- helpers for faces ----------------------------------------------------------------

    def collect(self, fn: Callable[[], T], problems: list[Problem]) -> T | None:
        """Run ``fn``; a broken file becomes problems instead of an exception."""
        try:
            return fn()
        except ManifestError as exc:
            problems.extend(exc.problems)
            return None


def open_registry(repo: Path | None, ref: str | None = None, *, use_cache: bool = True) -> Registry:
    """The registry a command means: ``--repo`` or found upward from the current folder."""
    return Registry(find_root(repo if repo is not None else Path.cwd()), ref, use_cache=use_cache)
