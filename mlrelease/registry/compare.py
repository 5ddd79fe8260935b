"""What changed between two versions: metrics judged by their goal, then params and data.

The metric catalogue in mlrelease.yaml says which direction is better, so a delta is
called better or worse here, once, for ``diff``, the TUI's compare view, and the
"against what is live" column of a promotion. A metric missing from the catalogue is
still shown, with its direction unknown: guessing would be worse than saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import require_environment
from mlrelease.registry.types import Config, DataRef, MetricDef, Version

# verdicts, from the second version's point of view
BETTER, WORSE, SAME, UNKNOWN, ADDED, REMOVED = "better", "worse", "same", "unknown", "added", "removed"


@dataclass(frozen=True)
class MetricDelta:
    name: str
    old: float | None
    new: float | None
    definition: MetricDef | None  # None: not in the catalogue, direction unknown

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def verdict(self) -> str:
        """better | worse | same | unknown (not in the catalogue) | added | removed."""
        if self.old is None:
            return ADDED
        if self.new is None:
            return REMOVED
        if math.isclose(self.new, self.old, rel_tol=1e-9, abs_tol=1e-12):
            return SAME
        if self.definition is None:
            return UNKNOWN
        return BETTER if self.definition.better(self.new, self.old) else WORSE

    def render(self, value: float | None) -> str:
        return (self.definition or MetricDef(self.name, "max")).render(value)

    def render_delta(self) -> str:
        """The change, signed, in the metric's own format (a percentage stays a percentage)."""
        d = self.delta
        if d is None:
            return "—"
        text = self.render(abs(d))
        return ("+" if d > 0 else "−" if d < 0 else "±") + text


@dataclass(frozen=True)
class ParamChange:
    name: str
    old: str | float | bool | None
    new: str | float | bool | None
    kind: str  # added | removed | changed


@dataclass(frozen=True)
class DataChange:
    role: str  # train | validation | test | ...
    old: DataRef | None
    new: DataRef | None
    changed: tuple[str, ...]  # which of dataset, version, rows, digest differ (all, when a role is added or removed)

    @property
    def kind(self) -> str:
        return ADDED if self.old is None else REMOVED if self.new is None else "changed"


@dataclass(frozen=True)
class FieldChange:
    """Another fact of the manifest that differs: parent, code, image or artifact."""

    field: str  # dotted: code.commit, image.digest, artifact.sha256, parent ...
    old: str | int | None
    new: str | int | None


@dataclass(frozen=True)
class Comparison:
    old: Version
    new: Version
    metrics: tuple[MetricDelta, ...]
    params: tuple[ParamChange, ...]  # only what differs
    data: tuple[DataChange, ...]  # only roles that differ
    fields: tuple[FieldChange, ...]
    unchanged_params: int

    def counts(self) -> dict[str, int]:
        """How many metrics went each way: the one-line summary of a diff."""
        out = {BETTER: 0, WORSE: 0, SAME: 0, UNKNOWN: 0, ADDED: 0, REMOVED: 0}
        for m in self.metrics:
            out[m.verdict] += 1
        return out


def compare_versions(config: Config, old: Version, new: Version) -> Comparison:
    """Pure: the difference between two parsed manifests, judged by ``config``'s catalogue."""
    return Comparison(
        old=old,
        new=new,
        metrics=_metrics(config, old, new),
        params=_params(old, new),
        data=_data(old, new),
        fields=_fields(old, new),
        unchanged_params=sum(1 for k, v in old.params.items() if k in new.params and _same(new.params[k], v)),
    )


def compare(reg: Registry, old: tuple[str, str], new: tuple[str, str]) -> Comparison:
    """``old`` and ``new`` are (model, version); they may be versions of different models."""
    return compare_versions(reg.config, reg.version(*old), reg.version(*new))


def against_live(reg: Registry, model: str, version: str, env: str) -> Comparison | None:
    """``version`` compared with what is live in ``env`` (the old side); None if nothing is."""
    require_environment(reg, env)
    candidate = reg.version(model, version)
    state = reg.release(env, model)
    if state is None or state.live is None:
        return None
    return compare_versions(reg.config, reg.version(model, state.live.version), candidate)


def _metrics(config: Config, old: Version, new: Version) -> tuple[MetricDelta, ...]:
    """Catalogue order first (the order people chose), then the rest as they appear."""
    present = dict.fromkeys([*old.metrics, *new.metrics])
    ordered = [m for m in config.metrics if m in present] + [m for m in present if m not in config.metrics]
    return tuple(MetricDelta(m, old.metrics.get(m), new.metrics.get(m), config.metrics.get(m)) for m in ordered)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _params(old: Version, new: Version) -> tuple[ParamChange, ...]:
    out = []
    for name in dict.fromkeys([*old.params, *new.params]):
        if name not in new.params:
            out.append(ParamChange(name, old.params[name], None, REMOVED))
        elif name not in old.params:
            out.append(ParamChange(name, None, new.params[name], ADDED))
        elif not _same(old.params[name], new.params[name]):
            out.append(ParamChange(name, old.params[name], new.params[name], "changed"))
    return tuple(out)


DATA_FIELDS = ("dataset", "version", "rows", "digest")


def _data(old: Version, new: Version) -> tuple[DataChange, ...]:
    out = []
    for role in dict.fromkeys([*old.data, *new.data]):
        a, b = old.data.get(role), new.data.get(role)
        if a is None or b is None:
            out.append(DataChange(role, a, b, DATA_FIELDS))
            continue
        changed = tuple(f for f in DATA_FIELDS if getattr(a, f) != getattr(b, f))
        if changed:
            out.append(DataChange(role, a, b, changed))
    return tuple(out)


def _facts(v: Version) -> dict[str, str | int | None]:
    return {
        "parent": v.parent,
        "code.repo": v.code.repo if v.code else None,
        "code.commit": v.code.commit if v.code else None,
        "code.entrypoint": v.code.entrypoint if v.code else None,
        "image.ref": v.image.ref if v.image else None,
        "image.digest": v.image.digest if v.image else None,
        "artifact.uri": v.artifact.uri,
        "artifact.sha256": v.artifact.sha256,
        "artifact.format": v.artifact.format,
        "artifact.bytes": v.artifact.bytes,
    }


def _fields(old: Version, new: Version) -> tuple[FieldChange, ...]:
    a, b = _facts(old), _facts(new)
    return tuple(FieldChange(k, a[k], b[k]) for k in a if a[k] != b[k])


def best_of(definition: MetricDef | None, values: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """The (version, value) best by the metric's goal; a metric outside the catalogue counts higher as better."""
    pick = min if definition is not None and definition.goal == "min" else max
    return pick(values, key=lambda p: p[1])
