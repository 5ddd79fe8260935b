"""Drift and decay, computed once for every face: PSI per feature, metric drops, age, data changes.

**Population stability index.** For one feature with bins *i*, training fractions *eᵢ*
(expected) and live fractions *aᵢ* (actual)::

    PSI = Σᵢ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)

Each side is first normalised to sum to 1 (profiles may be off by rounding), then a bin
that is empty on one side gets :data:`EPSILON` instead of 0, so the logarithm stays
finite: an empty bin facing a full one then weighs heavily, as it should, instead of
being infinite. Every term is ≥ 0, so each bin's *contribution* says how much it moved
the index; the bins that moved most are those with the largest contributions. The usual
reading: below :data:`PSI_MODERATE` stable, up to :data:`PSI_SIGNIFICANT` a moderate
shift, above it a significant one. PSI is only defined between profiles with the same
bins: numeric features must share their edges (a monitoring job bins live inputs with the
training edges), categorical features are compared over the union of their categories.

**Metric drop.** How much worse a live figure is than the version's validation figure,
in the metric's units, by its goal: ``validation − live`` for a ``max`` metric,
``live − validation`` for a ``min`` one. Positive means worse.

**Age.** Days since the live version was trained (``Version.created``).

**Data changes.** Between the data sets of two versions, role by role: rows, update
frequency, columns added, removed or retyped, and PSI between their profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mlrelease.errors import ManifestError, NotFound, Problem
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import DataRef, Dataset, FeatureProfile, MetricDef, Profile, Snapshot, Telemetry, Version, worsening

EPSILON = 1e-4  # stands in for an empty bin's fraction
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
MOVED = 3  # how many bins a summary names


# ---- PSI ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinShift:
    """One bin of one feature: its share in training and live, and its share of the PSI."""

    bin: str
    expected: float
    actual: float
    contribution: float

    @property
    def delta(self) -> float:
        return self.actual - self.expected

    def to_json(self) -> dict[str, object]:
        return {"bin": self.bin, "expected": self.expected, "actual": self.actual, "delta": self.delta, "contribution": self.contribution}


@dataclass(frozen=True)
class FeatureDrift:
    """PSI of one feature with every bin; ``psi`` is None when it cannot be computed (``note`` says why)."""

    feature: str
    psi: float | None
    bins: tuple[BinShift, ...] = ()
    note: str | None = None

    @property
    def level(self) -> str:
        return psi_level(self.psi)

    def moved(self, n: int = MOVED) -> tuple[BinShift, ...]:
        """The bins that moved most: largest contribution first, then largest change."""
        ranked = sorted(self.bins, key=lambda b: (b.contribution, abs(b.delta)), reverse=True)
        return tuple(b for b in ranked[:n] if b.contribution > 0)

    def to_json(self) -> dict[str, object]:
        return {
            "feature": self.feature,
            "psi": self.psi,
            "level": self.level,
            "note": self.note,
            "moved": [b.bin for b in self.moved()],
            "bins": [b.to_json() for b in self.bins],
        }


def psi_level(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < PSI_MODERATE:
        return "stable"
    if value < PSI_SIGNIFICANT:
        return "moderate"
    return "significant"


def _normalised(fractions: Mapping[str, float], keys: list[str]) -> dict[str, float] | None:
    total = sum(max(fractions.get(k, 0.0), 0.0) for k in keys)
    if not total > 0:
        return None
    return {k: max(fractions.get(k, 0.0), 0.0) / total for k in keys}


def psi(
    expected: Mapping[str, float], actual: Mapping[str, float], *, epsilon: float = EPSILON
) -> tuple[float, tuple[BinShift, ...]] | None:
    """PSI over the union of bins (expected's order first); None when either side is empty."""
    keys = list(expected) + [k for k in actual if k not in expected]
    e, a = _normalised(expected, keys), _normalised(actual, keys)
    if e is None or a is None:
        return None
    shifts = []
    for k in keys:
        ek, ak = e[k] or epsilon, a[k] or epsilon
        shifts.append(BinShift(k, e[k], a[k], (ak - ek) * math.log(ak / ek)))
    return sum(s.contribution for s in shifts), tuple(shifts)


def feature_drift(name: str, expected: FeatureProfile, actual: FeatureProfile) -> FeatureDrift:
    if expected.kind != actual.kind:
        return FeatureDrift(name, None, note=f"{expected.kind} in training but {actual.kind} live")
    if expected.kind == "numeric" and expected.edges != actual.edges:
        return FeatureDrift(
            name,
            None,
            note=f"bins differ: edges {_edges(expected.edges)} in training, {_edges(actual.edges)} live (bin live inputs with the training edges)",
        )
    result = psi(expected.bins, actual.bins)
    if result is None:
        return FeatureDrift(name, None, note="no values on one side")
    value, shifts = result
    return FeatureDrift(name, value, shifts)


def _edges(edges: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{e:g}" for e in edges) + "]"


def profile_drift(expected: Profile, actual: Profile) -> tuple[FeatureDrift, ...]:
    """Every feature of the training profile, then live-only features (noted, no PSI)."""
    out = []
    for name, fp in expected.features.items():
        live = actual.features.get(name)
        out.append(feature_drift(name, fp, live) if live is not None else FeatureDrift(name, None, note="not in the live profile"))
    out += [FeatureDrift(name, None, note="not in the training profile") for name in actual.features if name not in expected.features]
    return tuple(out)


# ---- metric drop and age -----------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDrop:
    """A live figure against the version's validation figure; ``drop`` > 0 means worse live."""

    metric: str
    validation: float
    live: float
    goal: str | None  # None: not in the metric catalogue, so better/worse is unknown

    @property
    def drop(self) -> float | None:
        if self.goal is None:
            return None
        return worsening(self.goal, self.live - self.validation)

    @property
    def relative(self) -> float | None:
        """The drop as a fraction of the validation figure (0.1 = 10% worse)."""
        drop = self.drop
        return None if drop is None or self.validation == 0 else drop / abs(self.validation)

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "goal": self.goal,
            "validation": self.validation,
            "live": self.live,
            "drop": self.drop,
            "relative": self.relative,
        }


