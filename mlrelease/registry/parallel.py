"""Whole-registry work on every core: each worker reads and parses its own files.

``lint`` on a cold cache and the first build of an index must read every manifest, and
parsing is CPU work. :func:`map_files` runs a function over many registry files in
forked worker processes that read the bytes themselves (from the work tree, or through
their own ``git cat-file --batch``), so the parent never reads, copies or pickles the
files, and what comes back is whatever small result the function makes — problems and
index facts, not 100,000 parsed manifests (pickling those back was a third of a pooled
run, and holding them cost 20 KB of memory each).

Results come back in input order, a chunk at a time, so the caller can stream them into
the cache and forget them. Below :data:`PARALLEL_AT` files, or on one core, or where
``fork`` does not exist, the same function runs in this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mlrelease.errors import MlreleaseError
from mlrelease.registry.gitio import CatFile
from mlrelease.registry.source import GitRefSource, Source, WorkTreeSource

R = TypeVar("R")
PARALLEL_AT = 400  # below this many files a pool costs more than it saves
CHUNK = 64

# What a worker needs, set before the pool forks (so it is inherited, never pickled).
_JOB: dict[str, Any] = {}


class FileReader:
    """Bytes of registry files by path and blob id, for one process."""

    def __init__(self, work_tree: Path | None, git_root: Path | None) -> None:
        self._files = WorkTreeSource(work_tree) if work_tree is not None else None  # else blobs from git by id
        self._git_root = git_root
        self._cat: CatFile | None = None

    def read(self, path: str, oid: str | None) -> bytes:
        if self._files is not None:
            return self._files.read(path)
        if oid is None or self._git_root is None:
            raise MlreleaseError(f"{path}: no blob id to read it by")
        if self._cat is None:
            self._cat = CatFile(self._git_root)
        return self._cat.read(oid)

    def close(self) -> None:
        if self._cat is not None:
            self._cat.close()
            self._cat = None


def _init_worker() -> None:
    _JOB["reader"] = FileReader(_JOB["work_tree"], _JOB["git_root"])


def _run_chunk(chunk: Sequence[tuple[str, str, str | None]]) -> list[Any]:
    fn: Callable[[str, str, bytes | MlreleaseError], Any] = _JOB["fn"]
    reader: FileReader = _JOB["reader"]
    out = []
    for kind, path, oid in chunk:
        try:
            data: bytes | MlreleaseError = reader.read(path, oid)
        except MlreleaseError as exc:
            data = exc
        out.append(fn(kind, path, data))
    return out


def map_files(
    items: Sequence[tuple[str, str, str | None]],
    fn: Callable[[str, str, bytes | MlreleaseError], R],
    source: Source,
    *,
    parallel: bool = True,
) -> Iterator[R]:
    """``fn(kind, path, bytes or the error reading them)`` for each (kind, path, blob id), in order.

    ``fn`` must be a module-level function (workers find it by reference). In this
    process files are read through ``source``; workers read the same files themselves:
    from the work tree, or by blob id through their own ``git cat-file`` at a ref.
    """
    cores = _cores()
    if not pooled(len(items), parallel=parallel):
        for kind, path, _oid in items:
            try:
                data: bytes | MlreleaseError = source.read(path)
            except MlreleaseError as exc:
                data = exc
            yield fn(kind, path, data)
        return
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    work_tree = source.root if isinstance(source, WorkTreeSource) else None
    git_root = source.git_root if isinstance(source, GitRefSource) else None
    _JOB.update(fn=fn, work_tree=work_tree, git_root=git_root)
    try:
        with start_pool(min(cores, len(chunks))) as pool:
            for results in pool.imap(_run_chunk, chunks):
                yield from results
    finally:
        _JOB.clear()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def pooled(count: int, *, parallel: bool = True) -> bool:
    """Whether :func:`map_files` of ``count`` files runs in worker processes (else in this process)."""
    return parallel and count >= PARALLEL_AT and _cores() >= 2 and _forkable()


def _forkable() -> bool:
    import multiprocessing  # here: a run that reads a few files (an action) need not import it (~20 ms)

    return "fork" in multiprocessing.get_all_start_methods()


def start_pool(processes: int) -> Any:
    """The worker processes (forked, so they inherit :data:`_JOB` and every import)."""
    import multiprocessing

    return multiprocessing.get_context("fork").Pool(processes=processes, initializer=_init_worker)
