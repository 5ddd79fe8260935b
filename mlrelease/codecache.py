"""The methods ``dataclasses`` writes for mlrelease's records, compiled once per install.

Every run defines about 90 frozen dataclasses (the registry's types, plans, results), and
on Python 3.11 ``@dataclass`` writes six methods for each (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``) as source text and compiles
each with ``exec``: half the CPU of importing mlrelease, ~0.1 s of every command (issue 9's
budget for a promotion is 0.5 s). Compiling the same text gives the same code, so the
code objects are kept, keyed by their exact source text, in one file beside mlrelease's
bytecode (``__pycache__``, or under ``sys.pycache_prefix``; named by the interpreter's
cache tag and bytecode magic number, as ``.pyc`` files are) and read back with
``marshal`` the way Python reads a ``.pyc``: the classes are the classes ``dataclasses``
makes, only their compiling is skipped.

:func:`install` points the name ``exec`` inside the ``dataclasses`` module (not the
builtin) at :func:`_exec`, which looks the text up before compiling it. A text not yet
kept is compiled as before and the file is rewritten at exit; a file that is missing,
unreadable, foreign or corrupt is ignored (and rewritten); where nothing can be written
(a read-only install, ``PYTHONDONTWRITEBYTECODE``) every run compiles, as before.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

_MAGIC = b"mlrelease-codecache-2:" + importlib.util.MAGIC_NUMBER
KEEP = 4096  # texts kept at most: beyond it, only those this process used (a test suite defines many)
_CODE: dict[str, CodeType] = {}
_USED: set[str] = set()
_STATE = {"new": 0}


def _cache_file() -> Path:
    pyc = importlib.util.cache_from_source(__file__)  # honours sys.pycache_prefix
    return Path(pyc).with_name(f"dataclass-methods.{sys.implementation.cache_tag}.marshal")


def _exec(source: str | bytes | CodeType, globals: dict[str, Any] | None = None, locals: dict[str, Any] | None = None) -> None:
    if isinstance(source, str):
        _USED.add(source)
        code = _CODE.get(source)
        if code is None:
            # as exec() in dataclasses compiles it: with dataclasses' own (no) future flags, not this module's
            code = _CODE[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _STATE["new"] += 1
        source = code
    exec(source, globals, locals)  # noqa: S102 - the text dataclasses wrote, as dataclasses would run it


def _load(path: Path) -> None:
    try:
        data = path.read_bytes()
    except OSError:
        return
    if not data.startswith(_MAGIC):
        return
    try:
        table = marshal.loads(data[len(_MAGIC) :])  # noqa: S302 - our own file beside the .pyc files, trusted as they are
    except (EOFError, ValueError, TypeError):
        return
    if isinstance(table, dict):
        _CODE.update((k, v) for k, v in table.items() if isinstance(k, str) and isinstance(v, CodeType))


def _save(path: Path) -> None:
    if not _STATE["new"] or sys.dont_write_bytecode:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        kept = _CODE if len(_CODE) <= KEEP else {k: v for k, v in _CODE.items() if k in _USED}
        temp.write_bytes(_MAGIC + marshal.dumps(kept))
        os.replace(temp, path)
    except (OSError, ValueError):
        pass  # a read-only install compiles every run, as Python does for its .pyc files


def install() -> None:
    """Route ``dataclasses``' compiling through the kept code (once per process)."""
    if getattr(dataclasses, "exec", None) is _exec:
        return
    path = _cache_file()
    _load(path)
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    atexit.register(_save, path)