def metric_drops(validation: Mapping[str, float], live: Mapping[str, float], catalogue: Mapping[str, MetricDef]) -> tuple[MetricDrop, ...]:
    """Every metric that has both a validation and a live figure, in validation order."""
    return tuple(
        MetricDrop(name, validation[name], live[name], catalogue[name].goal if name in catalogue else None)
        for name in validation
        if name in live
    )


def age_days(created: datetime, now: datetime) -> float:
    return (now - created).total_seconds() / 86400.0


# ---- one live version in one environment ---------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The training-data profile PSI compares against, and where it came from."""

    profile: Profile
    source: str  # "version manifest" or "data set <name>@<version>"


def training_baseline(registry: Registry, version: Version) -> Baseline | None:
    """The version's own profile, else the profile of its ``train`` data set."""
    if version.profile is not None:
        return Baseline(version.profile, "version manifest")
    ref = version.data.get("train")
    if ref is None:
        return None
    try:
        dataset = registry.dataset(ref.dataset, ref.version)
    except NotFound:  # a name no file can have; lint reports it
        return None
    if dataset is None or dataset.profile is None:
        return None
    return Baseline(dataset.profile, f"data set {ref.dataset}@{ref.version}")


@dataclass(frozen=True)
class DriftReport:
    """Everything drift-related about the live version of a model in one environment."""

    model: str
    environment: str
    version: str
    trained: datetime
    age_days: float
    baseline: str | None  # where the training profile came from; None: there is none
    profile_at: datetime | None  # when the live profile was taken; None: there is none
    features: tuple[FeatureDrift, ...]
    metrics_at: datetime | None  # the snapshot the live metrics come from
    metrics: tuple[MetricDrop, ...]
    notes: tuple[str, ...] = ()

    @property
    def worst(self) -> FeatureDrift | None:
        """The feature with the highest PSI."""
        scored = [f for f in self.features if f.psi is not None]
        return max(scored, key=lambda f: f.psi or 0.0) if scored else None

    @property
    def ranked(self) -> list[FeatureDrift]:
        """Features most drifted first; those without a PSI last (every face lists them so)."""
        return sorted(self.features, key=lambda f: f.psi if f.psi is not None else -1.0, reverse=True)

    def to_json(self, features: object = None, metrics: object = None) -> dict[str, object]:
        """``features``, ``metrics``: their JSON already written (:class:`~mlrelease.jsontext.Fragment`, ``check --json``'s kept rows)."""
        worst = self.worst
        return {
            "model": self.model,
            "environment": self.environment,
            "version": self.version,
            "trained": self.trained,
            "age_days": round(self.age_days, 3),
            "baseline": self.baseline,
            "profile_at": self.profile_at,
            "max_psi": worst.psi if worst else None,
            "features": [f.to_json() for f in self.features] if features is None else features,
            "metrics_at": self.metrics_at,
            "metrics": [m.to_json() for m in self.metrics] if metrics is None else metrics,
            "notes": list(self.notes),
        }


