"""Lint: every file parses, every name follows the conventions, every reference resolves.

``mlrelease lint`` is the check CI runs on every pull request, so it reports *all*
problems of *all* files in one run (parsed on every core, and each file's verdict cached
by :mod:`.lintcache` while it still holds), each as ``file:line: problem``. The checks of one version manifest (:func:`check_version`) are shared with
``register``, which refuses to write a manifest that lint would flag, and with the TUI.

What exists is known from file names alone (:class:`Index`), so a reference check never
needs the referenced file to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mlrelease.errors import Problem
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout, lintcache
from mlrelease.registry.identities import Identities
from mlrelease.registry.layout import CONFIG, Located, locate
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import lookalike_reason, unsafe_reason
from mlrelease.registry.rollout import BUILTIN
from mlrelease.registry.types import Config, Dataset, Model, Rejection, ReleaseState, Telemetry, Version


@dataclass
class Index:
    """What exists, by file name: models with a model.yaml, their versions, data set versions."""

    models: set[str] = field(default_factory=set)
    versions: dict[str, set[str]] = field(default_factory=dict)
    datasets: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, located: Iterable[Located]) -> Index:
        index = cls()
        for loc in located:
            if loc.kind == "model" and loc.model:
                index.models.add(loc.model)
            elif loc.kind == "version" and loc.model and loc.version:
                index.versions.setdefault(loc.model, set()).add(loc.version)
            elif loc.kind == "dataset" and loc.dataset and loc.version:
                index.datasets.setdefault(loc.dataset, set()).add(loc.version)
        return index

    @classmethod
    def from_registry(cls, reg: Registry) -> Index:
        return cls.of(loc for loc in (locate(p) for p in reg.files()) if isinstance(loc, Located))

    def has_version(self, model: str, version: str) -> bool:
        return version in self.versions.get(model, ())


# ---- checks of one parsed file -------------------------------------------------------------


class _Out:
    """Problems of one file, each at a line of a top-level key when there is one."""

    def __init__(self, path: str, lines: dict[str, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, key: str | None, message: str | None) -> None:
        if message:
            line = self.lines.get(key, 1) if key else None
            self.problems.append(Problem(self.path, line, message))


def _metric_names(out: _Out, key: str, used: Iterable[str], config: Config, what: str) -> None:
    for name in used:
        if name not in config.metrics:
            out.add(key, f"{what} {name!r} is not in the metric catalogue (mlrelease.yaml metrics)")


def check_version(v: Version, path: str, config: Config, index: Index) -> list[Problem]:
    """Everything lint asks of one version manifest, given config and what exists.

    The manifest's own model folder is the one named in the manifest; ``lint`` checks
    separately that it matches the file's place.
    """
    out = _Out(path, v.lines)
    c = config.conventions
    out.add("version", conv.version_problem(v.version, c))
    if v.parent is not None:
        if v.parent == v.version:
            out.add("parent", f"parent {v.parent!r} is this version itself")
        elif not index.has_version(v.model, v.parent):
            out.add("parent", f"parent version {v.parent!r} of {v.model!r} does not exist ({layout.version_path(v.model, v.parent)})")
    for role, ref in v.data.items():
        reason = unsafe_reason(role) or lookalike_reason(role)
        if reason:
            out.add("data", f"data role {role!r} {reason}")
        for problem in (conv.name_problem("dataset", ref.dataset, c), conv.dataset_version_problem(ref.version, c)):
            out.add("data", problem and f"data.{role}: {problem}")
        known = index.datasets.get(ref.dataset)
        if known is not None and ref.version not in known:
            out.add("data", f"data.{role}: data set {ref.dataset!r} has no version {ref.version!r} ({layout.dataset_folder(ref.dataset)})")
    _metric_names(out, "metrics", v.metrics, config, "metric")
    for missing in conv.missing_required(v, c.required):
        out.add(missing.split(".")[0], f"missing required field {missing!r} (conventions.required)")
    out.add("artifact", conv.template_problem("artifact URI", c.artifact_uri, v.artifact.uri, v.model, v.version))
    if v.image is not None:
        out.add("image", conv.template_problem("image", c.image, v.image.ref, v.model, v.version))
    return out.problems


def check_config(config: Config, index: Index) -> list[Problem]:
    """References inside mlrelease.yaml: environments, backends, metrics, required fields."""
    out = _Out(CONFIG, config.lines)
    names = set(config.environment_names)
    env_line = {e.name: e.line or config.lines.get("environments", 1) for e in config.environments}

    def at_env(env: str, message: str) -> None:
        out.problems.append(Problem(CONFIG, env_line[env], message))

    for env in config.environments:
        reason = unsafe_reason(env.name) or lookalike_reason(env.name)
        if reason:
            at_env(env.name, f"environment name {env.name!r} {reason}")
        for req in env.requires:
            if req == env.name:
                at_env(env.name, f"environment {env.name!r} requires itself")
            elif req not in names:
                at_env(env.name, f"environment {env.name!r} requires {req!r}, which is not an environment")
        if env.backend is not None and env.backend not in config.backends:
            at_env(env.name, f"environment {env.name!r} uses backend {env.backend!r}, which is not in backends")
        gate_metrics = [*env.gates.thresholds, *env.gates.no_regression]
        for name in gate_metrics:
            if name not in config.metrics:
                at_env(env.name, f"gate of {env.name!r} uses metric {name!r}, which is not in the metric catalogue")
        for check in env.rollout.checks if env.rollout else ():
            if check.builtin_goal is None and check.metric not in config.metrics:
                at_env(
                    env.name,
                    f"the rollout analysis of {env.name!r} compares {check.metric!r}, which is neither built in "
                    f"({', '.join(BUILTIN)}) nor in the metric catalogue",
                )
    for bundle in config.bundles.values():
        for model in bundle.models:
            if model not in index.models:
                where = bundle.line or config.lines.get("bundles", 1)
                out.problems.append(
                    Problem(
                        CONFIG, where, f"bundle {bundle.name!r} names model {model!r}, which does not exist ({layout.model_path(model)})"
                    )
                )
    cycle = _requires_cycle(config)
    if cycle:
        at_env(cycle[0], f"environments require each other in a cycle: {' → '.join(cycle)}")
    _metric_names(out, "headline", config.headline, config, "headline metric")
    for path in config.conventions.required:
        out.add("conventions", conv.required_path_problem(path))
    retrain = config.retrain
    if retrain.backend is not None and retrain.backend not in config.backends:
        out.add("retrain", f"retrain uses backend {retrain.backend!r}, which is not in backends")
    _metric_names(out, "retrain", retrain.policy.metric_drop, config, "retrain policy metric")
    for model, policy in retrain.models.items():
        if model not in index.models:
            out.add("retrain", f"retrain policy for model {model!r}, which does not exist ({layout.model_path(model)})")
        _metric_names(out, "retrain", policy.metric_drop, config, f"retrain policy metric of {model!r}")
    return out.problems


def _requires_cycle(config: Config) -> list[str] | None:
    """The first cycle in the environments' ``requires`` (a promotion could never start), or None."""
    graph = {e.name: [r for r in e.requires if r != e.name] for e in config.environments}
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done or node not in graph:
            return None
        for nxt in graph[node]:
            found = visit(nxt, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    for name in graph:
        found = visit(name, [])
        if found:
            return found
    return None


def _check_model(m: Model, loc: Located, config: Config, index: Index) -> list[Problem]:
    out = _Out(loc.path, m.lines)
    _metric_names(out, "headline", m.headline, config, "headline metric")
    envs = set(config.environment_names)
    for consumer in m.consumers:
        for env in consumer.environments:
            if env not in envs:
                out.add("consumers", f"consumer {consumer.name!r} names environment {env!r}, which is not in mlrelease.yaml")
    return out.problems


def _check_version_file(v: Version, loc: Located, config: Config, index: Index) -> list[Problem]:
    return check_version(v, loc.path, config, index)  # the file's place was checked against it on reading


def _check_dataset(d: Dataset, loc: Located, config: Config, index: Index) -> list[Problem]:
    out = _Out(loc.path, d.lines)
    out.add("version", conv.dataset_version_problem(d.version, config.conventions))
    return out.problems


def _check_release(s: ReleaseState, loc: Located, config: Config, index: Index) -> list[Problem]:
    out = _Out(loc.path, s.lines)
    refs: list[tuple[str, str, str]] = []
    if s.desired:
        refs.append(("desired", "desired.version", s.desired.version))
        if s.desired.canary:
            refs.append(("desired", "desired.canary.version", s.desired.canary.version))
    if s.live:
        refs.append(("live", "live.version", s.live.version))
        if s.live.canary:
            refs.append(("live", "live.canary.version", s.live.canary.version))
    refs += [("approvals", f"approvals[{i}].version", a.version) for i, a in enumerate(s.approvals)]
    for key, what, version in refs:
        if loc.model in index.models and not index.has_version(loc.model or "", version):
            out.add(key, f"{what} {version!r} is not a version of {loc.model!r}")
    return out.problems


def _check_telemetry(t: Telemetry, loc: Located, config: Config, index: Index) -> list[Problem]:
    out = _Out(loc.path, t.lines)
    for i, snap in enumerate(t.snapshots):
        if snap.version is not None and loc.model in index.models and not index.has_version(loc.model or "", snap.version):
            out.add("snapshots", f"snapshots[{i}].version {snap.version!r} is not a version of {loc.model!r}")
        _metric_names(out, "snapshots", snap.metrics, config, f"snapshots[{i}] metric")
        observed = [m for m in snap.observations if m not in BUILTIN]
        _metric_names(out, "snapshots", observed, config, f"snapshots[{i}] observation of")
    return out.problems


def _check_versions_named(path: str, versions: Iterable[str], model: str | None, index: Index) -> list[Problem]:
    return [
        Problem(path, 1, f"{v!r} is not a version of {model!r}")
        for v in dict.fromkeys(versions)
        if model in index.models and not index.has_version(model or "", v)
    ]


def _check_rejections(rejected: tuple[Rejection, ...], loc: Located, config: Config, index: Index) -> list[Problem]:
    return _check_versions_named(loc.path, (r.version for r in rejected), loc.model, index)


# ---- names on disk ---------------------------------------------------------------------------


def _folder_problems(located: list[Located], config: Config | None, index: Index) -> list[Problem]:
    """Folder names, checked once per folder: safe, by convention, and environments known."""
    problems: list[Problem] = []
    seen: set[str] = set()
    named: set[str] = set()  # folders whose name was judged

    def once(folder: str, message: str | None) -> None:
        if message and folder not in seen:
            seen.add(folder)
            problems.append(Problem(folder, None, message))

    envs = set(config.environment_names) if config else None
    for loc in located:
        if loc.kind in ("model", "version", "rejections") and loc.model is not None:
            folder = layout.model_folder(loc.model)
            if folder not in named:  # once per folder, not per file in it (a model has hundreds of versions)
                named.add(folder)
                if config:
                    once(folder, conv.name_problem("model", loc.model, config.conventions) or _lookalike("model", loc.model))
                else:
                    once(folder, _unsafe("model", loc.model))
            if loc.model not in index.models:
                once(folder, f"model folder {loc.model!r} has no model.yaml")
        elif loc.kind == "dataset" and loc.dataset is not None:
            folder = layout.dataset_folder(loc.dataset)
            if folder not in named:
                named.add(folder)
                if config:
                    once(folder, conv.name_problem("dataset", loc.dataset, config.conventions) or _lookalike("dataset", loc.dataset))
                else:
                    once(folder, _unsafe("data set", loc.dataset))
        elif loc.kind in ("release", "telemetry") and loc.environment is not None:
            folder = loc.path.rsplit("/", 1)[0] + "/"
            once(folder, _unsafe("environment", loc.environment))
            if envs is not None and loc.environment not in envs:
                once(folder, f"environment {loc.environment!r} is not in mlrelease.yaml (environments: {', '.join(sorted(envs))})")
        if loc.kind in ("release", "telemetry", "retrain") and loc.model is not None:
            reason = unsafe_reason(loc.model)
            if reason:
                problems.append(Problem(loc.path, None, f"file name {loc.model!r} {reason}"))
            elif loc.model not in index.models:
                problems.append(Problem(loc.path, None, f"model {loc.model!r} does not exist ({layout.model_path(loc.model)})"))
        if loc.kind == "dataset" and loc.version is not None:
            reason = unsafe_reason(loc.version)
            if reason:
                problems.append(Problem(loc.path, None, f"file name {loc.version!r} {reason}"))
    return problems


def _controls_problems(config: Config, reg: Registry, located: list[Located]) -> list[Problem]:
    """Four eyes and signing as configured must be able to work: a typo must not allow nobody, or anybody.

    (An unreadable controls file is reported with the other files' problems.)
    """
    out: list[Problem] = []
    kinds = {loc.kind: loc.path for loc in located}
    identities = Identities()
    if "identities" in kinds:
        status, value = reg.parse_many([("identities", kinds["identities"])])[("identities", kinds["identities"])]
        if status == "ok" and isinstance(value, Identities):
            identities = value
    for env in config.environments:
        line = env.line or config.lines.get("environments")
        unknown = identities.unknown(env.gates.approvers)
        if unknown:
            out.append(
                Problem(
                    CONFIG,
                    line,
                    f"approvers of {env.name!r} name {', '.join(map(repr, unknown))}: no group or person in {layout.IDENTITIES} "
                    "and no e-mail address",
                )
            )
        if env.gates.approvers and not env.gates.approvals:
            out.append(Problem(CONFIG, line, f"approvers of {env.name!r} are set but approvals is 0, so nobody's approval is asked"))
        if env.signed and "signers" not in kinds:
            out.append(Problem(CONFIG, line, f"environment {env.name!r} is signed: true, and {layout.ALLOWED_SIGNERS} does not exist"))
    return out


def _lookalike(what: str, name: str) -> str | None:
    reason = lookalike_reason(name)
    return f"{what} name {name!r} {reason}" if reason else None


def _unsafe(what: str, name: str) -> str | None:
    reason = unsafe_reason(name)
    return f"{what} name {name!r} {reason}" if reason else None


# ---- the whole registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class LintResult:
    problems: list[Problem]
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "counts": {"files": self.files, "problems": len(self.problems), "files_with_problems": len({p.path for p in self.problems})},
            "problems": [p.to_json() for p in self.problems],
        }


