"""JSON text as ``mlrelease --json`` writes it: ``json.dumps(to_data(v), indent=2)``'s bytes, in one pass.

Here rather than in :mod:`mlrelease.cli.output` (which re-exports it) because text written
by it is kept: ``check``'s health inputs (:mod:`mlrelease.telemetry.inputs`) keep each
row's largest parts — the newest snapshot and the drift of every feature with its bins —
as :class:`Fragment` text, so a warm ``check --json`` at 100,000 versions copies 8 MB of
finished JSON instead of encoding it again. A fragment is written at whatever depth it
lands: its text is written at depth 0, and every line after its first gets the depth's
indent (a JSON string written here never holds a raw line feed: ``ensure_ascii`` escapes
it), which is the text the encoder would have written there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, ItemsView, Iterable
from datetime import datetime
from typing import Any

from mlrelease.registry.fields import format_timestamp


class Fragment:
    """A value's JSON text already written by :func:`json_text` (at depth 0), and the value itself.

    :func:`json_text` copies the text; ``to_data`` (and so ``json.dumps``) takes the value
    from ``make``, which is called only then. Only code that prints through
    :func:`json_text` should hand out fragments (``check --json``); nothing else sees them.
    """

    __slots__ = ("make", "text")

    def __init__(self, text: str, make: Callable[[], Any]) -> None:
        self.text = text
        self.make = make

    @classmethod
    def of(cls, value: Any) -> Fragment:
        """The fragment of ``value`` as it is now (what a kept row stores)."""
        text = json_text(value)
        return cls(text, lambda: value)


def json_text(value: Any) -> str:
    """``json.dumps(to_data(value), indent=2, ensure_ascii=True, allow_nan=False)``, the same text in one pass.

    ``check --json`` at 100,000 versions writes 10 MB: the standard library's indenting
    encoder is pure Python (its C encoder cannot indent) and ``to_data`` walked the whole
    tree first, 0.7 s together. One recursive pass that appends to one list, with the
    common scalars tested by exact type first, writes the same bytes in a quarter of that
    (tests/test_json_text.py compares the two over generated values).
    """
    out: list[str] = []
    _encode(value, "", out.append)
    return "".join(out)


_ESC = json.encoder.encode_basestring_ascii
_FLOAT = float.__repr__
_INT = int.__repr__


def _encode(v: Any, indent: str, put: Any) -> None:
    t = type(v)
    if t is str:
        put(_ESC(v))
    elif v is None:
        put("null")
    elif v is True:
        put("true")
    elif v is False:
        put("false")
    elif t is int:
        put(_INT(v))
    elif t is float:
        put(_FLOAT(v) if math.isfinite(v) else "null")
    elif t is Fragment:
        put(v.text.replace("\n", "\n" + indent) if indent else v.text)
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        _items([(f.name, getattr(v, f.name)) for f in dataclasses.fields(v) if f.name != "lines"], indent, put)
    elif isinstance(v, dict):
        _items(v.items() if all(type(k) is str for k in v) else {str(k): x for k, x in v.items()}.items(), indent, put)
    elif isinstance(v, list | tuple | set | frozenset):
        if not v:
            put("[]")
            return
        inner = indent + "  "
        sep = "[\n" + inner
        for x in v:
            put(sep)
            _encode(x, inner, put)
            sep = ",\n" + inner
        put("\n" + indent + "]")
    elif isinstance(v, datetime):
        put(_ESC(format_timestamp(v)))
    elif isinstance(v, re.Pattern):
        _encode(v.pattern, indent, put)
    elif isinstance(v, str):
        put(_ESC(v))
    elif isinstance(v, int):  # an int subclass (bool was taken above): json writes its number
        put(_INT(v))
    elif isinstance(v, float):
        put(_FLOAT(v) if math.isfinite(v) else "null")
    else:
        raise TypeError(f"Object of type {t.__name__} is not JSON serializable")


def _items(items: Iterable[tuple[str, Any]] | ItemsView[str, Any], indent: str, put: Any) -> None:
    inner = indent + "  "
    sep = "{\n" + inner
    for k, x in items:
        put(sep)
        put(_ESC(k))
        put(": ")
        _encode(x, inner, put)
        sep = ",\n" + inner
    put("{}" if sep[0] == "{" else "\n" + indent + "}")
