"""Bounded, safe YAML loading with line numbers.

PyYAML's safe loaders still have sharp edges for a tool that reads files written by
others: libyaml segfaults on very deep nesting, aliases can expand without limit,
duplicate keys silently win last, and YAML 1.1 typing turns ``1.10`` into 1.1, ``010``
into 8 and ``NO`` into False. This module closes each of them:

* a size cap, checked before parsing;
* one streaming pass over libyaml's *events* that counts depth and refuses aliases and
  anchors as they arrive (nothing recursive ever sees the document, so the deep-nesting
  crash cannot happen), and builds the tree from the same events: mappings become
  :class:`YMap` (a dict that remembers the line of each key), duplicate keys are refused,
  tags other than the core ones are refused, and scalars are typed by a YAML 1.2-like
  core schema (only ``true``/``false``, ``null``, decimal ints and floats); every scalar
  also keeps its source text, so a version written ``1.10`` is read back as ``"1.10"``.

Speed: a registry of 100,000 manifests is read by this loader, so it costs what libyaml's
event stream costs and little more — one pass, no composed nodes, no per-node resolver
call (plain scalars are resolved once per distinct text). ``tests/test_yaml_loader_equivalence.py``
holds it to the results and messages of the two-pass loader it replaced
(``tests/yaml_reference.py``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml import events
from yaml.resolver import Resolver

from mlrelease.errors import ManifestError, Problem

try:  # libyaml's parser is ~5x faster; fall back to PyYAML's pure-Python one where it is absent
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on the build of PyYAML
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?([0-9][0-9_]*)?\.[0-9_]+([eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+")
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_NULL = {"", "~", "null", "Null", "NULL"}
_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class YMap(dict[str, Any]):
    """A mapping that knows where it and each of its keys stand in the file."""

    __slots__ = ("key_lines", "line", "raw")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def __reduce__(self) -> tuple[Any, ...]:  # pickling for the parse cache
        return (_rebuild_map, (self.line, dict(self), self.key_lines, self.raw))


def _rebuild_map(line: int, items: dict[str, Any], key_lines: dict[str, int], raw: dict[str, str]) -> YMap:
    m = YMap(line)
    m.update(items)
    m.key_lines = key_lines
    m.raw = raw
    return m


class YList(list[Any]):
    """A sequence that knows the line of itself and of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_list, (self.line, list(self), self.item_lines))


def _rebuild_list(line: int, items: list[Any], item_lines: list[int]) -> YList:
    seq = YList(line)
    seq.extend(items)
    seq.item_lines = item_lines
    return seq


def _fail(path: str, line: int | None, message: str) -> ManifestError:
    return ManifestError([Problem(path, line, message)])


_ScalarEvent, _AliasEvent, _StreamEnd, _DocumentStart = (
    events.ScalarEvent,
    events.AliasEvent,
    events.StreamEndEvent,
    events.DocumentStartEvent,
)
_MappingStart, _MappingEnd = events.MappingStartEvent, events.MappingEndEvent
_SequenceStart, _SequenceEnd = events.SequenceStartEvent, events.SequenceEndEvent
_ALLOWED_TAGS = _CORE_TAGS | {"tag:yaml.org,2002:timestamp"}
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_IMPLICIT = Resolver.yaml_implicit_resolvers  # first character → [(tag, regex)]: the safe loaders' YAML 1.1 rules
_PLAIN: dict[str, tuple[str, Any]] = {}  # plain scalar text → (resolved tag, typed value); bounded below
_PLAIN_KEPT = 65_536


def _typed(value: str) -> Any:
    """A plain scalar YAML 1.1 did not call a string, typed by our YAML 1.2-like core schema."""
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return int(value.replace("_", ""))
    if _FLOAT.fullmatch(value):
        return float(value.replace("_", ""))
    return value  # YAML 1.1 oddities (NO, 0o17, 1:30, .inf, dates) stay as written