def _newest(snapshots: tuple[Snapshot, ...], keep: Callable[[Snapshot], bool]) -> Snapshot | None:
    chosen = [s for s in snapshots if keep(s)]
    return max(chosen, key=lambda s: s.at) if chosen else None


def drift_report(
    environment: str,
    version: Version,
    baseline: Baseline | None,
    telemetry: Telemetry | None,
    catalogue: Mapping[str, MetricDef],
    now: datetime,
) -> DriftReport:
    """Drift of ``version`` live in ``environment``, from figures of any source.

    The live profile is the newest snapshot that has one (inputs are inputs, whichever
    version served them); live metrics come from the newest snapshot of this version
    (or one that names no version), so an older version's figures are never held
    against this one's validation.
    """
    snapshots = telemetry.snapshots if telemetry else ()
    notes: list[str] = []
    live_profile = _newest(snapshots, lambda s: s.profile is not None)
    features: tuple[FeatureDrift, ...] = ()
    if live_profile is not None and live_profile.profile is not None:
        if baseline is None:
            notes.append("no training profile (in the version manifest or its train data set) to compare the live inputs with")
        else:
            features = profile_drift(baseline.profile, live_profile.profile)
    elif snapshots and baseline is not None:
        notes.append("no live input profile in the telemetry, so no PSI")
    live_metrics = _newest(snapshots, lambda s: bool(s.metrics) and s.version in (None, version.version))
    drops = metric_drops(version.metrics, live_metrics.metrics, catalogue) if live_metrics else ()
    if snapshots and live_metrics is None:
        notes.append(f"no live metrics for {version.version} in the telemetry")
    return DriftReport(
        model=version.model,
        environment=environment,
        version=version.version,
        trained=version.created,
        age_days=age_days(version.created, now),
        baseline=baseline.source if baseline else None,
        profile_at=live_profile.at if live_profile else None,
        features=features,
        metrics_at=live_metrics.at if live_metrics else None,
        metrics=drops,
        notes=tuple(notes),
    )


# ---- data sets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnChange:
    column: str
    before: str | None  # type; None: added
    after: str | None  # type; None: removed


