"""Each file's shape, written once: the parser reads by it and the writer writes by it.

A :class:`Shape` lists the keys of one mapping in file order, each with its kind (text,
time, number, a sub-mapping of another shape, a list of them, ...) and whether it is
required; the dataclass it builds has a field of the same name per key. :func:`read`
turns a YAML mapping into that dataclass through :class:`~mlrelease.registry.fields.Fields`
(so every problem keeps its ``file:line`` and its words), and :func:`write` turns the
dataclass back into the plain mapping :func:`read` reads to an equal object. What a
shape cannot say — a rule between keys, a value's range — is its ``check``.

The shapes are declared in :mod:`mlrelease.registry.parse` (and a few in
:mod:`mlrelease.registry.config`) next to the rules they carry, and the release writer
(:mod:`mlrelease.release.state`) writes by the same ones. A list or mapping of items is
read with :func:`build` per item: ``Fields.each`` and ``Fields.named`` refuse the
unknown keys of each item themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from mlrelease.registry.fields import Fields, format_timestamp

T = TypeVar("T")

# Stands in for a missing required value, so the object can still be built while the
# problems are collected; the file is refused anyway, so it is never seen.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FALLBACK: dict[str, object] = {"text": "", "time": EPOCH, "number": 0.0, "whole": 0}


@dataclass(frozen=True)
class Key:
    """One key of a mapping.

    ``kind``: ``text`` (as written: ``1.10`` stays text), ``name`` (text that names a model,
    version, data set or environment, and so may become a path: it must pass
    :func:`~mlrelease.registry.names.unsafe_reason`), ``time`` (ISO 8601 with a zone),
    ``number``, ``whole`` (at least ``minimum``), ``choice`` (one of ``choices``),
    ``flag`` (true/false), ``texts`` (a list of text), ``numbers`` and ``scalars``
    (mappings of names to numbers / to single values), ``sub`` (a mapping of ``shape``),
    ``each`` (a list of them), ``named`` (a mapping of names to them), or ``custom``
    (read by ``reader``, never written).
    """

    name: str
    kind: str = "text"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    shape: Shape[Any] | None = None
    reader: Callable[[Fields, str], Any] | None = None


def req(name: str, kind: str = "text", **options: Any) -> Key:
    """A required key."""
    return Key(name, kind, required=True, **options)


@dataclass(frozen=True)
class Shape(Generic[T]):
    """A mapping's keys in file order, the dataclass they build, and the rules keys cannot say."""

    build: Callable[..., T]
    keys: tuple[Key, ...]
    check: Callable[[Fields, T], None] | None = None
    lines: bool = False  # the dataclass keeps each top-level key's line (for lint's messages)


# ---- reading ------------------------------------------------------------------------------------


def build(f: Fields, shape: Shape[T]) -> T:
    """The object of ``shape`` from the mapping ``f`` reads (its unknown keys left to the caller)."""
    values = {key.name: _value(f, key) for key in shape.keys}
    if shape.lines:
        values["lines"] = dict(f.data.key_lines)
    obj = shape.build(**values)
    if shape.check is not None:
        shape.check(f, obj)
    return obj


def read(f: Fields, shape: Shape[T]) -> T:
    """:func:`build`, then every key ``shape`` does not know is a problem."""
    obj = build(f, shape)
    f.done()
    return obj


def _value(f: Fields, key: Key) -> Any:
    name, required = key.name, key.required
    kind = key.kind
    if kind == "texts":
        return f.str_list(name, required=required)
    if kind == "numbers":
        return f.number_map(name)
    if kind == "scalars":
        return f.scalar_map(name)
    if kind == "flag":
        return f.bool(name, default=bool(key.default))
    if kind == "custom":
        assert key.reader is not None
        return key.reader(f, name)
    if kind in ("sub", "each", "named"):
        shape = key.shape
        assert shape is not None
        if kind == "sub":
            sub = f.sub(name, required=required)
            return None if sub is None else read(sub, shape)
        if kind == "each":
            return f.each(name, lambda item: build(item, shape), required=required)
        return f.named(name, lambda item: build(item, shape))
    if kind == "name":
        return f.name_str(name, required=required)
    if kind == "text":
        value: Any = f.str(name, required=required, default=key.default)
        if key.default is not None and not value:  # written empty: the default, as for a missing key
            value = key.default
    elif kind == "time":
        value = f.timestamp(name, required=required)
    elif kind == "number":
        value = f.number(name, required=required, default=key.default)
    elif kind == "whole":
        value = f.int(name, required=required, default=key.default, minimum=key.minimum)
    elif kind == "choice":
        value = f.choice(name, key.choices, default=key.default, required=required)
        return key.choices[0] if value is None and required else value
    else:
        raise ValueError(f"unknown key kind {kind!r}")
    return _FALLBACK[kind] if value is None and required else value


# ---- writing ------------------------------------------------------------------------------------


def write(obj: T, shape: Shape[T]) -> dict[str, object]:
    """``obj`` as the plain mapping :func:`read` reads back to an equal object (empty keys left out)."""
    out: dict[str, object] = {}
    for key in shape.keys:
        value = getattr(obj, key.name)
        if value is None or value == () or value == {} or (key.kind == "flag" and value == bool(key.default)):
            continue  # a flag at its default is left out, as an absent key reads
        out[key.name] = _written(value, key)
    return out


def _written(value: Any, key: Key) -> object:
    kind = key.kind
    if kind == "time":
        return format_timestamp(value)
    if kind == "name":
        return value
    if kind == "number":
        return int(value) if float(value).is_integer() else value
    if kind == "texts":
        return list(value)
    if kind in ("numbers", "scalars"):
        return dict(value)
    if kind in ("sub", "each", "named"):
        assert key.shape is not None
        if kind == "sub":
            return write(value, key.shape)
        if kind == "each":
            return [write(item, key.shape) for item in value]
        return {name: write(item, key.shape) for name, item in value.items()}
    if kind == "custom":
        raise TypeError(f"key {key.name!r} is read by hand and has no writer")
    return value


# ---- one model's list files: rejections, retrain requests ----------------------------------------


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A file that lists one model's items: ``{model: M, <key>: [item, ...]}``."""

    key: str
    item: Shape[T]

    def read(self, f: Fields) -> tuple[T, ...]:
        f.name_str("model", required=True)
        return f.each(self.key, lambda item: build(item, self.item))

    def write(self, model: str, items: Iterable[T]) -> dict[str, object]:
        return {"model": model, self.key: [write(item, self.item) for item in items]}
