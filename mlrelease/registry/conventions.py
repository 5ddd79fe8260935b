"""The registry's conventions (``mlrelease.yaml`` → ``conventions``) as questions with answers.

Lint, ``register`` and the TUI all ask the same things — is this model name allowed,
does this version follow the scheme, what artifact URI does the template expect, does a
manifest have every required field — so the answers live here, once. Each check returns
a one-line reason (or None), and the caller decides which file and line it belongs to.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache, lru_cache
from typing import Any

from mlrelease.registry import names
from mlrelease.registry.types import Conventions, Version


# Lint asks about the same data set names and versions once per manifest (10,000 times in a
# large registry): the answers are pure, so they are remembered.
@lru_cache(maxsize=8192)
def name_problem(kind: str, name: str, conventions: Conventions) -> str | None:
    """Why ``name`` cannot be a ``kind`` (model, dataset) name here, or None.

    The safety rules come first: a name that could climb out of a folder or fool a
    terminal is refused whatever the configured pattern says.
    """
    reason = names.unsafe_reason(name)
    if reason:
        return f"{kind} name {name!r} {reason}"
    pattern = conventions.dataset_name if kind == "dataset" else conventions.model_name
    if not pattern.fullmatch(name):
        return f"{kind} name {name!r} does not match the naming convention {pattern.pattern!r}"
    return None


def version_problem(version: str, conventions: Conventions) -> str | None:
    """Why ``version`` does not follow the model version scheme, or None."""
    return names.version_problem(version, conventions.version_scheme, conventions.version_pattern)


@lru_cache(maxsize=8192)
def dataset_version_problem(version: str, conventions: Conventions) -> str | None:
    """Data set versions are free (dates, snapshot ids) unless ``dataset_version`` is set."""
    reason = names.unsafe_reason(version)
    if reason:
        return f"data set version {version!r} {reason}"
    pattern = conventions.dataset_version
    if pattern is not None and not pattern.fullmatch(version):
        return f"data set version {version!r} does not match the convention {pattern.pattern!r}"
    return None


def expand(template: str, model: str, version: str) -> str:
    """``s3://ml-models/{model}/{version}/`` → ``s3://ml-models/fraud-card/1.4.0/``.

    Plain replacement, not ``str.format``: the parser already refused any field other
    than {model} and {version}, and a name can never inject another field.
    """
    return template.replace("{model}", model).replace("{version}", version)


def template_problem(what: str, template: str | None, actual: str, model: str, version: str) -> str | None:
    """Why ``actual`` does not follow the template, or None.

    A template that ends in ``/`` names a folder: the value may be that folder or any
    path inside it (``s3://ml-models/fraud-card/1.4.0/model.onnx``). Otherwise the value
    must be exactly the expansion.
    """
    if template is None:
        return None
    expected = expand(template, model, version)
    if actual == expected or (expected.endswith("/") and actual.startswith(expected)):
        return None
    inside = " (or a path inside it)" if expected.endswith("/") else ""
    return f"{what} {actual!r} does not follow the template: expected {expected!r}{inside}"


# ---- required fields: dotted paths into a version manifest ---------------------------------


def _unwrap(tp: Any) -> Any:
    """``X | None`` → X."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


@cache
def _hints(cls: type) -> dict[str, Any]:
    return {k: v for k, v in typing.get_type_hints(cls).items() if k != "lines"}


def required_path_problem(path: str) -> str | None:
    """Why ``path`` names no field a version manifest can have (a typo in config), or None.

    Walks the typed format: ``artifact.sha256`` and ``code.commit`` are fields,
    ``metrics.f1`` and ``data.train.digest`` go through free-keyed mappings.
    """
    tp: Any = Version
    for i, part in enumerate(path.split(".")):
        tp = _unwrap(tp)
        if not part:
            return f"required field {path!r} has an empty part"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            if part not in hints:
                where = ".".join(path.split(".")[:i]) or "a version manifest"
                return f"required field {path!r}: {where} has no field {part!r} (fields: {', '.join(hints)})"
            tp = hints[part]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return f"required field {path!r}: {'.'.join(path.split('.')[:i])} is a single value and has no parts"
    return None


def _value_at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif dataclasses.is_dataclass(obj):
            obj = getattr(obj, part, None)
        else:
            return None
    return obj


def missing_required(version: Version, required: tuple[str, ...]) -> list[str]:
    """The required dotted paths that ``version`` leaves absent or empty."""
    out = []
    for path in required:
        value = _value_at(version, path)
        if value is None or value == "" or (isinstance(value, dict | tuple | list) and not value):
            out.append(path)
    return out
