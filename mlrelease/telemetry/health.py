"""Health of every live model in every environment: the one assessment ``check``, ``telemetry`` and the TUI show.

:func:`assess` reads release state and manifests from the registry, fetches figures
from each environment's source (network sources in worker threads, each wait bounded by
the source), computes drift (:mod:`.drift`) and the retraining policy (:mod:`.policy`),
and returns typed results. A source that is down or slow makes its rows ``unknown`` with
the reason; every other row is still assessed. A broken file is a *problem* (reported,
and the affected row is ``unknown``), never an exception that hides the rest.

Statuses, most severe first:

* ``due`` — the retraining policy fires (see :mod:`.policy`);
* ``degraded`` — a live metric is worse than at validation by at least half of the
  allowed drop (or by :data:`DEGRADED_RELATIVE` of its value when the policy sets no
  limit for it), or the error rate reaches :data:`ERROR_RATE_WARNING`;
* ``drifting`` — some feature's PSI reaches :data:`~.drift.PSI_MODERATE`;
* ``unknown`` — no figures: the source failed, or has nothing for this model;
* ``ok`` — figures are there and none of the above holds.
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from mlrelease.errors import ManifestError, MlreleaseError, NotFound, Problem, SourceConfigError, SourceError
from mlrelease.jsontext import Fragment, json_text
from mlrelease.registry import layout
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Config, Environment, RetrainRequest, Snapshot, Telemetry, Version
from mlrelease.secrets import redact
from mlrelease.telemetry.base import SourceContext, TelemetrySource, source_for
from mlrelease.telemetry.drift import PSI_MODERATE, DriftReport, age_days, drift_report, training_baseline
from mlrelease.telemetry.file import FileSource
from mlrelease.telemetry.inputs import Inputs, Kept, Texts, deps, kept_here
from mlrelease.telemetry.policy import Decision, Reason, decide, reasons

DEGRADED_FRACTION = 0.5  # of a metric's allowed drop
DEGRADED_RELATIVE = 0.05  # relative drop, for metrics the policy sets no limit for
ERROR_RATE_WARNING = 0.05
STALE_AFTER = timedelta(days=2)  # newest figures older than this are flagged
MAX_WORKERS = 8


class Status(StrEnum):
    DUE = "due"
    DEGRADED = "degraded"
    DRIFTING = "drifting"
    UNKNOWN = "unknown"
    OK = "ok"

    @property
    def severity(self) -> int:
        """Higher is worse: for sorting and for a model's overall status."""
        return {"ok": 0, "unknown": 1, "drifting": 2, "degraded": 3, "due": 4}[self.value]


@dataclass(frozen=True)
class Health:
    """One live model in one environment: status, why, and the figures behind it."""

    model: str
    environment: str
    version: str
    status: Status
    reasons: tuple[str, ...]  # why this status, with the numbers; most severe first
    due: tuple[Reason, ...] = ()
    drift: DriftReport | None = None
    telemetry: Telemetry | None = None  # the newest snapshot, or the series when assessed with history
    source: str | None = None  # where figures come from
    error: str | None = None  # why there are no figures
    notes: tuple[str, ...] = ()  # what could not be judged, and stale figures
    texts: Texts | None = dataclasses.field(default=None, compare=False, repr=False)  # kept JSON of the row's largest parts

    def to_json(self, *, series: bool = False, rendered: bool = False) -> dict[str, object]:
        """The row as JSON data; ``rendered``: its kept parts as :class:`Fragment` text (for :func:`json_text` only)."""
        snapshots = self.telemetry.snapshots if self.telemetry else ()
        texts = self.texts if rendered and not series else None
        if texts is not None:
            latest, features, metrics = texts
            kept = (Fragment(features, self._features), Fragment(metrics, self._metrics))
            return self._data(snapshots, kept=kept, latest=latest)
        return self._data(snapshots, series=series)

    def _features(self) -> list[dict[str, object]]:
        return [f.to_json() for f in self.drift.features] if self.drift else []

    def _metrics(self) -> list[dict[str, object]]:
        return [m.to_json() for m in self.drift.metrics] if self.drift else []

    def _data(
        self,
        snapshots: tuple[Snapshot, ...],
        *,
        series: bool = False,
        kept: tuple[Fragment, Fragment] | None = None,
        latest: str | None = None,
    ) -> dict[str, object]:
        newest: object = snapshot_json(snapshots[-1]) if snapshots and latest is None else None
        if latest is not None and snapshots:
            newest = Fragment(latest, lambda: snapshot_json(snapshots[-1]))
        data: dict[str, object] = {
            "model": self.model,
            "environment": self.environment,
            "version": self.version,
            "status": self.status.value,
            "reasons": list(self.reasons),
            "due": [r.to_json() for r in self.due],
            "source": self.source,
            "error": self.error,
            "notes": list(self.notes),
            "latest": newest,
            "drift": (self.drift.to_json(*kept) if kept else self.drift.to_json()) if self.drift else None,
        }
        if series:
            data["snapshots"] = [snapshot_json(s) for s in snapshots]
        return data


