"""Where a version came from and what depends on it; which versions a data set feeds.

Upstream is read from the version's own manifest (data sets by role, code) and the
chain of ``parent`` links, which is followed only as far as it is sound: a parent
without a manifest, a broken manifest or a cycle ends the chain and says why, rather
than failing the whole view. Downstream needs the model's other manifests (children
are versions whose parent is this one) and its release state.

Children and data set impact come from the indexes of :mod:`.index` (built on every core the
first time, then kept up to date from what changed); outside git they parse every manifest.
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
    used: tuple[str, ...] = ()  # the data set's version per role (the same for all when one was asked)


@dataclass(frozen=True)
class DatasetImpact:
    name: str
    version: str | None  # None: every version of the data set
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
    if reg.git_root is not None:  # the parent → children index (:mod:`.index`)
        from mlrelease.registry.index import Indexes

        with Indexes(reg) as index:
            children, broken = index.children(model, version)
        problems.extend(broken)
        return tuple(children)
    return _children_parsed(reg, model, version, problems)


def _children_parsed(reg: Registry, model: str, version: str, problems: list[Problem]) -> tuple[str, ...]:
    """Children by parsing every manifest of the model: outside git, where there is no index."""
    items = [("version", layout.version_path(model, v)) for v in reg.version_names(model)]
    out = []
    for (_kind, _path), (status, value) in reg.parse_many(items, parallel=True).items():
        if status != "ok":
            problems.extend(value)
        elif value.parent == version and value.version != version:
            out.append(value.version)
    return tuple(sort_versions(out))


def dataset_impact(reg: Registry, name: str, version: str | None) -> DatasetImpact:
    """Every model version trained, validated or tested on ``name@version`` (any version of
    ``name`` when ``version`` is None), and where it runs."""
    problems: list[Problem] = []
    manifest = None if version is None else reg.collect(lambda: reg.dataset(name, version), problems)
    found = _uses_indexed(reg, name, version, problems) if reg.git_root is not None else _uses_parsed(reg, name, version, problems)
    known = reg.dataset_versions(name) if name in reg.dataset_names() else []
    if manifest is None and not found and not problems and not (version is None and known):
        what = name if version is None else f"{name}@{version}"
        hint = f"versions: {', '.join(known[-8:])}" if known else "no manifest and no version uses it"
        raise NotFound(f"no data set {what} in {reg.label} ({hint})")
    uses: list[DatasetUse] = []
    for model in sorted(found):
        where = placements(reg, model)
        for v, refs in found[model]:
            uses.append(DatasetUse(model, v, tuple(r for r, _ in refs), where.get(v, ()), tuple(u for _, u in refs)))
    return DatasetImpact(name, version, manifest, tuple(uses), tuple(problems))


Found = dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]]  # model → [(version, ((role, data set version), ...))]


def _uses_indexed(reg: Registry, name: str, version: str | None, problems: list[Problem]) -> Found:
    """Model → [(version, refs)] from the data set index (:mod:`.index`): no manifest is parsed twice."""
    from mlrelease.registry.index import Indexes

    with Indexes(reg) as index:
        uses, broken = index.dataset_uses(name, version)
    problems.extend(broken)
    found: Found = {}
    for use in uses:
        found.setdefault(use.model, []).append((use.version, tuple(zip(use.roles, use.used, strict=True))))
    return found


def _uses_parsed(reg: Registry, name: str, version: str | None, problems: list[Problem]) -> Found:
    """The same by parsing every manifest: outside git, where there is no index."""
    named = {("version", layout.version_path(m, v)): (m, v) for m in reg.model_names() for v in reg.version_names(m)}
    results = reg.parse_many(named, parallel=True)
    found: Found = {}
    for item, (model, ver) in named.items():
        status, value = results[item]
        if status != "ok":
            problems.extend(value)
            continue
        refs = tuple((role, ref.version) for role, ref in value.data.items() if ref.dataset == name and version in (None, ref.version))
        if refs:
            found.setdefault(model, []).append((ver, refs))
    return found


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


@dataclass(frozen=True)
class ConsumerCall:
    """One model an application calls: in which environments, and what runs there now."""

    model: str
    consumer: Consumer
    running: tuple[tuple[str, str, Placement], ...]  # (environment, version, placement), config order


def consumer_calls(reg: Registry, application: str) -> tuple[tuple[ConsumerCall, ...], tuple[Problem, ...]]:
    """Which models ``application`` calls (their model.yaml ``consumers``), where, and what is live there."""
    problems: list[Problem] = []
    calls: list[ConsumerCall] = []
    envs = [e.name for e in reg.config.environments]
    for model in reg.model_names():
        info = reg.collect(functools.partial(reg.model, model), problems)
        if info is None:
            continue
        for consumer in info.consumers:
            if consumer.name != application:
                continue
            wanted = set(consumer.environments or envs)
            running = sorted(
                ((p.environment, v, p) for v, ps in placements(reg, model).items() for p in ps if p.environment in wanted),
                key=lambda item: (envs.index(item[0]) if item[0] in envs else len(envs), item[2].role != "live"),
            )
            calls.append(ConsumerCall(model, consumer, tuple(running)))
    if not calls and not problems:
        known = sorted({c.name for m in reg.model_names() for c in _consumers(reg, m)})
        hint = f"consumers: {', '.join(known[:12])}" if known else "no model.yaml names a consumer"
        raise NotFound(f"no model in {reg.label} names {application!r} among its consumers ({hint})")
    return tuple(calls), tuple(problems)


def _consumers(reg: Registry, model: str) -> tuple[Consumer, ...]:
    try:
        return reg.model(model).consumers
    except (ManifestError, NotFound):
        return ()
