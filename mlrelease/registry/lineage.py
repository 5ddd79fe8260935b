"""Where a version came from and what depends on it; which versions a data set feeds.

Upstream is read from the version's own manifest (data sets by role, code) and the
chain of ``parent`` links, which is followed only as far as it is sound: a parent
without a manifest, a broken manifest or a cycle ends the chain and says why, rather
than failing the whole view. Downstream needs the model's other manifests (children
are versions whose parent is this one) and its release state.

Dataset impact scans every version manifest, so it parses on all cores on a cold cache.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from mlrelease.errors import ManifestError, NotFound, Problem
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import sort_versions
from mlrelease.registry.overview import Placement, placements
from mlrelease.registry.types import Approval, Code, Consumer, DataRef, Dataset, Rejection, Version

# how a parent chain ends
ROOT, MISSING, BROKEN, CYCLE = "root", "missing", "broken", "cycle"


@dataclass(frozen=True)
class DataInput:
    role: str
    ref: DataRef
    manifest: Dataset | None  # None: the registry has no manifest for this data set version


@dataclass(frozen=True)
class Ancestor:
    version: str
    created: datetime
    author: str


@dataclass(frozen=True)
class ParentChain:
    """Ancestors nearest first; ``end`` says why the chain stops at its last entry."""

    ancestors: tuple[Ancestor, ...]
    end: str  # root | missing (no manifest for 'at') | broken (unreadable manifest) | cycle (returns to 'at')
    at: str | None = None  # the version named where the chain broke off

    def describe_end(self) -> str:
        if self.end == MISSING:
            return f"parent {self.at} has no manifest"
        if self.end == BROKEN:
            return f"parent {self.at} has an unreadable manifest"
        if self.end == CYCLE:
            return f"cycle: parent {self.at} is already in the chain"
        return "root"


@dataclass(frozen=True)
class ConsumerLink:
    consumer: Consumer
    affected: bool  # the version is live (or a canary) in an environment this consumer calls


@dataclass(frozen=True)
class Lineage:
    version: Version
    data: tuple[DataInput, ...]
    code: Code | None
    parents: ParentChain
    consumers: tuple[ConsumerLink, ...]
    placements: tuple[Placement, ...]  # environments where the version runs now
    children: tuple[str, ...]
    problems: tuple[Problem, ...]  # unreadable files met on the way (children scan, data set manifests)


@dataclass(frozen=True)
class DatasetUse:
    model: str
    version: str
    roles: tuple[str, ...]  # train, validation, test ...
    placements: tuple[Placement, ...]


@dataclass(frozen=True)
class DatasetImpact:
    name: str
    version: str
    manifest: Dataset | None
    uses: tuple[DatasetUse, ...]  # by model name, then version order
    problems: tuple[Problem, ...]

    @property
    def live_uses(self) -> tuple[DatasetUse, ...]:
        return tuple(u for u in self.uses if u.placements)


def parent_chain(reg: Registry, version: Version) -> ParentChain:
    seen = {version.version}
    out: list[Ancestor] = []
    parent = version.parent
    while parent is not None:
        if parent in seen:
            return ParentChain(tuple(out), CYCLE, parent)
        seen.add(parent)
        if not reg.source.exists(layout.version_path(version.model, parent)):
            return ParentChain(tuple(out), MISSING, parent)
        try:
            manifest = reg.version(version.model, parent)
        except (ManifestError, NotFound):
            return ParentChain(tuple(out), BROKEN, parent)
        out.append(Ancestor(parent, manifest.created, manifest.author))
        parent = manifest.parent
    return ParentChain(tuple(out), ROOT)


def lineage(reg: Registry, model: str, version: str) -> Lineage:
    manifest = reg.version(model, version)
    info = reg.model(model)
    problems: list[Problem] = []
    data = tuple(
        DataInput(role, ref, reg.collect(functools.partial(reg.dataset, ref.dataset, ref.version), problems))
        for role, ref in manifest.data.items()
    )
    where = placements(reg, model).get(version, ())
    envs = {p.environment for p in where}
    consumers = tuple(ConsumerLink(c, bool(envs & set(c.environments)) if c.environments else bool(envs)) for c in info.consumers)
    return Lineage(
        version=manifest,
        data=data,
        code=manifest.code,
        parents=parent_chain(reg, manifest),
        consumers=consumers,
        placements=where,
        children=_children(reg, model, version, problems),
        problems=tuple(problems),
    )


def _children(reg: Registry, model: str, version: str, problems: list[Problem]) -> tuple[str, ...]:
    items = [("version", layout.version_path(model, v)) for v in reg.version_names(model)]
    out = []
    for (_kind, _path), (status, value) in reg.parse_many(items, parallel=True).items():
        if status != "ok":
            problems.extend(value)
        elif value.parent == version and value.version != version:
            out.append(value.version)
    return tuple(sort_versions(out))


def dataset_impact(reg: Registry, name: str, version: str) -> DatasetImpact:
    """Every model version trained, validated or tested on ``name@version``, and where it runs."""
    problems: list[Problem] = []
    manifest = reg.collect(lambda: reg.dataset(name, version), problems)
    named = {("version", layout.version_path(m, v)): (m, v) for m in reg.model_names() for v in reg.version_names(m)}
    results = reg.parse_many(named, parallel=True)
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for item, (model, ver) in named.items():
        status, value = results[item]
        if status != "ok":
            problems.extend(value)
            continue
        roles = tuple(role for role, ref in value.data.items() if ref.dataset == name and ref.version == version)
        if roles:
            found.setdefault(model, []).append((ver, roles))
    if manifest is None and not found and not problems:
        known = reg.dataset_versions(name) if name in reg.dataset_names() else []
        hint = f"versions: {', '.join(known[-8:])}" if known else "no manifest and no version uses it"
        raise NotFound(f"no data set {name}@{version} in {reg.label} ({hint})")
    uses: list[DatasetUse] = []
    for model in sorted(found):
        where = placements(reg, model)
        uses.extend(DatasetUse(model, v, roles, where.get(v, ())) for v, roles in found[model])
    return DatasetImpact(name, version, manifest, tuple(uses), tuple(problems))


@dataclass(frozen=True)
class VersionView:
    """One version with everything around it: ``show MODEL@VERSION`` and the TUI's version screen."""

    lineage: Lineage
    rejection: Rejection | None
    approvals: dict[str, tuple[Approval, ...]]  # environment → approvals of this version there

    @property
    def version(self) -> Version:
        return self.lineage.version


def version_view(reg: Registry, model: str, version: str) -> VersionView:
    lin = lineage(reg, model, version)
    rejection = next((r for r in reg.rejections(model) if r.version == version), None)
    approvals = {}
    for env, state in reg.live_versions(model).items():
        mine = tuple(a for a in state.approvals if a.version == version)
        if mine:
            approvals[env] = mine
    return VersionView(lin, rejection, approvals)
