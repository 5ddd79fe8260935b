"""A file says what it is twice — by its place and by its contents — and the two must agree.

``models/fraud-card/versions/1.3.0.yaml`` holding ``model: other-model, version: 9.9.9``
would otherwise be read as other-model 9.9.9 by a command that trusted the contents, and
as fraud-card 1.3.0 by one that trusted the path. The registry refuses such a file on
every read (:meth:`~mlrelease.registry.loader.Registry.parse`), with the same words lint
uses, so no face shows what lint calls an error.
"""

from __future__ import annotations

from mlrelease.errors import Problem
from mlrelease.registry.layout import Located, locate
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.types import Dataset, Model, ReleaseState, Telemetry, Version
from mlrelease.textsafe import quoted

# kind → (field of the object, what its place gives, how the place names it, how the file is called)
_CHECKS = {
    "model": (("name", "model", "the folder says model", "the file says"),),
    "version": (
        ("model", "model", "the folder says model", "the manifest says"),
        ("version", "version", "the file name says version", "the manifest says"),
    ),
    "dataset": (
        ("name", "dataset", "the folder says data set", "the manifest says"),
        ("version", "version", "the file name says version", "the manifest says"),
    ),
    "release": (
        ("model", "model", "the file name says model", "the state says"),
        ("environment", "environment", "the folder says environment", "the state says"),
    ),
    "telemetry": (
        ("model", "model", "the file name says model", "the snapshots say"),
        ("environment", "environment", "the folder says environment", "the snapshots say"),
    ),
}


def identity_problems(path: str, value: object) -> list[Problem]:
    """Where the contents of the file at ``path`` name something other than its place does."""
    if not isinstance(value, Model | Version | Dataset | ReleaseState | Telemetry):
        return []
    loc = locate(path)
    if not isinstance(loc, Located) or loc.kind not in _CHECKS:
        return []
    out: list[Problem] = []
    for attr, place_attr, place_says, file_says in _CHECKS[loc.kind]:
        inside, place = getattr(value, attr), getattr(loc, place_attr)
        if inside != place:
            out.append(Problem(path, value.lines.get(attr, 1), f"{place_says} {quoted(place)} but {file_says} {quoted(inside)}"))
            reason = unsafe_reason(place or "")
            if reason and loc.kind == "version" and place_attr == "version":
                out.append(Problem(path, None, f"file name {quoted(place)} {reason}"))
    return out
