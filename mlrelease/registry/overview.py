"""One summary per model: the rules behind ``mlrelease list`` and the TUI's overview.

It has to stay cheap at any registry size, so it reads only what a summary shows: the
config, each model.yaml, every release state, and for each model the one manifest whose
headline metrics are shown (what runs in its furthest environment). Version counts and
the latest version come from file names alone.

A broken file never hides the rest of the registry: its problems are collected beside
the summaries, and the face decides how loudly to report them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mlrelease.errors import NotFound, Problem
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import version_key
from mlrelease.registry.types import Canary, Config, MetricDef, Model, Pin, Rejection, ReleaseState, Version


@dataclass(frozen=True)
class EnvStatus:
    """A model in one environment: what is live, and what the latest action asked for."""

    environment: str
    live: str | None = None
    canary: Canary | None = None  # a second version taking ``weight`` percent of traffic
    desired: str | None = None
    phase: str | None = None  # observed phase of the latest promotion: Pending | Succeeded | Failed
    pin: Pin | None = None
    forced: tuple[str, ...] = ()  # gates the latest promotion here overrode with --force
    break_glass: tuple[str, ...] = ()  # break-glass promotions here nobody has reviewed yet (their ids)
    marks: tuple[str, ...] = ()  # what `mlrelease verify` says of this state's history (mlrelease.audit.marks)
    accepted: tuple[str, ...] = ()  # findings of its history a second person accepted: shown, no longer a problem

    @property
    def pending(self) -> bool:
        return self.phase == "Pending"

    @property
    def failed(self) -> bool:
        return self.phase == "Failed"

    @property
    def pinned(self) -> bool:
        return self.pin is not None


@dataclass(frozen=True)
class Headline:
    """One headline metric of a live version, with its catalogue entry for formatting."""

    name: str
    value: float | None
    definition: MetricDef | None  # None: the metric is not in the catalogue

    def render(self) -> str:
        if self.definition is not None:
            return self.definition.render(self.value)
        return MetricDef(self.name, "max").render(self.value)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    owner: str | None  # None when model.yaml could not be read (see Overview.problems)
    description: str | None
    version_count: int
    latest: str | None
    environments: tuple[EnvStatus, ...]  # in config order, one per configured environment
    headline_environment: str | None  # the furthest environment where something is live
    headline_version: str | None
    headline: tuple[Headline, ...]
    candidate: str | None  # newest non-rejected version newer than what is live in the last environment

    @property
    def flags(self) -> tuple[str, ...]:
        """Facts worth a glance, in a fixed order: unverified, break-glass (not reviewed), forced, candidate, pending, failed, pinned."""
        envs = self.environments
        facts = {
            "unverified": any(e.marks for e in envs),
            "break-glass": any(e.break_glass for e in envs),
            "forced": any(e.forced for e in envs),
            "candidate": self.candidate is not None,
            "pending": any(e.pending for e in envs),
            "failed": any(e.failed for e in envs),
            "pinned": any(e.pinned for e in envs),
        }
        return tuple(flag for flag, holds in facts.items() if holds)

    def env(self, name: str) -> EnvStatus | None:
        return next((e for e in self.environments if e.environment == name), None)


@dataclass(frozen=True)
class Overview:
    environments: tuple[str, ...]
    models: tuple[ModelSummary, ...]
    problems: tuple[Problem, ...]


def env_status(env: str, state: ReleaseState | None) -> EnvStatus:
    if state is None:
        return EnvStatus(env)
    return EnvStatus(
        environment=env,
        live=state.live.version if state.live else None,
        canary=state.live.canary if state.live else None,
        desired=state.desired.version if state.desired else None,
        phase=state.observed.phase if state.observed else None,
        pin=state.pin,
        forced=state.desired.forced if state.desired else (),
        break_glass=tuple(b.promotion_id for b in state.unreviewed),
    )


def headline_names(config: Config, model: Model | None) -> tuple[str, ...]:
    """A model's own headline metrics win over the registry's."""
    if model is not None and model.headline:
        return model.headline
    return config.headline


def newer(a: str, b: str) -> bool:
    return version_key(a) > version_key(b)


def candidate(versions: list[str], live_last: str | None, rejected: set[str]) -> str | None:
    """Newest version that is newer than what the last environment runs and not rejected."""
    for v in reversed(versions):
        if v in rejected:
            continue
        if live_last is None or newer(v, live_last):
            return v
        return None
    return None


def overview(reg: Registry, *, parallel: bool = False) -> Overview:
    """Every model's row; ``parallel``: parse what the cache lacks on every core (:mod:`.parallel`)."""
    config = reg.config
    env_names = config.environment_names
    problems: list[Problem] = reg.link_problems(layout.MODELS)  # a linked model folder is not listed, but said
    names = reg.model_names()
    models: dict[str, Model | None] = {}
    # Every model.yaml, release state and rejection list in one go (on every core with
    # ``parallel``): on a cold cache at 100,000 versions that is 2,000 files, most of a first `list`.
    rejections = [("rejections", layout.rejections_path(n)) for n in names if reg.source.exists(layout.rejections_path(n))]
    states_located = layout.located(reg.source.files(layout.RELEASES), "release")
    results = reg.parse_many(
        [*(("model", layout.model_path(n)) for n in names), *((loc.kind, loc.path) for loc in states_located), *rejections],
        parallel=parallel,
    )
    for n in names:
        status, value = results[("model", layout.model_path(n))]
        models[n] = value if status == "ok" else None
        if status != "ok":
            problems.extend(value)
    states = reg.releases(problems)
    env_rows = {n: tuple(env_status(e, states.get((e, n))) for e in env_names) for n in names}
    heads = {n: next((e for e in reversed(envs) if e.live is not None), None) for n, envs in env_rows.items()}
    # Only the manifests whose metrics are shown: what runs in each model's furthest environment.
    live_paths = {layout.version_path(n, h.live) for n, h in heads.items() if h is not None and h.live is not None}
    manifests = reg.parse_many([("version", p) for p in sorted(live_paths) if reg.source.exists(p)], parallel=parallel)
    summaries = []
    for n in names:
        versions = reg.version_names(n)
        envs = env_rows[n]
        head_env = heads[n]
        live_manifest = (
            _manifest(reg, manifests, n, head_env.live, problems, env=head_env.environment) if head_env and head_env.live else None
        )
        metric_names = headline_names(config, models[n])
        headline = tuple(Headline(m, live_manifest.metrics.get(m) if live_manifest else None, config.metrics.get(m)) for m in metric_names)
        rejected = {r.version for r in reg.collect(functools.partial(reg.rejections, n), problems) or ()}
        model = models[n]
        summaries.append(
            ModelSummary(
                name=n,
                owner=model.owner if model else None,
                description=model.description if model else None,
                version_count=len(versions),
                latest=versions[-1] if versions else None,
                environments=envs,
                headline_environment=head_env.environment if head_env else None,
                headline_version=head_env.live if head_env else None,
                headline=headline if head_env else (),
                candidate=candidate(versions, envs[-1].live if envs else None, rejected),
            )
        )
    return Overview(environments=env_names, models=tuple(summaries), problems=tuple(problems))