@dataclass(frozen=True)
class DatasetDiff:
    """How the data set used for one role changed between two versions."""

    role: str
    before: str | None  # dataset@version, None: the role is new
    after: str | None  # dataset@version, None: the role was dropped
    rows_before: int | None = None
    rows_after: int | None = None
    frequency_before: str | None = None
    frequency_after: str | None = None
    columns: tuple[ColumnChange, ...] = ()
    features: tuple[FeatureDrift, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def same(self) -> bool:
        return self.before == self.after

    @property
    def rows_change(self) -> float | None:
        """Relative change in rows (0.25 = 25% more)."""
        if self.rows_before is None or self.rows_after is None or self.rows_before == 0:
            return None
        return (self.rows_after - self.rows_before) / self.rows_before

    def to_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "before": self.before,
            "after": self.after,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "rows_change": self.rows_change,
            "update_frequency_before": self.frequency_before,
            "update_frequency_after": self.frequency_after,
            "columns_added": [c.column for c in self.columns if c.before is None],
            "columns_removed": [c.column for c in self.columns if c.after is None],
            "columns_retyped": [{"column": c.column, "before": c.before, "after": c.after} for c in self.columns if c.before and c.after],
            "features": [f.to_json() for f in self.features],
            "notes": list(self.notes),
        }


def compare_datasets(role: str, before: Dataset, after: Dataset) -> DatasetDiff:
    """Rows, update frequency, columns and profile PSI from ``before`` to ``after``."""
    columns = [ColumnChange(c, t, after.columns.get(c)) for c, t in before.columns.items() if after.columns.get(c) != t]
    columns += [ColumnChange(c, None, t) for c, t in after.columns.items() if c not in before.columns]
    notes = []
    features: tuple[FeatureDrift, ...] = ()
    if before.profile is not None and after.profile is not None:
        features = profile_drift(before.profile, after.profile)
    elif before.profile is not None or after.profile is not None:
        notes.append("only one of the two data sets has a profile")
    return DatasetDiff(
        role=role,
        before=f"{before.name}@{before.version}",
        after=f"{after.name}@{after.version}",
        rows_before=before.rows,
        rows_after=after.rows,
        frequency_before=before.update_frequency,
        frequency_after=after.update_frequency,
        columns=tuple(columns),
        features=features,
        notes=tuple(notes),
    )


def _label(ref: DataRef | None) -> str | None:
    return f"{ref.dataset}@{ref.version}" if ref else None


def compare_version_data(registry: Registry, before: Version, after: Version, problems: list[Problem]) -> tuple[DatasetDiff, ...]:
    """The data-set changes from ``before`` to ``after``, one per role either version uses.

    A broken data set manifest becomes a problem in ``problems`` and a note, not an error:
    the rest of the comparison still shows.
    """
    out = []
    for role in list(before.data) + [r for r in after.data if r not in before.data]:
        old, new = before.data.get(role), after.data.get(role)
        if old is None or new is None:
            out.append(
                DatasetDiff(role, _label(old), _label(new), rows_before=old.rows if old else None, rows_after=new.rows if new else None)
            )
            continue
        sets: list[Dataset | None] = []
        for ref in (old, new):
            try:
                sets.append(registry.dataset(ref.dataset, ref.version))
            except ManifestError as exc:
                problems.extend(exc.problems)
                sets.append(None)
            except NotFound:  # a name no file can have; lint reports it
                sets.append(None)
        if sets[0] is None or sets[1] is None:
            missing = [_label(r) for r, d in zip((old, new), sets, strict=True) if d is None]
            note = f"no readable manifest for {', '.join(str(m) for m in missing)}"
            out.append(DatasetDiff(role, _label(old), _label(new), rows_before=old.rows, rows_after=new.rows, notes=(note,)))
        else:
            out.append(compare_datasets(role, sets[0], sets[1]))
    return tuple(out)


def data_since_parent(registry: Registry, model: str, version: str, problems: list[Problem]) -> tuple[str | None, tuple[DatasetDiff, ...]]:
    """How a version's data sets changed since its parent: (parent, changes), or (None, ()) without one."""
    try:
        current = registry.version(model, version)
        if current.parent is None:
            return None, ()
        parent = registry.version(model, current.parent)
    except ManifestError as exc:
        problems.extend(exc.problems)
        return None, ()
    except NotFound:  # a parent without a manifest: lint reports it
        return None, ()
    return parent.version, compare_version_data(registry, parent, current, problems)