@dataclass(frozen=True)
class Assessment:
    at: datetime
    rows: tuple[Health, ...]  # by model, then environment in configured order
    decisions: tuple[Decision, ...]  # one per assessed model
    problems: tuple[Problem, ...] = ()

    @property
    def due(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.due)

    def statuses(self) -> dict[str, Status]:
        """Each assessed model's worst status across environments: what an overview shows."""
        out: dict[str, Status] = {}
        for h in self.rows:
            if h.model not in out or h.status.severity > out[h.model].severity:
                out[h.model] = h.status
        return out

    def to_json(self, *, series: bool = False, rendered: bool = False) -> dict[str, object]:
        """JSON data; ``rendered`` (``check --json``): kept rows' parts as :class:`Fragment` text, for :func:`json_text` only."""
        return {
            "at": self.at,
            "due": [d.to_json() for d in self.due],
            "health": [h.to_json(series=series, rendered=rendered) for h in self.rows],
            "problems": [p.to_json() for p in self.problems],
        }


def snapshot_json(s: Snapshot) -> dict[str, object]:
    return {
        "at": s.at,
        "version": s.version,
        "calls": s.calls,
        "errors": s.errors,
        "error_rate": error_rate(s),
        "latency_ms": dict(s.latency_ms),
        "memory_mb": s.memory_mb,
        "cpu": s.cpu,
        "metrics": dict(s.metrics),
        "callers": dict(s.callers),
        "profile_features": sorted(s.profile.features) if s.profile else [],
    }


def error_rate(s: Snapshot) -> float | None:
    if s.calls is None or s.errors is None or s.calls == 0:
        return None
    return s.errors / s.calls


# ---- gathering ------------------------------------------------------------------------------------


@dataclass
class _Row:
    model: str
    env: Environment
    live: str  # the live version
    version: Version | None  # its manifest; None when the row comes from the kept inputs (``kept``)
    source: TelemetrySource | None = None
    source_error: str | None = None
    telemetry: Telemetry | None = None
    error: str | None = None
    kept: Kept | None = None  # the health inputs kept in the index (.inputs): nothing to read or fetch


