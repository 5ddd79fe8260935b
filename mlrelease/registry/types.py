"""Typed objects for every file kind of a registry (format v1, see docs/format.md).

Immutable dataclasses: parsed once, cached by git blob id, shared by the CLI, the TUI
and the release service. ``lines`` maps top-level keys to their line, for lint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlrelease.registry.observations import Observation
    from mlrelease.registry.protected import Protected
    from mlrelease.registry.rollout import Strategy

GOALS = ("max", "min")
METRIC_KINDS = ("model", "business", "data", "operational")
PHASES = ("Pending", "Succeeded", "Failed")


# ---- mlrelease.yaml ---------------------------------------------------------------


@dataclass(frozen=True)
class MetricDef:
    name: str
    goal: str  # max | min: which direction is better
    kind: str = "model"
    unit: str | None = None
    format: str | None = None  # a Python format spec, e.g. ".3f" or ".1%"
    description: str | None = None

    def better(self, new: float, old: float) -> bool:
        return worsening(self.goal, new - old) < 0

    def render(self, value: float | None) -> str:
        if value is None:
            return "—"
        try:
            return format(value, self.format) if self.format else _plain(value)
        except ValueError:
            return _plain(value)


def worsening(goal: str, change: float) -> float:
    """How much worse a metric got by ``change`` (new − old), by its goal: positive is worse, in
    the metric's units. The one sign rule that the regression gate, the live-metric drop of
    retrain and the rollout judge share, so "worse" means the same everywhere."""
    return -change if goal == "max" else change


def _plain(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Conventions:
    model_name: re.Pattern[str]
    dataset_name: re.Pattern[str]
    version_scheme: str = "semver"
    version_pattern: re.Pattern[str] | None = None  # when version_scheme is regex
    dataset_version: re.Pattern[str] | None = None
    artifact_uri: str | None = None  # template: {model} {version}
    image: str | None = None  # template: {model} {version}
    required: tuple[str, ...] = ()  # dotted paths that every version manifest must have


@dataclass(frozen=True)
class Threshold:
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Tolerance:
    """How much worse than what is live a metric may be: absolute and/or relative (0.02 = 2%)."""

    absolute: float = 0.0
    relative: float = 0.0


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...]  # mon..sun; empty = every day
    start: time | None = None
    end: time | None = None  # exclusive; None = end of day


@dataclass(frozen=True)
class Windows:
    timezone: str = "UTC"
    allow: tuple[Window, ...] = ()  # empty = always allowed
    deny: tuple[Window, ...] = ()  # deny wins over allow


@dataclass(frozen=True)
class Gates:
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    no_regression: dict[str, Tolerance] = field(default_factory=dict)
    approvals: int = 0
    windows: Windows = field(default_factory=Windows)
    approvers: tuple[str, ...] = ()  # who may approve here: people, groups, e-mails (controls/identities.yaml); empty = anyone
    overridable: dict[str, bool] = field(default_factory=dict)  # gate family or name → may --force override it

    def may_override(self, gate: str) -> bool:
        """Whether ``--force`` may override the failing gate ``gate`` (e.g. ``threshold:f1``) here.

        A gate's own name wins over its family (``threshold``); without either, approvals and
        rejections are not overridable where approvals are required (four eyes), and the
        rest are. A gate that is not overridable still yields to break-glass (docs/controls.md).
        """
        family = gate.split(":", 1)[0]
        for key in (gate, family):
            if key in self.overridable:
                return self.overridable[key]
        return not (self.approvals > 0 and family in ("approvals", "rejected"))


@dataclass(frozen=True)
class PluginConfig:
    """A backend instance or telemetry source: its type plus settings the plugin checks."""

    name: str
    type: str
    settings: dict[str, object]
    line: int | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    requires: tuple[str, ...] = ()  # must have been live in these first
    backend: str | None = None
    read_only: bool = False
    gates: Gates = field(default_factory=Gates)
    telemetry: PluginConfig | None = None
    rollout: Strategy | None = None  # progressive delivery (see registry/rollout.py)
    line: int | None = None
    signed: bool = False  # every commit touching it is signed by a key in controls/allowed_signers
    protected: Protected | None = None  # promotions go by pull request (registry/protected.py)


@dataclass(frozen=True)
class RetrainPolicy:
    max_age_days: float | None = None
    psi_threshold: float | None = None
    metric_drop: dict[str, float] = field(default_factory=dict)  # metric → allowed drop vs validation
    cadence_days: float | None = None  # at most one trigger per reason within this period


@dataclass(frozen=True)
class RetrainConfig:
    backend: str | None = None
    policy: RetrainPolicy = field(default_factory=RetrainPolicy)
    models: dict[str, RetrainPolicy] = field(default_factory=dict)

    def policy_for(self, model: str) -> RetrainPolicy:
        own = self.models.get(model)
        if own is None:
            return self.policy
        base = self.policy
        return RetrainPolicy(
            max_age_days=own.max_age_days if own.max_age_days is not None else base.max_age_days,
            psi_threshold=own.psi_threshold if own.psi_threshold is not None else base.psi_threshold,
            metric_drop={**base.metric_drop, **own.metric_drop},
            cadence_days=own.cadence_days if own.cadence_days is not None else base.cadence_days,
        )


@dataclass(frozen=True)
class Bundle:
    """A named set of models that move together (``bundles: {NAME: [MODEL, ...]}`` in mlrelease.yaml)."""

    name: str
    models: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class RemoteConfig:
    name: str = "origin"
    branch: str = "main"


@dataclass(frozen=True)
class Config:
    conventions: Conventions
    metrics: dict[str, MetricDef]
    environments: tuple[Environment, ...]
    backends: dict[str, PluginConfig]
    retrain: RetrainConfig
    headline: tuple[str, ...] = ()
    remote: RemoteConfig | None = None
    name: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    # ``notify:`` as written (with its lines): read by mlrelease.notify.config when a release
    # announces itself, and checked by lint, so a mistake there never stops a release.
    notify: object = None
    bundles: dict[str, Bundle] = field(default_factory=dict)  # ``bundles:``: models promoted as one change

    def environment(self, name: str) -> Environment | None:
        for env in self.environments:
            if env.name == name:
                return env
        return None

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)


# ---- models/<model>/model.yaml ----------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    name: str
    environments: tuple[str, ...] = ()
    contact: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Model:
    name: str
    owner: str
    description: str | None = None
    task: str | None = None
    tags: tuple[str, ...] = ()
    consumers: tuple[Consumer, ...] = ()
    headline: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)


# ---- profiles, shared by versions, datasets and telemetry ------------------------


@dataclass(frozen=True)
class FeatureProfile:
    """One feature's distribution as bin fractions; numeric bins come from ``edges``.

    ``edges`` [e1..en] define n+1 bins: (-inf, e1), [e1, e2) ... [en, inf); categorical
    features name their bins. Drift is only computed between profiles with the same bins.
    """

    kind: str  # numeric | categorical
    bins: dict[str, float]
    edges: tuple[float, ...] = ()
    dtype: str | None = None
    missing: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Profile:
    features: dict[str, FeatureProfile]
    rows: int | None = None


# ---- models/<model>/versions/<version>.yaml ----------------------------------------


@dataclass(frozen=True)
class Artifact:
    uri: str
    sha256: str | None = None
    format: str | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class Image:
    ref: str
    digest: str | None = None


@dataclass(frozen=True)
class Code:
    repo: str | None = None
    commit: str | None = None
    entrypoint: str | None = None


@dataclass(frozen=True)
class DataRef:
    dataset: str
    version: str
    rows: int | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    created: datetime
    author: str
    artifact: Artifact
    description: str | None = None
    parent: str | None = None
    image: Image | None = None
    code: Code | None = None
    data: dict[str, DataRef] = field(default_factory=dict)  # role (train/validation/test) → data set
    params: dict[str, str | float | bool | None] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None
    tags: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)


# ---- datasets/<dataset>/<version>.yaml ---------------------------------------------


@dataclass(frozen=True)
class Dataset:
    name: str
    version: str
    created: datetime | None = None
    uri: str | None = None
    digest: str | None = None
    rows: int | None = None
    update_frequency: str | None = None
    description: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # column → type
    profile: Profile | None = None
    lines: dict[str, int] = field(default_factory=dict)


# ---- releases/<env>/<model>.yaml ---------------------------------------------------


@dataclass(frozen=True)
class Canary:
    version: str
    weight: float  # percent of traffic, 0 < weight < 100


@dataclass(frozen=True)
class Desired:
    """What the latest action asked for."""

    version: str
    promotion_id: str
    action: str  # promote | rollback
    actor: str
    at: datetime
    canary: Canary | None = None
    reason: str | None = None
    forced: tuple[str, ...] = ()  # gates overridden with --force for this action
    break_glass: str | None = None  # who approved overriding gates that are not overridable (identity)
    bundle: str | None = None  # the release bundle this action is part of (its id; see mlrelease.release.bundle)
    undo: bool = False  # a rollback the bundle made itself, to put back a member that moved before another failed


@dataclass(frozen=True)
class Observed:
    """What the backend did for ``promotion_id`` (the desired state's)."""

    phase: str  # Pending | Succeeded | Failed
    promotion_id: str
    at: datetime
    backend: str | None = None
    backend_ref: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Live:
    """The last state known to be deployed: only a Succeeded outcome moves it."""

    version: str
    promotion_id: str
    since: datetime
    canary: Canary | None = None


@dataclass(frozen=True)
class Pin:
    by: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Approval:
    version: str
    by: str
    at: datetime
    comment: str | None = None
    break_glass: bool = False  # approves overriding gates --force may not override alone, once
    used_by: str | None = None  # break-glass: the promotion id that used it


@dataclass(frozen=True)
class Review:
    """Someone other than the promoter and the break-glass approver looked at it afterwards."""

    by: str
    at: datetime
    comment: str


@dataclass(frozen=True)
class BreakGlass:
    """A promotion that overrode gates that are not overridable, with its second person's approval.

    Kept in the release state after later promotions, and flagged by every face until it
    has a :class:`Review`.
    """

    promotion_id: str
    version: str
    gates: tuple[str, ...]  # the gates overridden
    promoter: str
    approver: str  # who approved the break-glass (identity)
    at: datetime
    reason: str
    review: Review | None = None


@dataclass(frozen=True)
class ReleaseState:
    model: str
    environment: str
    desired: Desired | None = None
    observed: Observed | None = None
    live: Live | None = None
    pin: Pin | None = None
    approvals: tuple[Approval, ...] = ()
    break_glass: tuple[BreakGlass, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def unreviewed(self) -> tuple[BreakGlass, ...]:
        """Break-glass promotions nobody has reviewed yet: every face flags them."""
        return tuple(b for b in self.break_glass if b.review is None)

    @property
    def pending(self) -> bool:
        return self.observed is not None and self.observed.phase == "Pending"

    @property
    def failed(self) -> bool:
        return self.observed is not None and self.observed.phase == "Failed"


# ---- models/<model>/rejections.yaml --------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    version: str
    by: str
    at: datetime
    reason: str


# ---- audit/accepted.yaml --------------------------------------------------------------


@dataclass(frozen=True)
class AcceptedFinding:
    """One finding of ``mlrelease verify`` as it reported it: its kind and the file it is about."""

    kind: str
    file: str | None = None  # None: a finding about the whole commit (e.g. its actor)


@dataclass(frozen=True)
class Acceptance:
    """A second person's acceptance, on the record, of the findings of one commit (``review --finding``)."""

    commit: str  # the full id of the commit whose findings are accepted
    findings: tuple[AcceptedFinding, ...]
    by: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Acceptances:
    accepted: tuple[Acceptance, ...] = ()


# ---- retrain/<model>.yaml ------------------------------------------------------------


@dataclass(frozen=True)
class RetrainRequest:
    id: str
    at: datetime
    actor: str
    reason: str
    trigger: str = "manual"  # manual | policy:<rule>
    backend: str | None = None
    backend_ref: str | None = None
    phase: str = "Pending"
    message: str | None = None


# ---- telemetry/<env>/<model>.yaml ----------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    version: str | None = None
    calls: int | None = None
    errors: int | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50 / p95 / p99
    memory_mb: float | None = None
    cpu: float | None = None  # cores in use
    metrics: dict[str, float] = field(default_factory=dict)
    callers: dict[str, float] = field(default_factory=dict)  # application → calls
    profile: Profile | None = None
    observations: dict[str, Observation] = field(default_factory=dict)  # the samples behind figures (registry/observations.py)


@dataclass(frozen=True)
class Telemetry:
    model: str
    environment: str
    snapshots: tuple[Snapshot, ...]
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> Snapshot | None:
        return max(self.snapshots, key=lambda s: s.at) if self.snapshots else None
