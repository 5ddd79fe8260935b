"""``examples/bank-fraud/story.yaml``, typed: who did what, when, at the fictional bank.

Read through the registry's strict reader, so a mistake in the story (a typo'd key, a
time without a zone) is reported with its line like any manifest's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.errors import ManifestError, Problem
from mlrelease.example.fastimport import Person
from mlrelease.registry import yamlsafe
from mlrelease.registry.fields import Fields, parse_timestamp
from mlrelease.registry.names import split_ref

NEVER = datetime.min.replace(tzinfo=UTC)  # stands in for a missing time while problems are collected


@dataclass(frozen=True)
class VersionSpec:
    version: str
    created: datetime
    author: str
    data: dict[str, str]  # role → dataset@version
    metrics: dict[str, float]
    parent: str | None = None
    description: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    code: dict[str, str]
    artifact: dict[str, Any]
    params: dict[str, Any]
    versions: tuple[VersionSpec, ...]


@dataclass(frozen=True)
class DatasetVersionSpec:
    version: str
    created: datetime
    rows: int


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    features: str
    uri: str
    update_frequency: str
    columns: dict[str, str]
    versions: tuple[DatasetVersionSpec, ...]


@dataclass(frozen=True)
class Event:
    kind: str  # promote | approve | reject | rollback | retrain | hand_edit | accept
    at: datetime
    by: str
    model: str
    version: str | None = None
    env: str | None = None
    reason: str | None = None
    canary: float | None = None
    forced: tuple[str, ...] = ()
    failed: str | None = None
    ref: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Effect:
    start: datetime
    version: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class Drift:
    start: datetime
    ramp_days: float
    features: dict[str, Any]  # feature → categorical fractions (mapping) or numeric fractions (list)


@dataclass(frozen=True)
class Stream:
    env: str
    model: str
    calls: int
    weekend: float
    error_rate: float
    latency_ms: dict[str, float]
    memory_mb: float
    cpu: float
    callers: dict[str, float]
    live: dict[str, float]
    effects: tuple[Effect, ...] = ()
    drift: Drift | None = None
    observed: dict[str, float] = field(default_factory=dict)  # metric → labelled cases per call, for observations


@dataclass(frozen=True)
class TelemetrySpec:
    start: datetime
    days: int
    exports: tuple[datetime, ...]
    streams: tuple[Stream, ...]


@dataclass(frozen=True)
class Story:
    seed: int
    people: dict[str, Person]
    setup_at: datetime
    setup_by: str
    features: dict[str, dict[str, Any]]  # family → feature → base profile (as written)
    datasets: dict[str, DatasetSpec]
    models: dict[str, ModelSpec]
    events: tuple[Event, ...]
    telemetry: TelemetrySpec


_EVENT_KINDS = ("promote", "approve", "reject", "rollback", "retrain", "hand_edit", "accept")


def _when(f: Fields, key: str) -> datetime:
    return f.timestamp(key, required=True) or NEVER


def _plain(value: Any) -> Any:
    """A YAML tree as plain dicts and lists (params and profiles are written back out)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _version_spec(f: Fields) -> VersionSpec:
    data: dict[str, Any] = f.map("data", required=True) or {}
    return VersionSpec(
        version=f.req_str("version"),
        created=_when(f, "created"),
        author=f.req_str("author"),
        parent=f.str("parent"),
        description=f.str("description"),
        data={role: str(ref) for role, ref in data.items()},
        params=_plain(f.map("params") or {}),
        metrics=f.number_map("metrics"),
    )


def _event(f: Fields) -> Event:
    kinds = [k for k in _EVENT_KINDS if k in f.data]
    if len(kinds) != 1:
        f.problem_at(f.line, f"an event needs exactly one of {', '.join(_EVENT_KINDS)}")
        kinds = ["promote"]
    kind = kinds[0]
    target = f.req_str(kind)
    model, version = split_ref(target) if kind in ("promote", "approve", "reject") else (target, None)
    env = f.req_str("to") if kind == "promote" else f.req_str("env") if kind in ("approve", "rollback", "hand_edit", "accept") else None
    if kind == "rollback":
        version = f.req_str("to")
    return Event(
        kind=kind,
        at=_when(f, "at"),
        by=f.req_str("by"),
        model=model,
        version=version,
        env=env,
        reason=f.str("reason") or f.str("comment"),
        canary=f.number("canary"),
        forced=tuple(x.strip() for x in (f.str("forced") or "").split(",") if x.strip()),
        failed=f.str("failed"),
        ref=f.str("ref"),
        message=f.str("message"),
    )


