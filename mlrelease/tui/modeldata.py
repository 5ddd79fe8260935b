"""What the model view shows, read in thread workers from the services.

One function per pane, each cheap enough for its moment: :func:`load_model` when the
view opens (manifests of one model, parsed through the blob-id cache, compared with
what is live), :func:`load_history`, :func:`load_lineage` and :func:`load_health` when
their tab is first shown or the selection changes, :func:`load_messages` when a history
event is opened. None of them decides anything: the
deltas and verdicts come from :mod:`mlrelease.registry.compare`, placements from
:mod:`mlrelease.registry.overview`, health and drift from :mod:`mlrelease.telemetry.health`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlrelease.audit import marks
from mlrelease.errors import Problem
from mlrelease.registry.bundles import grouped
from mlrelease.registry.compare import Comparison, compare_versions
from mlrelease.registry.gitio import git_text
from mlrelease.registry.history import Event, history
from mlrelease.registry.lineage import Lineage, lineage
from mlrelease.registry.overview import Placement, headline_names, placements
from mlrelease.registry.types import Config, Model, ReleaseState, Version
from mlrelease.telemetry.health import Assessment, assess
from mlrelease.tui.session import Session

KEY_METRICS = 4  # metric columns in the versions table; the rest are in compare and trend
HISTORY_LIMIT = 500


@dataclass(frozen=True)
class ModelData:
    name: str
    model: Model
    config: Config
    versions: tuple[Version, ...]  # oldest first
    states: dict[str, ReleaseState]  # environment → release state, config order
    placements: dict[str, tuple[Placement, ...]]  # version → where it runs
    reference: tuple[str, str] | None  # (environment, version): the live version deltas are against
    against_live: dict[str, Comparison]  # version → reference compared with it
    key_metrics: tuple[str, ...]
    all_metrics: tuple[str, ...]  # every metric any version has, catalogue order first
    rejected: frozenset[str]
    problems: tuple[Problem, ...] = ()

    def version(self, name: str) -> Version | None:
        return next((v for v in self.versions if v.version == name), None)


def load_model(session: Session, name: str) -> ModelData:
    with session.open() as reg:
        config = reg.config
        model = reg.model(name)
        versions = tuple(reg.versions(name))
        states = reg.live_versions(name)
        where = placements(reg, name)
        problems: list[Problem] = []
        rejected = frozenset(r.version for r in reg.collect(lambda: reg.rejections(name), problems) or ())
    by_name = {v.version: v for v in versions}
    reference = next(
        ((env, s.live.version) for env, s in reversed(states.items()) if s.live is not None and s.live.version in by_name),
        None,
    )
    against: dict[str, Comparison] = {}
    if reference is not None:
        live = by_name[reference[1]]
        against = {v.version: compare_versions(config, live, v) for v in versions}
    present = dict.fromkeys(m for v in versions for m in v.metrics)
    all_metrics = tuple([m for m in config.metrics if m in present] + [m for m in present if m not in config.metrics])
    headline = [m for m in headline_names(config, model) if m in present]
    key = tuple(dict.fromkeys([*headline, *all_metrics]))[:KEY_METRICS]
    return ModelData(
        name=name,
        model=model,
        config=config,
        versions=versions,
        states=states,
        placements=where,
        reference=reference,
        against_live=against,
        key_metrics=key,
        all_metrics=all_metrics,
        rejected=rejected,
        problems=tuple(problems),
    )


def load_history(session: Session, name: str) -> tuple[list[Event], str | None]:
    """The newest events, each with what `mlrelease verify` says of its commit (hand-edited, unverified...),
    and why there are no such marks when verify was not run (as ``history``: at most BUDGET commits verified here)."""
    with session.open() as reg:
        found, unverified = marks.safe_findings(reg, marks.BUDGET)
        events = list(grouped(marks.mark_events(history(reg, name, limit=HISTORY_LIMIT), found)))  # a bundle is one row
        return list(marks.whole_bundles(reg, events, found)), unverified


def load_lineage(session: Session, name: str, version: str) -> Lineage:
    with session.open() as reg:
        return lineage(reg, name, version)


def load_health(session: Session, name: str, now: datetime) -> Assessment:
    """Health, drift and the telemetry series of one model in every environment it is live in."""
    with session.open() as reg:
        return assess(reg, model=name, now=now, history=True)


def load_messages(session: Session, commits: list[str]) -> dict[str, str]:
    """The whole message (subject, body, every trailer) of each commit, as git has it."""
    if session.git_root is None:
        return {}
    return {c: git_text(session.git_root, "show", "-s", "--format=%B", c, "--") for c in commits}