def assess(
    registry: Registry,
    *,
    model: str | None = None,
    environment: str | None = None,
    now: datetime | None = None,
    history: bool = False,
) -> Assessment:
    """Health of the live models (all, or ``model``) in every environment (or ``environment``).

    Raises only for what the user named and does not exist (model, environment) and for a
    broken mlrelease.yaml; everything else is a row status or a problem.
    """
    now = now or datetime.now(UTC).replace(microsecond=0)
    config = registry.config
    envs = _environments(config, environment)
    models = [registry.model(model).name] if model else registry.model_names()
    problems: list[Problem] = []
    pairs = [(m, e) for m in models for e in envs]
    index = _inputs(registry) if not history else None  # the series is not kept: only the newest snapshot is
    try:
        known = index.lookup(pairs) if index is not None else {}
        todo = [(m, e) for m, e in pairs if (m, e.name) not in known]
        prefetch(registry, todo)
        read, quiet = _live_rows(registry, todo, problems)
        rows: list[_Row] = []
        for m, e in pairs:
            k = known.get((m, e.name))
            if k is not None and k.live is not None:
                rows.append(_Row(m, e, k.live, None, kept=k))
            elif k is None and (m, e.name) in read:
                rows.append(read[(m, e.name)])
        sources = _sources(registry, config, rows, problems)
        try:
            _fetch([r for r in rows if r.kept is None], history=history, problems=problems)
        finally:
            for source in sources.values():
                if source is not None:
                    source.close()
        health: list[Health] = []
        found: dict[str, list[Reason]] = {m: [] for m in models}
        keep: list[tuple[str, str, Kept]] = [(e.name, m, Kept(None)) for m, e in quiet if kept_here(e)]
        for row in rows:
            h, fresh = _judge(registry, config, row, now, problems)
            health.append(h)
            found[row.model].extend(h.due)
            if fresh is not None and index is not None:
                keep.append((row.env.name, row.model, fresh))
        if index is not None:
            index.keep(keep)
    finally:
        if index is not None:
            index.close()
    decisions = []
    for m in models:
        if not any(r.model == m for r in rows):
            continue
        requests: tuple[RetrainRequest, ...] = ()
        try:
            requests = registry.retrain_requests(m)
        except ManifestError as exc:
            problems.extend(exc.problems)
        except MlreleaseError as exc:
            problems.append(Problem(layout.retrain_path(m), None, str(exc)))
        decisions.append(decide(m, found[m], requests, config.retrain.policy_for(m), now))
    return Assessment(now, tuple(health), tuple(decisions), tuple(dict.fromkeys(problems)))


def _inputs(registry: Registry) -> Inputs | None:
    """The kept health inputs, or None when the index file stays busy (every row is then read, as before)."""
    try:
        return Inputs(registry)
    except MlreleaseError:
        return None


def _environments(config: Config, name: str | None) -> list[Environment]:
    if name is None:
        return list(config.environments)
    env = config.environment(name)
    if env is None:
        raise NotFound(f"no environment {name!r} in mlrelease.yaml (environments: {', '.join(config.environment_names)})")
    return [env]


def prefetch(registry: Registry, pairs: list[tuple[str, Environment]]) -> None:
    """Parse what the rows will read — release states, then live manifests and telemetry files — on every core.

    The rows then read each file through the registry as before and find it parsed
    (:meth:`Registry.parse_many` remembers); a broken file is reported by the row that
    reads it, as it always was. Without this, a cold ``check`` of 1,000 live versions
    parsed 3,000 files one after another.
    """
    exists = registry.source.exists
    where = {layout.release_path(e.name, m): (e, m) for m, e in pairs}
    states = [("release", path) for path in where if exists(path)]
    wanted: list[tuple[str, str]] = []
    for (_kind, path), (status, state) in registry.parse_many(states, parallel=True).items():
        env, model = where[path]
        if status != "ok" or state.live is None:
            continue
        manifest = layout.version_path(model, state.live.version)
        if exists(manifest):
            wanted.append(("version", manifest))
        files = layout.telemetry_path(env.name, model)
        if (env.telemetry is None or env.telemetry.type == "file") and exists(files):
            wanted.append(("telemetry", files))
    registry.parse_many(wanted, parallel=True)