def _stream(f: Fields) -> Stream:
    drift = None
    df = f.sub("drift")
    if df is not None:
        drift = Drift(
            start=_when(df, "from"), ramp_days=df.number("ramp_days", default=1.0) or 1.0, features=_plain(df.map("features") or {})
        )
        df.done()
    return Stream(
        env=f.req_str("env"),
        model=f.req_str("model"),
        calls=f.int("calls", required=True) or 0,
        weekend=f.number("weekend", default=1.0) or 1.0,
        error_rate=f.number("error_rate", default=0.0) or 0.0,
        latency_ms=f.number_map("latency_ms"),
        memory_mb=f.number("memory_mb", default=0.0) or 0.0,
        cpu=f.number("cpu", default=0.0) or 0.0,
        callers=f.number_map("callers"),
        live=f.number_map("live"),
        effects=f.each("effects", lambda e: Effect(_when(e, "from"), e.req_str("version"), e.number_map("metrics"))),
        drift=drift,
        observed=f.number_map("observed"),
    )


def _dataset(name: str, f: Fields) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        description=f.req_str("description"),
        features=f.req_str("features"),
        uri=f.req_str("uri"),
        update_frequency=f.req_str("update_frequency"),
        columns={k: str(v) for k, v in (f.map("columns") or {}).items()},
        versions=f.each(
            "versions", lambda v: DatasetVersionSpec(v.req_str("version"), _when(v, "created"), v.int("rows", required=True) or 0)
        ),
    )


def _model(name: str, f: Fields) -> ModelSpec:
    return ModelSpec(
        name=name,
        code={k: str(v) for k, v in (f.map("code", required=True) or {}).items()},
        artifact=_plain(f.map("artifact", required=True) or {}),
        params=_plain(f.map("params") or {}),
        versions=f.each("versions", _version_spec, required=True),
    )


def _named(f: Fields, key: str, parse: Callable[[str, Fields], Any]) -> dict[str, Any]:
    out = {}
    m = f.map(key, required=True) or yamlsafe.YMap(f.line)
    for name in m:
        sub = Fields(m[name], f.path, f.problems, where=f"{key}.{name}", line=m.line_of(name))
        if sub.ok:
            out[name] = parse(name, sub)
            sub.done()
    return out


def load_story(path: Path) -> Story:
    """Read and type the story file; every problem is reported with its line."""
    label = str(path)
    tree = yamlsafe.load(path.read_bytes(), label)
    problems: list[Problem] = []
    f = Fields(tree, label, problems)
    setup = f.sub("setup", required=True)
    tel = f.sub("telemetry", required=True)
    story = Story(
        seed=f.int("seed", required=True) or 0,
        people=_named(f, "people", lambda _n, p: Person(p.req_str("name"), p.req_str("email"))),
        setup_at=_when(setup, "at") if setup else NEVER,
        setup_by=setup.req_str("by") if setup else "",
        features={family: _plain(value) for family, value in (f.map("features", required=True) or {}).items()},
        datasets=_named(f, "datasets", _dataset),
        models=_named(f, "models", _model),
        events=f.each("events", _event, required=True),
        telemetry=TelemetrySpec(
            start=_when(tel, "start"),
            days=tel.int("days", required=True, minimum=1) or 1,
            exports=tuple(parse_timestamp(t) or NEVER for t in tel.str_list("exports", required=True)),
            streams=tel.each("streams", _stream, required=True),
        )
        if tel
        else TelemetrySpec(NEVER, 1, (), ()),
    )
    for sub in (setup, tel):
        if sub is not None:
            sub.done()
    f.done()
    if problems:
        raise ManifestError(problems)
    return story
