"""Set one key of a YAML file to a text value, keeping the file as its author wrote it.

The ``gitops-file`` backend writes a version's image (or artifact) into a deployment
file that people also edit by hand, so the edit is made in the text itself where that is
safe: the single-line scalar at the key is replaced in its own quoting style, or missing
keys are inserted as new lines at the end of the deepest block mapping that exists.
Every spliced text is read back and must equal the intended data; otherwise (a block
scalar, flow style) the file is rewritten by mlrelease's YAML writer, which keeps keys
and order but not comments or quoting. A value unquoted must read back as the same text
for YAML 1.1 readers too (Helm, PyYAML), where ``yes`` or ``010`` would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from mlrelease.errors import EditError, ManifestError
from mlrelease.registry import yamlsafe
from mlrelease.registry.fields import describe


@dataclass(frozen=True)
class Edit:
    text: str | None  # the new file text; None when the value is already there
    how: str


def current_value(data: Any, keys: tuple[str, ...]) -> str | None:
    """The scalar at ``keys`` as written, or None when a step is missing or not a mapping."""
    node = data
    for k in keys[:-1]:
        node = node.get(k) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None
    value = node.get(keys[-1])
    if value is None or isinstance(value, dict | list):
        return None
    raw = node.raw.get(keys[-1]) if isinstance(node, yamlsafe.YMap) else None
    return raw if raw is not None else str(value)


def set_value(text: str | None, where: str, keys: tuple[str, ...], value: str) -> Edit:
    """Set ``keys`` to ``value`` in YAML ``text``: in place when possible, else a rewrite."""
    dotted = ".".join(keys)
    try:
        data = yamlsafe.load(text or "", where)
    except ManifestError as exc:
        raise EditError(str(exc)) from None
    if data is None:
        data = yamlsafe.YMap(1)
    if not isinstance(data, dict):
        raise EditError(f"{where}: the top level is {describe(data)}, not a mapping; cannot set {dotted}")
    node = data
    for i, k in enumerate(keys[:-1]):
        child = node.get(k)
        if child is not None and not isinstance(child, dict):
            step = ".".join(keys[: i + 1])
            raise EditError(f"{where}: {step} is {describe(child)}, not a mapping; cannot set {dotted}")
        node = child if child is not None else {}
    existing = node.get(keys[-1]) if isinstance(node, dict) else None
    if isinstance(existing, dict | list):
        raise EditError(f"{where}: {dotted} is {describe(existing)}, not a single value")
    if current_value(data, keys) == value:
        return Edit(None, f"{dotted} is already {value}")
    expected = _with_value(data, keys, value)
    if text and text.strip():
        spliced = _splice(text, keys, value)
        if spliced is not None and _reads_as(spliced, where, expected):
            return Edit(spliced, "edited in place")
    return Edit(yamlsafe.dump(expected), "rewritten (comments and formatting are not kept)")


def _with_value(data: dict[str, Any], keys: tuple[str, ...], value: str) -> dict[str, Any]:
    """A copy of ``data`` with ``keys`` set, creating intermediate mappings."""
    out = dict(data)
    node = out
    for k in keys[:-1]:
        child = node.get(k)
        node[k] = dict(child) if isinstance(child, dict) else {}
        node = node[k]
    node[keys[-1]] = value
    return out


def _reads_as(text: str, where: str, expected: dict[str, Any]) -> bool:
    try:
        return bool(yamlsafe.load(text, where) == expected)
    except ManifestError:
        return False


def _scalar_text(value: str, style: str | None) -> str:
    """``value`` as a YAML scalar, in the style the old value was written in where possible."""
    if style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style is None and _plain_is_text(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _plain_is_text(value: str) -> bool:
    """Whether ``value`` unquoted reads back as this text both here (YAML 1.2) and for YAML 1.1
    readers (Helm, PyYAML), where ``yes``, ``010`` or ``1:30`` would become something else."""
    doc = f"k: {value}\n"
    try:
        return _reads_as(doc, "-", {"k": value}) and yaml.safe_load(doc) == {"k": value}
    except yaml.YAMLError:
        return False


def _splice(text: str, keys: tuple[str, ...], value: str) -> str | None:
    """Edit the text itself, keeping everything else: replace the single-line scalar at
    ``keys``, or insert the missing keys as new lines at the end of the deepest block
    mapping that exists. None where neither is safe (the caller then rewrites the file).
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)  # already checked by yamlsafe.load
    for depth, k in enumerate(keys):
        if not isinstance(node, yaml.MappingNode):
            return None
        child = next((v for key, v in node.value if isinstance(key, yaml.ScalarNode) and key.value == k), None)
        if child is None or (isinstance(child, yaml.ScalarNode) and child.tag == "tag:yaml.org,2002:null" and depth < len(keys) - 1):
            return _insert(text, node, keys[depth:], value) if child is None else None
        node = child
    if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "'", '"'):
        return None
    start, end = node.start_mark, node.end_mark
    if start.line != end.line or start.index == end.index:
        return None
    return text[: start.index] + _scalar_text(value, node.style) + text[end.index :]


def _insert(text: str, mapping: yaml.MappingNode, keys: tuple[str, ...], value: str) -> str | None:
    """New lines for ``keys`` after the last entry of a block mapping, at its indentation."""
    if mapping.flow_style or not mapping.value:
        return None
    indent = mapping.value[0][0].start_mark.column
    last: yaml.Node = mapping.value[-1][1]
    while isinstance(last, yaml.MappingNode | yaml.SequenceNode) and last.value and not last.flow_style:
        last = last.value[-1][1] if isinstance(last, yaml.MappingNode) else last.value[-1]
    end = last.end_mark
    if end.column == 0:
        pos = end.index
    else:
        newline = text.find("\n", end.index)
        pos = len(text) if newline < 0 else newline + 1
    lines = [f"{' ' * (indent + 2 * i)}{k}:" for i, k in enumerate(keys[:-1])]
    lines.append(f"{' ' * (indent + 2 * (len(keys) - 1))}{keys[-1]}: {_scalar_text(value, None)}")
    head = text[:pos] if text[:pos].endswith("\n") or not pos else text[:pos] + "\n"
    return head + "\n".join(lines) + "\n" + text[pos:]