def _plain(value: str) -> tuple[str, Any]:
    """(tag, value) of an untagged plain scalar: the tag PyYAML's resolver gives, then our typing.

    Manifests repeat the same few hundred keys and words, so the answer is remembered by
    text: resolving costs one dict lookup for nearly every scalar of a registry.
    """
    hit = _PLAIN.get(value)
    if hit is None:
        tag = _STR
        for candidate, regexp in _IMPLICIT.get(value[:1], ()):
            if regexp.match(value):
                tag = candidate
                break
        hit = (tag, value if tag == _STR or tag not in _ALLOWED_TAGS else _typed(value))
        if len(_PLAIN) >= _PLAIN_KEPT:
            _PLAIN.clear()
        _PLAIN[value] = hit
    return hit


def _explicit(ev: Any) -> tuple[str, Any]:
    """(tag, value) of a scalar written with a tag, as composing and then constructing gave."""
    tag = ev.tag
    if tag == "!":  # the non-specific tag: resolved like an untagged scalar, typed only if plain
        if ev.implicit[0]:
            tag, value = _plain(ev.value)
            return tag, ev.value if ev.style else value
        return _STR, ev.value
    if ev.style or tag == _STR or tag not in _ALLOWED_TAGS:
        return tag, ev.value
    return tag, _typed(ev.value)