def _live_rows(
    registry: Registry, pairs: list[tuple[str, Environment]], problems: list[Problem]
) -> tuple[dict[tuple[str, str], _Row], list[tuple[str, Environment]]]:
    """One row per model live in an environment, with its version manifest read; and the (model, environment) pairs whose state was read and has nothing live."""
    rows: dict[tuple[str, str], _Row] = {}
    quiet: list[tuple[str, Environment]] = []
    for m, env in pairs:
        try:
            state = registry.release(env.name, m)
            if state is None or state.live is None:
                if state is not None:
                    quiet.append((m, env))
                continue
            version = registry.version(m, state.live.version)
        except ManifestError as exc:
            problems.extend(exc.problems)
            continue
        except NotFound as exc:
            problems.append(Problem(layout.release_path(env.name, m), None, f"live version has no manifest: {exc}"))
            continue
        except MlreleaseError as exc:  # unreadable (a symbolic link, permissions): the other rows go on
            problems.append(Problem(layout.release_path(env.name, m), None, str(exc)))
            continue
        rows[(m, env.name)] = _Row(m, env, version.version, version)
    return rows, quiet


def _sources(registry: Registry, config: Config, rows: list[_Row], problems: list[Problem]) -> dict[str, TelemetrySource | None]:
    """One source per environment that has live rows; a misconfigured one is a problem."""
    context = SourceContext(registry)
    sources: dict[str, TelemetrySource | None] = {}
    for row in rows:
        name = row.env.name
        if name not in sources:
            try:
                sources[name] = source_for(row.env, context)
            except SourceConfigError as exc:
                line = row.env.telemetry.line if row.env.telemetry else None
                problems.append(Problem(layout.CONFIG, line, str(exc).removeprefix(f"{layout.CONFIG}: ")))
                sources[name] = None
        row.source = sources[name]
        if row.source is None:
            row.source_error = "the telemetry source is misconfigured (see problems)"
    return sources


def _fetch(rows: list[_Row], *, history: bool, problems: list[Problem]) -> None:
    """Figures for every row: local sources here, network sources in worker threads."""
    lock = threading.Lock()

    def run(row: _Row) -> None:
        source = row.source
        if source is None:
            return
        try:
            row.telemetry = source.fetch(row.model, row.env.name, history=history)
        except ManifestError as exc:
            with lock:
                problems.extend(exc.problems)
            row.error = str(exc)
        except SourceError as exc:
            row.error = str(exc)
        except MlreleaseError as exc:  # the registry could not be read (a symbolic link, permissions)
            with lock:
                problems.append(Problem(layout.telemetry_path(row.env.name, row.model), None, str(exc)))
            row.error = str(exc)
        except Exception as exc:  # a plugin's bug must not hide the other rows
            row.error = redact(f"telemetry source {source.name!r} failed: {type(exc).__name__}: {exc}")

    remote = [r for r in rows if r.source is not None and r.source.reaches_out]
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_WORKERS, len(remote)))) as pool:
        futures = [pool.submit(run, r) for r in remote]
        for r in rows:
            if r.source is not None and not r.source.reaches_out:
                run(r)
        for f in futures:
            f.result()


# ---- judging --------------------------------------------------------------------------------------


def _judge(registry: Registry, config: Config, row: _Row, now: datetime, problems: list[Problem]) -> tuple[Health, Kept | None]:
    """The row's health; and its inputs to keep (:mod:`.inputs`) when it was read whole, without a problem."""
    if row.kept is not None:
        assert row.kept.report is not None
        row.telemetry = row.kept.telemetry
        report = dataclasses.replace(row.kept.report, age_days=age_days(row.kept.report.trained, now))
        return dataclasses.replace(_verdict(config, row, report, now), texts=row.kept.texts), None
    assert row.version is not None
    baseline, clean = None, True
    try:
        baseline = training_baseline(registry, row.version)
    except ManifestError as exc:
        problems.extend(exc.problems)
        clean = False
    except MlreleaseError as exc:
        problems.append(Problem(layout.version_path(row.model, row.version.version), None, f"training data: {exc}"))
        clean = False
    report = drift_report(row.env.name, row.version, baseline, row.telemetry, config.metrics, now)
    health = _verdict(config, row, report, now)
    if not clean or row.error is not None or row.source_error is not None or not isinstance(row.source, FileSource):
        return health, None
    read = deps(registry, row.env.name, row.version)
    if read is None or not kept_here(row.env):
        return health, None
    texts = _texts(health)
    return dataclasses.replace(health, texts=texts), Kept(row.live, read, row.telemetry, report, texts)