def sort_key(p: Problem) -> tuple[str, int, str]:
    return (p.path, p.line or 0, p.message)


def lint(reg: Registry, plugin_checks: Callable[[Config], Iterable[Problem]] | None = None) -> LintResult:
    """Check every file of the registry; all problems, sorted by file and line.

    ``plugin_checks`` adds the problems of the backends' and telemetry sources' own
    settings (the plugins live above the registry, so the caller brings their checks).
    """
    problems: list[Problem] = []
    located: list[Located] = []
    files = reg.files()
    for path in files:
        loc = locate(path)
        if isinstance(loc, Located):
            located.append(loc)
        else:
            problems.append(Problem(path, None, loc))
    index = Index.of(located)
    problems.extend(reg.link_problems())

    config: Config | None = None
    if reg.source.exists(CONFIG):
        results = reg.parse_many([("config", CONFIG)])
        status, value = results[("config", CONFIG)]
        if status == "ok":
            config = value
        else:
            problems.extend(value)
    elif reg.source.link_of(CONFIG) is None:  # a linked one is reported with the other links
        problems.append(Problem(CONFIG, None, f"not found in {reg.label}"))

    if config is not None:
        problems.extend(check_config(config, index))
        if plugin_checks is not None:
            problems.extend(plugin_checks(config))
    problems.extend(_folder_problems(located, config, index))
    if config is not None:
        problems.extend(_controls_problems(config, reg, located))
    # Every file parsed and checked on every core, or its cached verdict where still true.
    config_oid = reg.blob_ids([CONFIG])[CONFIG] if config is not None else None
    for found in lintcache.check_files(reg, located, config, config_oid, index, _check_parsed):
        problems.extend(found)
    problems.sort(key=sort_key)
    return LintResult(problems=problems, files=len(files) + 1)  # + mlrelease.yaml


def check_file(value: object, path: str, config: Config, index: Index) -> list[Problem]:
    """What lint says of one parsed file at ``path`` (a file about to be written, e.g. by ``dataset register``)."""
    loc = locate(path)
    return _check_parsed(value, loc, config, index) if isinstance(loc, Located) else []


# What lint checks in each kind of file, found by its place: the type the file parses to and
# its check, each given the same context. Retrain requests have none here: the model's
# existence is a folder check, and the rest is history.
_CHECKS: dict[str, tuple[type, Callable[[Any, Located, Config, Index], list[Problem]]]] = {
    "version": (Version, _check_version_file),
    "model": (Model, _check_model),
    "dataset": (Dataset, _check_dataset),
    "release": (ReleaseState, _check_release),
    "telemetry": (Telemetry, _check_telemetry),
    "rejections": (tuple, _check_rejections),
}


def _check_parsed(value: object, loc: Located, config: Config, index: Index) -> list[Problem]:
    if loc.kind not in _CHECKS:
        return []
    kind, check = _CHECKS[loc.kind]
    assert isinstance(value, kind)
    return check(value, loc, config, index)