def load(data: bytes | str, path: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document safely; raise :class:`ManifestError` naming ``path``.

    One pass over libyaml's event stream does everything: depth and aliases are refused
    as the events arrive (so a 100,000-deep file never reaches a recursive composer), and
    the tree is built from the same events with our typing, duplicate-key and tag rules.
    The order of errors is the one a two-pass loader gives: anything wrong with the
    stream itself (syntax, depth, anchors — wherever it is in the file) wins over a second
    document, which wins over the first construction error (a tag, a merge key, a
    duplicate key), so the construction error is kept while the rest of the stream is read.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            # Sources stop reading a little past the limit, so the length here is not the file's size.
            raise _fail(path, None, f"file is larger than the limit of {max_bytes:,} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise _fail(path, line, "file is not valid UTF-8") from None
    else:
        text = data
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise _fail(path, None, f"file is larger than the limit of {max_bytes:,} bytes")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return _build(text, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise _fail(path, mark.line + 1 if mark else None, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    except (RecursionError, IndexError, OverflowError, ValueError) as exc:
        raise _fail(path, None, f"invalid YAML: {type(exc).__name__}") from None


def _build(text: str, path: str) -> Any:
    """The event loop of :func:`load`; kept flat because it runs for every scalar of a registry."""
    get = _Parser(text).get_event
    plain, resolve = _PLAIN.get, _plain
    stack: list[tuple[Any, bool, Any, int]] = []  # the open collections above ``cur``
    cur: Any = None  # the innermost open mapping or sequence, or None at the top
    is_map = False
    key: Any = None  # in a mapping: the key waiting for its value (None: expecting a key)
    key_line = 0
    root: Any = None
    depth = 0
    documents = 0
    second: int | None = None  # line of the second document's first node
    first_error: Problem | None = None  # the first construction error, in document order
    building = True
    while True:
        # Events are dispatched on their exact type (faster than isinstance), which mypy
        # cannot narrow on: each branch reads the attributes of its own kind.
        ev: Any = get()
        kind = type(ev)
        if kind is _ScalarEvent:
            if ev.anchor is not None:
                raise _fail(path, ev.start_mark.line + 1, "YAML anchors and aliases are not allowed")
            if not building:
                if documents > 1 and second is None:
                    second = ev.start_mark.line + 1
                continue
            value = ev.value
            try:
                if ev.tag is not None:
                    tag, typed = _explicit(ev)
                elif ev.style:
                    tag, typed = _STR, value
                else:
                    tag, typed = plain(value) or resolve(value)
            except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits
                first_error, building = Problem(path, ev.start_mark.line + 1, f"a number of {len(value):,} digits is too long"), False
                continue
            if is_map and key is None:  # a key
                line = ev.start_mark.line + 1
                if value == "<<":
                    first_error, building = Problem(path, line, "YAML merge keys (<<) are not allowed"), False
                elif tag not in _ALLOWED_TAGS:
                    first_error, building = Problem(path, line, "mapping keys must be plain scalars"), False
                elif value in cur:
                    first_error = Problem(path, line, f"duplicate key {value!r} (first at line {cur.key_lines[value]})")
                    building = False
                else:
                    key, key_line = value, line
                continue
            if tag not in _ALLOWED_TAGS:
                # Implicit resolution only yields core tags; anything else was written as an
                # explicit tag (``!!python/object``, ``!!binary``, ``!custom``) and is refused.
                first_error, building = Problem(path, ev.start_mark.line + 1, f"YAML tag {tag!r} is not allowed"), False
            elif is_map:
                cur[key] = typed
                cur.key_lines[key] = key_line
                cur.raw[key] = value
                key = None
            elif cur is not None:
                cur.append(typed)
                cur.item_lines.append(ev.start_mark.line + 1)
            else:
                root = typed
        elif kind is _MappingStart or kind is _SequenceStart:
            line = ev.start_mark.line + 1
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(path, line, f"nesting deeper than {MAX_DEPTH} levels")
            if ev.anchor is not None:
                raise _fail(path, line, "YAML anchors and aliases are not allowed")
            if not building:
                if documents > 1 and second is None:
                    second = line
                continue
            if is_map and key is None:
                first_error, building = Problem(path, line, "mapping keys must be plain scalars"), False
                continue
            tag = ev.tag
            if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
                first_error, building = Problem(path, line, f"YAML tag {tag!r} is not allowed"), False
                continue
            node = YMap(line) if kind is _MappingStart else YList(line)
            if is_map:
                cur[key] = node
                cur.key_lines[key] = key_line
            elif cur is not None:
                cur.append(node)
                cur.item_lines.append(line)
            else:
                root = node
            stack.append((cur, is_map, key, key_line))
            cur, is_map, key = node, kind is _MappingStart, None
        elif kind is _MappingEnd or kind is _SequenceEnd:
            depth -= 1
            if building:
                cur, is_map, key, key_line = stack.pop()
                key = None  # the parent's value is complete
        elif kind is _AliasEvent:
            raise _fail(path, ev.start_mark.line + 1, "YAML anchors and aliases are not allowed")
        elif kind is _DocumentStart:
            documents += 1
            building = building and documents == 1
        elif kind is _StreamEnd or ev is None:
            break
    if second is not None:
        raise _fail(path, second, "more than one YAML document in the file")
    if first_error is not None:
        raise ManifestError([first_error])
    return root


def dump(data: Any) -> str:
    """Serialise plain data as block YAML that :func:`load` reads back to the same values.

    Strings that would be typed as something else on reading (``1.10``, ``010``,
    ``NO``, ``null``) are quoted by PyYAML's resolver, and keys keep their order.
    """
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


try:
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # :func:`load` refuses anchors and aliases, so an object shared twice in ``data``
        # is written out twice rather than as ``&id001`` / ``*id001``.
        return True


def _str_representer(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    # Quote anything our reader (or a YAML 1.1 reader) would not read back as this string.
    if _needs_quotes(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_YAML11_BOOL = {"y", "yes", "n", "no", "on", "off", "true", "false"}


def _needs_quotes(value: str) -> bool:
    return (
        value in _NULL
        or value.lower() in _YAML11_BOOL
        or bool(_INT.fullmatch(value))
        or bool(_FLOAT.fullmatch(value))
        or bool(re.fullmatch(r"[-+]?[0-9][0-9_:.eE+-]*", value))
    )


_Dumper.add_representer(str, _str_representer)
for _cls in (YMap,):
    _Dumper.add_representer(_cls, lambda d, v: d.represent_dict(dict(v)))
_Dumper.add_representer(YList, lambda d, v: d.represent_list(list(v)))