def _texts(h: Health) -> Texts:
    """The JSON of a row's parts that the clock does not change — its newest snapshot, its features' and metrics' drift — as kept."""
    snapshots = h.telemetry.snapshots if h.telemetry else ()
    return (json_text(snapshot_json(snapshots[-1])) if snapshots else None, json_text(h._features()), json_text(h._metrics()))


def _verdict(config: Config, row: _Row, report: DriftReport, now: datetime) -> Health:
    """What the figures say, now: the retraining policy, degraded metrics, error rate, drift, staleness."""
    notes: list[str] = []
    policy = config.retrain.policy_for(row.model)
    due = reasons(report, policy, config.metrics)
    lines: list[tuple[Status, str]] = [(Status.DUE, r.message) for r in due]
    due_rules = {r.rule for r in due}
    for m in report.metrics:
        drop, allowed = m.drop, policy.metric_drop.get(m.metric)
        if drop is None or f"metric:{m.metric}" in due_rules:
            continue
        limit = allowed * DEGRADED_FRACTION if allowed is not None else None
        relative = m.relative
        if (limit is not None and drop >= limit and drop > 0) or (limit is None and relative is not None and relative >= DEGRADED_RELATIVE):
            render = config.metrics[m.metric].render
            how = f"; due at {allowed:g}" if allowed is not None else f", {relative:.1%}"
            lines.append(
                (Status.DEGRADED, f"{m.metric} {render(m.live)} live vs {render(m.validation)} at validation (worse by {drop:.4g}{how})")
            )
    snapshots = row.telemetry.snapshots if row.telemetry else ()
    latest = snapshots[-1] if snapshots else None
    rate = error_rate(latest) if latest else None
    if latest is not None and rate is not None and rate >= ERROR_RATE_WARNING:
        lines.append((Status.DEGRADED, f"error rate {rate:.1%} ({latest.errors:,} of {latest.calls:,} calls)"))
    worst = report.worst
    if worst is not None and worst.psi is not None and worst.psi >= PSI_MODERATE and "psi" not in due_rules:
        moved = ", ".join(f"{b.bin} {b.expected:.1%}→{b.actual:.1%}" for b in worst.moved())
        lines.append((Status.DRIFTING, f"{worst.feature} PSI {worst.psi:.3f} ({worst.level}; moved most: {moved})"))
    error = row.error or row.source_error
    if error is not None:
        lines.append((Status.UNKNOWN, error))
    elif latest is None:
        where = row.source.describe() if row.source else "no source"
        lines.append((Status.UNKNOWN, f"no figures for {row.live} from {where}"))
    if latest is not None and now - latest.at > STALE_AFTER:
        notes.append(f"newest figures are {(now - latest.at).total_seconds() / 86400:.1f} days old (at {format_timestamp(latest.at)})")
    notes.extend(report.notes)
    status = max((s for s, _ in lines), key=lambda s: s.severity, default=Status.OK)
    lines.sort(key=lambda item: item[0].severity, reverse=True)
    return Health(
        model=row.model,
        environment=row.env.name,
        version=row.live,
        status=status,
        reasons=tuple(text for _, text in lines),
        due=due,
        drift=report,
        telemetry=row.telemetry,
        source=row.source.describe() if row.source else None,
        error=error,
        notes=tuple(notes),
    )


def overview_statuses(assessment: Assessment) -> dict[str, Status]:
    """Each model's worst status among the environments that have figures.

    An environment without a telemetry feed (often dev and staging) says nothing about
    the model's health, so it does not turn an ``ok`` production into ``unknown``; a model
    is ``unknown`` only when no environment where it is live has figures.
    """
    known: dict[str, Status] = {}
    for h in assessment.rows:
        if h.status != Status.UNKNOWN and (h.model not in known or h.status.severity > known[h.model].severity):
            known[h.model] = h.status
    return {model: known.get(model, status) for model, status in assessment.statuses().items()}