def _manifest(
    reg: Registry, parsed: dict[tuple[str, str], tuple[str, object]], model: str, version: str, problems: list[Problem], *, env: str
) -> Version | None:
    path = layout.version_path(model, version)
    result = parsed.get(("version", path))
    if result is None:
        problems.append(Problem(layout.release_path(env, model), None, f"live version {version!r} of {model!r} has no manifest ({path})"))
        return None
    status, value = result
    if status != "ok":
        assert isinstance(value, list)
        problems.extend(value)
        return None
    assert isinstance(value, Version)
    return value


@dataclass(frozen=True)
class Placement:
    """Where one version runs: live in an environment, or its canary with a traffic weight."""

    environment: str
    role: str  # live | canary
    weight: float | None = None  # canary traffic percent

    def describe(self) -> str:
        return self.environment if self.role == "live" else f"{self.environment} (canary {self.weight:g}%)"


def placements(reg: Registry, model: str) -> dict[str, tuple[Placement, ...]]:
    """Version → where it runs now, in config order of environments."""
    out: dict[str, list[Placement]] = {}
    for env, state in reg.live_versions(model).items():
        if state.live is None:
            continue
        out.setdefault(state.live.version, []).append(Placement(env, "live"))
        if state.live.canary is not None:
            out.setdefault(state.live.canary.version, []).append(Placement(env, "canary", state.live.canary.weight))
    return {v: tuple(p) for v, p in out.items()}


@dataclass(frozen=True)
class VersionRow:
    version: str
    manifest: Version | None  # None: unreadable (its problems are in ModelView.problems)
    placements: tuple[Placement, ...]
    rejection: Rejection | None


@dataclass(frozen=True)
class ModelView:
    """One model with its versions, as ``show MODEL`` prints it (the TUI builds its own, in tui/modeldata.py)."""

    model: Model
    environments: tuple[EnvStatus, ...]
    versions: tuple[VersionRow, ...]  # oldest first; with a limit, the newest few plus every live one
    total: int  # how many versions the model has
    metrics: tuple[str, ...]  # every metric the rows have: catalogue order, then the rest
    problems: tuple[Problem, ...]

    @property
    def hidden(self) -> int:
        return self.total - len(self.versions)


def model_view(reg: Registry, name: str, limit: int | None = None) -> ModelView:
    """``limit``: parse only the newest ``limit`` versions (and any that are live), not thousands."""
    model = reg.model(name)
    problems: list[Problem] = []
    names = reg.version_names(name)
    where = placements(reg, name)
    if limit is not None:
        keep = set(names[-limit:]) | set(where)
        shown = [v for v in names if v in keep]
    else:
        shown = names
    items = [("version", layout.version_path(name, v)) for v in shown]
    parsed = reg.parse_many(items, parallel=True)
    rejected = {r.version: r for r in reg.collect(lambda: reg.rejections(name), problems) or ()}
    rows = []
    seen: dict[str, None] = {}
    for v, item in zip(shown, items, strict=True):
        status, value = parsed[item]
        if status != "ok":
            problems.extend(value)
        else:
            seen.update(dict.fromkeys(value.metrics))
        rows.append(VersionRow(v, value if status == "ok" else None, where.get(v, ()), rejected.get(v)))
    catalogue = reg.config.metrics
    metrics = (*(m for m in catalogue if m in seen), *(m for m in seen if m not in catalogue))
    envs = tuple(env_status(e, reg.release(e, name)) for e in reg.config.environment_names)
    return ModelView(model, envs, tuple(rows), len(names), metrics, tuple(problems))


def require_environment(reg: Registry, name: str) -> str:
    if reg.config.environment(name) is None:
        known = ", ".join(reg.config.environment_names) or "none"
        raise NotFound(f"no environment {name!r} in mlrelease.yaml (environments: {known})")
    return name
