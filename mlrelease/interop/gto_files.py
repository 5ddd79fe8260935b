"""The registry as an import's chain sees it: the tip plus what the chain has written so far.

GTO's flags live in the registry's own files: the tag ``deregistered`` on a manifest and
``deprecated`` on model.yaml, and a rejection in ``models/<model>/rejections.yaml`` for
a deregistered version (never promotable; ``show`` and ``list`` mark it). Every file is
parsed back before it is written: the import never writes what lint cannot read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mlrelease.interop import common
from mlrelease.interop.gto_tags import REASON_LIMIT
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.loader import Registry
from mlrelease.registry.parse import parse_rejections, parse_release
from mlrelease.textsafe import visible

DEREGISTERED = "deregistered"  # manifest tag for a version GTO deregistered
DEPRECATED = "deprecated"  # model.yaml tag for an artifact GTO deprecated
REJECTED = "deregistered in GTO"  # how the rejections this import writes begin


class Files:
    """The registry at the tip plus what this import has written so far (the chain is built in memory)."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self._written: dict[str, bytes | None] = {}

    def update(self, changes: Mapping[str, bytes | None]) -> None:
        self._written.update(changes)

    def exists(self, path: str) -> bool:
        if path in self._written:
            return self._written[path] is not None
        return self.reg.source.exists(path)

    def _bytes(self, path: str) -> bytes | None:
        if path in self._written:
            return self._written[path]
        return self.reg.source.read(path) if self.reg.source.exists(path) else None

    def load(self, path: str) -> dict[str, Any] | None:
        data = self._bytes(path)
        if data is None:
            return None
        tree = yamlsafe.load(data, path)
        return dict(tree) if isinstance(tree, dict) else None

    def release(self, path: str) -> Any:

        data = self._bytes(path)
        return None if data is None else parse_release(yamlsafe.load(data, path), path)


def set_flag(files: Files, changes: dict[str, bytes | None], path: str, tag: str, *, on: bool) -> str | None:
    """Add (or remove) ``tag`` in the tags of a manifest or model.yaml (GTO's flags); a problem, or None."""
    doc = files.load(path)
    if doc is None:
        return f"{path} does not exist: not tagged {tag}"
    tags = list(doc.get("tags") or [])
    if (tag in tags) == on:
        return None
    doc["tags"] = [*tags, tag] if on else [t for t in tags if t != tag]
    if not doc["tags"]:
        del doc["tags"]
    loc = layout.locate(path)
    is_version = isinstance(loc, layout.Located) and loc.kind == "version"
    data = common.dump_version(doc, path) if is_version else common.dump_model(doc, path)
    files.update({path: data})
    changes[path] = data
    return None


def set_rejection(
    files: Files,
    changes: dict[str, bytes | None],
    model: str,
    version: str,
    *,
    on: bool,
    by: str = "",
    at: datetime | None = None,
    why: str = "",
) -> None:
    """Reject a deregistered version (never promotable, marked in show and list), or lift that rejection."""
    path = layout.rejections_path(model)
    doc = files.load(path) or {"model": model, "rejected": []}
    rejected = [dict(r) for r in doc.get("rejected") or [] if isinstance(r, Mapping)]
    ours = [r for r in rejected if r.get("version") == version and str(r.get("reason", "")).startswith(REJECTED)]
    if bool(ours) == on or (on and any(r.get("version") == version for r in rejected)):
        return
    if on:
        reason = f"{REJECTED}" + (f": {visible(why, single_line=True)[:REASON_LIMIT]}" if why else "")
        rejected.append({"version": version, "by": by, "at": format_timestamp(at or datetime.now(UTC)), "reason": reason})
    else:
        rejected = [r for r in rejected if r not in ours]
    data: bytes | None = yamlsafe.dump({**doc, "rejected": rejected}).encode("utf-8") if rejected else None
    if data is not None:
        parse_rejections(yamlsafe.load(data, path), path)
    files.update({path: data})
    changes[path] = data
