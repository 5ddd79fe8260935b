"""The YAML loader as it was at 2c498d0, kept verbatim as the reference for the one in use.

:func:`mlrelease.registry.yamlsafe.load` reads each file in one pass over libyaml's events;
this one ran the event stream once to check depth and aliases, then composed nodes with
PyYAML's resolver and built the tree from them. ``tests/test_yaml_loader_equivalence.py``
feeds both the same inputs and requires the same results (values, types, lines, raw text)
and the same error messages. Only the imports changed: the tree classes and constants are
the live module's, so results compare directly.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlrelease.errors import ManifestError, Problem
from mlrelease.registry.yamlsafe import _CORE_TAGS, _FALSE, _FLOAT, _INT, _NULL, _TRUE, MAX_BYTES, MAX_DEPTH, YList, YMap

_Loader = yaml.CSafeLoader


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
