"""Bounded, safe YAML loading with line numbers.

PyYAML's safe loaders still have sharp edges for a tool that reads files written by
others: libyaml segfaults on very deep nesting, aliases can expand without limit,
duplicate keys silently win last, and YAML 1.1 typing turns ``1.10`` into 1.1, ``010``
into 8 and ``NO`` into False. This module closes each of them:

* a size cap, checked before parsing;
* one streaming pass over parser *events* that counts depth and refuses aliases and
  anchors before anything is composed (so the deep-nesting crash cannot happen);
* a tiny constructor of our own over the composed nodes: mappings become :class:`YMap`
  (a dict that remembers the line of each key), duplicate keys are refused, tags other
  than the core ones are refused, and scalars are typed by a YAML 1.2-like core schema
  (only ``true``/``false``, ``null``, decimal ints and floats); every scalar also keeps
  its source text, so a version written ``1.10`` is read back as ``"1.10"``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlrelease.errors import ManifestError, Problem

try:  # the C parser is ~5x faster; fall back to pure Python where libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the build of PyYAML
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

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


class YMap(dict):  # type: ignore[type-arg]
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


class YList(list):  # type: ignore[type-arg]
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


def _precheck(text: str, path: str) -> None:
    """Walk the event stream once: depth and aliases are refused before composing."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _fail(path, event.start_mark.line + 1, f"nesting deeper than {MAX_DEPTH} levels")
                if event.anchor is not None:
                    raise _fail(path, event.start_mark.line + 1, "YAML anchors and aliases are not allowed")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent) or (isinstance(event, yaml.ScalarEvent) and event.anchor is not None):
                raise _fail(path, event.start_mark.line + 1, "YAML anchors and aliases are not allowed")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise _fail(path, line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    except (RecursionError, IndexError, OverflowError, ValueError) as exc:
        raise _fail(path, None, f"invalid YAML: {type(exc).__name__}") from None


_ALLOWED_TAGS = _CORE_TAGS | {"tag:yaml.org,2002:timestamp"}


def _scalar(node: yaml.ScalarNode, path: str) -> Any:
    """Type a scalar by a YAML 1.2-like core schema; explicit strings stay strings."""
    value = node.value
    if node.style or node.tag == "tag:yaml.org,2002:str":
        return value  # quoted, block, or a plain scalar the resolver already saw as text
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


def _construct(node: yaml.Node, path: str) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in _ALLOWED_TAGS:
        # Implicit resolution only yields core tags; anything else was written as an
        # explicit tag (``!!python/object``, ``!!binary``, ``!custom``) and is refused.
        raise _fail(path, line, f"YAML tag {node.tag!r} is not allowed")
    if isinstance(node, yaml.MappingNode):
        out = YMap(line)
        for key_node, value_node in node.value:
            kline = key_node.start_mark.line + 1
            if key_node.value == "<<" and isinstance(key_node, yaml.ScalarNode):
                raise _fail(path, kline, "YAML merge keys (<<) are not allowed")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _ALLOWED_TAGS:
                raise _fail(path, kline, "mapping keys must be plain scalars")
            key = key_node.value
            if key in out:
                raise _fail(path, kline, f"duplicate key {key!r} (first at line {out.key_lines[key]})")
            out[key] = _construct(value_node, path)
            out.key_lines[key] = kline
            if isinstance(value_node, yaml.ScalarNode):
                out.raw[key] = value_node.value
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YList(line)
        for item in node.value:
            seq.append(_construct(item, path))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return _scalar(node, path)


def load(data: bytes | str, path: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document safely; raise :class:`ManifestError` naming ``path``."""
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
    _precheck(text, path)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:  # pragma: no cover - the precheck parses the same text
        raise _fail(path, None, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if len(nodes) > 1:
        raise _fail(path, nodes[1].start_mark.line + 1, "more than one YAML document in the file")
    if not nodes or nodes[0] is None:
        return None
    return _construct(nodes[0], path)


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


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        # :func:`load` refuses anchors and aliases, so an object shared twice in ``data``
        # is written out twice rather than as ``&id001`` / ``*id001``.
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
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
