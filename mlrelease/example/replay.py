"""The story replayed into commits, as mlrelease itself would have written them.

Every action goes through the release service's own state transitions
(:mod:`mlrelease.release.state`) and commit wording (:mod:`mlrelease.release.commits`),
so the example can never drift from what the tool writes. Derived details (digests,
profiles, telemetry noise) come from the story's seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from mlrelease.audit import acceptances
from mlrelease.errors import StoryError
from mlrelease.example.fastimport import Commit, Deferred, FastImport, Person, fake_digest, ulid
from mlrelease.example.story import NEVER, Event, Story, Stream
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.names import split_ref
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import (
    Acceptance,
    AcceptedFinding,
    Approval,
    Canary,
    Config,
    Desired,
    Live,
    Observed,
    Pin,
    Rejection,
    ReleaseState,
    RetrainRequest,
)
from mlrelease.release import commits, state

T = TypeVar("T")

RECORD_DELAY = timedelta(seconds=4)  # the git-only backend answers at once
ROLLOUT_DELAY = timedelta(minutes=3)  # a real rollout takes minutes
LOCAL_TZ = ZoneInfo("Europe/London")  # where the bank's people commit from


# ---- profiles -----------------------------------------------------------------------------------


def _normalise(values: list[float]) -> list[float]:
    """Fractions rounded to 4 places that add up to exactly 1 (the largest bin absorbs rounding)."""
    total = sum(values)
    out = [round(v / total, 4) for v in values]
    biggest = max(range(len(out)), key=out.__getitem__)
    out[biggest] = round(out[biggest] + 1.0 - sum(out), 4)
    return out


def _fractions(feature: dict[str, Any]) -> list[float]:
    fr = feature["fractions"]
    return [float(v) for v in (fr.values() if isinstance(fr, dict) else fr)]


def _with_fractions(feature: dict[str, Any], values: list[float]) -> dict[str, Any]:
    out = dict(feature)
    fr = feature["fractions"]
    out["fractions"] = dict(zip(fr, values, strict=True)) if isinstance(fr, dict) else values
    return out


def _jittered(base: dict[str, dict[str, Any]], rng: random.Random, spread: float) -> dict[str, dict[str, Any]]:
    """A profile near ``base``: every bin and mean moved by up to ``spread`` (relative)."""
    out = {}
    for name, feature in base.items():
        values = _normalise([v * (1 + rng.uniform(-spread, spread)) for v in _fractions(feature)])
        f = _with_fractions(feature, values)
        if "mean" in f:
            f["mean"] = round(float(f["mean"]) * (1 + rng.uniform(-spread / 2, spread / 2)), 2)
        out[name] = f
    return out


def _profile_doc(features: dict[str, dict[str, Any]], rows: int) -> dict[str, Any]:
    """The ``profile`` mapping of format v1 (keys in the documented order)."""
    order = ("type", "dtype", "edges", "fractions", "mean", "missing")
    return {"rows": rows, "features": {n: {k: f[k] for k in order if k in f} for n, f in features.items()}}


# ---- the replay ---------------------------------------------------------------------------------


@dataclass
class _Release:
    state: ReleaseState
    backend: str
    live_since: list[tuple[datetime, str]] = field(default_factory=list)  # primary version from a time on
    canary_since: list[tuple[datetime, Canary | None]] = field(default_factory=list)  # the canary from a time on


class Replay:
    """The story, replayed: registrations, release actions and telemetry, in time order."""

    def __init__(self, story: Story, registry_files: dict[str, bytes], config: Config) -> None:
        self.story = story
        self.files = registry_files
        self.config = config
        self.rng = random.Random(f"{story.seed}:ids")
        self.commits: list[tuple[datetime, int, Commit | Deferred]] = []
        self.hand_edits: dict[tuple[str, str], Commit] = {}  # (env, model) → its last hand edit, for an acceptance
        self.acceptances: list[Acceptance] = []
        self.releases: dict[tuple[str, str], _Release] = {}
        self.rejections: dict[str, list[Rejection]] = {}
        self.retrains: dict[str, list[RetrainRequest]] = {}
        self.registered: dict[str, datetime] = {}  # "model@version" → when
        self.datasets: dict[str, dict[str, Any]] = {}  # "name@version" → manifest
        self.published: dict[str, datetime] = {}  # "name@version" → when
        self.manifests: dict[str, dict[str, Any]] = {}  # "model@version" → manifest

    # -- helpers --

    def person(self, key: str) -> Person:
        try:
            return self.story.people[key]
        except KeyError:
            raise StoryError(f"story: no person {key!r} (people: {', '.join(self.story.people)})") from None

    def add(self, at: datetime, who: Person, message: str, files: Mapping[str, bytes | None], *, committer: Person | None = None) -> None:
        self.commits.append((at, len(self.commits), Commit(at, who, committer or who, message, dict(files))))

    def backend_of(self, env: str) -> tuple[str, str]:
        environment = self.config.environment(env)
        if environment is None:
            raise StoryError(f"story: no environment {env!r} in mlrelease.yaml")
        name = environment.backend or "record"
        return name, self.config.backends[name].type if name in self.config.backends else name

    def release(self, env: str, model: str) -> _Release:
        if (env, model) not in self.releases:
            self.releases[(env, model)] = _Release(state.empty(model, env), self.backend_of(env)[0])
        return self.releases[(env, model)]

    def require_version(self, model: str, version: str, at: datetime) -> dict[str, Any]:
        key = f"{model}@{version}"
        if key not in self.registered or self.registered[key] > at:
            raise StoryError(f"story: {key} is used at {format_timestamp(at)} before it is registered")
        return self.manifests[key]

    # -- registrations --

    def setup(self) -> None:
        files = {p: data for p, data in self.files.items() if not p.startswith(f"{layout.MODELS}/")}
        who = self.person(self.story.setup_by)
        self.add(
            self.story.setup_at, who, format_message("Set up the Northbank model registry", {"action": "init", "actor": str(who)}), files
        )

    def dataset_versions(self) -> None:
        bot = self.person("data")
        for spec in self.story.datasets.values():
            base = self.story.features[spec.features]
            for v in spec.versions:
                rng = random.Random(f"{self.story.seed}:dataset:{spec.name}:{v.version}")
                features = _jittered(base, rng, 0.06)
                doc = {
                    "name": spec.name,
                    "version": v.version,
                    "created": format_timestamp(v.created),
                    "description": spec.description,
                    "uri": spec.uri.format(version=v.version),
                    "digest": f"sha256:{fake_digest('dataset', spec.name, v.version)}",
                    "rows": v.rows,
                    "update_frequency": spec.update_frequency,
                    "columns": spec.columns,
                    "profile": _profile_doc(features, v.rows),
                }
                self.datasets[f"{spec.name}@{v.version}"] = doc
                self.published[f"{spec.name}@{v.version}"] = v.created
                path = layout.dataset_path(spec.name, v.version)
                self.add(v.created, bot, f"Publish data set {spec.name} {v.version}\n", {path: yamlsafe.dump(doc).encode()})

    def model_versions(self) -> None:
        pipeline = self.person("ci")
        artifact_uri, image = self.config.conventions.artifact_uri, self.config.conventions.image
        if artifact_uri is None or image is None:
            raise StoryError("the example's mlrelease.yaml needs conventions.artifact_uri and conventions.image")
        for spec in self.story.models.values():
            for i, v in enumerate(spec.versions):
                author = self.person(v.author)
                data = {}
                for role, ref in (("train", v.data["train"]), ("validation", v.data["train"]), ("test", v.data["test"])):
                    name, ver = split_ref(ref, "DATASET@VERSION")
                    if self.published.get(ref, v.created + timedelta(seconds=1)) > v.created:
                        raise StoryError(f"story: {spec.name} {v.version} uses data set {ref}, which does not exist yet")
                    ds = self.datasets[ref]
                    rows = ds["rows"] if role == "test" else round(ds["rows"] * (0.85 if role == "train" else 0.15))
                    data[role] = {"dataset": name, "version": ver, "rows": rows, "digest": ds["digest"]}
                train = self.datasets[v.data["train"]]
                doc: dict[str, Any] = {
                    "model": spec.name,
                    "version": v.version,
                    "created": format_timestamp(v.created),
                    "author": str(author),
                    "description": v.description,
                    "parent": v.parent,
                    "artifact": {
                        "uri": artifact_uri.format(model=spec.name, version=v.version),
                        "sha256": fake_digest("artifact", spec.name, v.version),
                        **spec.artifact,
                    },
                    "image": {
                        "ref": image.format(model=spec.name, version=v.version),
                        "digest": f"sha256:{fake_digest('image', spec.name, v.version)}",
                    },
                    "code": {**spec.code, "commit": fake_digest("code", spec.name, v.version, n=40)},
                    "data": data,
                    "params": {**spec.params, **v.params},
                    "metrics": v.metrics,
                    "profile": {**train["profile"], "rows": data["train"]["rows"]},
                }
                doc["artifact"]["bytes"] = int(spec.artifact.get("bytes", 0) * (1 + 0.04 * i))
                doc = {k: val for k, val in doc.items() if val is not None}
                files = {layout.version_path(spec.name, v.version): yamlsafe.dump(doc).encode()}
                subject = f"Register {spec.name} {v.version}"
                if i == 0:
                    files[layout.model_path(spec.name)] = self.files[layout.model_path(spec.name)]
                    subject += " (new model)"
                fields = {"action": "register", "model": spec.name, "version": v.version, "actor": str(pipeline)}
                self.add(v.created, author, format_message(subject, fields), files, committer=pipeline)
                self.registered[f"{spec.name}@{v.version}"] = v.created
                self.manifests[f"{spec.name}@{v.version}"] = doc

    # -- release actions --

    def run(self, e: Event) -> None:
        getattr(self, f"_{e.kind}")(e, self.person(e.by))

    def _deploy(self, e: Event, who: Person, kind: str, desired: Desired, version: str, *, pin: Pin | None = None) -> None:
        assert e.env is not None
        rel = self.release(e.env, e.model)
        live = rel.state.live
        d = commits.DeployFacts(
            kind=kind,
            model=e.model,
            environment=e.env,
            version=version,
            previous=live.version if live else None,
            canary=e.canary,
            promotion_id=desired.promotion_id,
            backend=rel.backend,
            actor=str(who),
            reason=e.reason,
            forced=e.forced,
        )
        path = layout.release_path(e.env, e.model)
        rel.state = state.with_intent(rel.state, desired, rel.backend, pin=pin)
        self.add(e.at, who, commits.intent(d, path).message(), {path: state.dump_release(rel.state)})
        kind_of_backend = self.backend_of(e.env)[1]
        if kind_of_backend == "record":
            ref: str | None = desired.promotion_id
            done, message = e.at + RECORD_DELAY, "recorded in git"
        else:
            done = e.at + ROLLOUT_DELAY + timedelta(seconds=self.rng.randrange(0, 90))
            ref = None if e.failed else f"rollout-{fake_digest(desired.promotion_id, n=8)}"
            message = f"python3 exited with code 1: {e.failed}" if e.failed else "python3 exited with code 0"
        ok = e.failed is None
        rel.state = state.with_outcome(rel.state, ok=ok, at=done, backend_ref=ref, message=message)
        preview = commits.outcome(d, path, phase="Succeeded" if ok else "Failed", backend_ref=ref, message=message)
        self.add(done, who, preview.message(), {path: state.dump_release(rel.state)})
        if ok:
            rel.live_since.append((done, desired.version))
            rel.canary_since.append((done, desired.canary))

    def _promote(self, e: Event, who: Person) -> None:
        assert e.version is not None and e.env is not None
        self.require_version(e.model, e.version, e.at)
        if e.model in self.rejections and any(r.version == e.version for r in self.rejections[e.model]):
            raise StoryError(f"story: {e.model} {e.version} is promoted after it was rejected")
        live = self.release(e.env, e.model).state.live
        promotion_id = ulid(e.at, self.rng)
        if e.canary is not None:
            if live is None:
                raise StoryError(f"story: a canary of {e.model} {e.version} in {e.env} needs a live version beside it")
            primary, canary = live.version, Canary(e.version, e.canary)
        else:
            primary, canary = e.version, None
        desired = Desired(
            version=primary,
            promotion_id=promotion_id,
            action="promote",
            actor=str(who),
            at=e.at,
            canary=canary,
            reason=e.reason,
            forced=e.forced,
        )
        self._deploy(e, who, "promote", desired, e.version)

    def _rollback(self, e: Event, who: Person) -> None:
        assert e.version is not None and e.env is not None
        self.require_version(e.model, e.version, e.at)
        promotion_id = ulid(e.at, self.rng)
        desired = Desired(version=e.version, promotion_id=promotion_id, action="rollback", actor=str(who), at=e.at, reason=e.reason)
        self._deploy(e, who, "rollback", desired, e.version, pin=Pin(by=str(who), at=e.at, reason=e.reason))

    def _approve(self, e: Event, who: Person) -> None:
        assert e.version is not None and e.env is not None
        self.require_version(e.model, e.version, e.at)
        rel = self.release(e.env, e.model)
        rel.state = state.with_approval(rel.state, Approval(e.version, str(who), e.at, e.reason))
        path = layout.release_path(e.env, e.model)
        preview = commits.approve(e.model, e.version, e.env, str(who), e.reason, path)
        self.add(e.at, who, preview.message(), {path: state.dump_release(rel.state)})

    def _reject(self, e: Event, who: Person) -> None:
        assert e.version is not None
        self.require_version(e.model, e.version, e.at)
        items = self.rejections.setdefault(e.model, [])
        items.append(Rejection(e.version, str(who), e.at, e.reason or ""))
        path = layout.rejections_path(e.model)
        preview = commits.reject(e.model, e.version, str(who), e.reason, path)
        self.add(e.at, who, preview.message(), {path: state.dump_rejections(e.model, items)})

    def _retrain(self, e: Event, who: Person) -> None:
        backend = self.config.retrain.backend or "record"
        path = layout.retrain_path(e.model)
        items = self.retrains.setdefault(e.model, [])
        request = RetrainRequest(id=ulid(e.at, self.rng), at=e.at, actor=str(who), reason=e.reason or "", backend=backend)
        items.append(request)
        preview = commits.retrain(e.model, request.id, backend, str(who), e.reason, path)
        self.add(e.at, who, preview.message(), {path: state.dump_retrain(e.model, items)})
        message = "python3 exited with code 0"
        items[-1] = replace(request, phase="Succeeded", backend_ref=e.ref, message=message)
        done = e.at + timedelta(seconds=2)
        preview = commits.retrain_outcome(
            e.model, request.id, backend, str(who), path, phase="Succeeded", backend_ref=e.ref, message=message
        )
        self.add(done, who, preview.message(), {path: state.dump_retrain(e.model, items)})

    def _hand_edit(self, e: Event, who: Person) -> None:
        """A person edits a release file in their editor: no trailers, no promotion id of ours."""
        assert e.env is not None
        rel = self.release(e.env, e.model)
        live = rel.state.live
        if live is None:
            raise StoryError(f"story: the hand edit of {e.model} in {e.env} needs a live version")
        manual = f"manual-{e.at:%Y%m%d}"
        reason = "redeployed by hand after the staging cluster rebuild"
        rel.state = replace(
            rel.state,
            desired=Desired(version=live.version, promotion_id=manual, action="promote", actor=str(who), at=e.at, reason=reason),
            observed=Observed(phase="Succeeded", promotion_id=manual, at=e.at, message="deployed by hand with kubectl"),
            live=Live(version=live.version, promotion_id=manual, since=e.at),
        )
        rel.live_since.append((e.at, live.version))
        rel.canary_since.append((e.at, None))
        path = layout.release_path(e.env, e.model)
        self.add(e.at, who, e.message or f"Edit {path} by hand\n", {path: state.dump_release(rel.state)})
        self.hand_edits[(e.env, e.model)] = self.commits[-1][2]  # type: ignore[assignment]  # add() just made a Commit

    def _accept(self, e: Event, who: Person) -> None:
        """A second person accepts the hand edit's finding on the record (`mlrelease review --finding`).

        The entry names the hand edit's commit id, known only once it is written: a deferred commit.
        """
        assert e.env is not None
        edit = self.hand_edits.get((e.env, e.model))
        if edit is None:
            raise StoryError(f"story: {e.model} in {e.env} has no hand edit before {format_timestamp(e.at)} to accept")
        if edit.author == who:
            raise StoryError(f"story: {who.name} accepts their own hand edit; four eyes wants someone else")
        path = layout.release_path(e.env, e.model)
        reason = e.reason or ""

        def make(commit: str) -> tuple[str, Mapping[str, bytes | None]]:
            entry = Acceptance(commit, (AcceptedFinding("hand-edit", path),), str(who), e.at, reason)
            self.acceptances.append(entry)
            message = commits.accept_finding(commit, ("hand-edit",), str(who), reason, layout.ACCEPTED).message()
            return message, {layout.ACCEPTED: acceptances.dump_acceptances(self.acceptances)}

        self.commits.append((e.at, len(self.commits), Deferred(e.at, who, who, edit, make)))

    # -- telemetry --

    def live_at(self, env: str, model: str, at: datetime) -> str | None:
        rel = self.releases.get((env, model))
        return _as_of(rel.live_since if rel else [], at)

    def canary_at(self, env: str, model: str, at: datetime) -> Canary | None:
        rel = self.releases.get((env, model))
        return _as_of(rel.canary_since if rel else [], at)

    def snapshots(self, s: Stream, day: datetime) -> list[dict[str, Any]]:
        """The day's snapshot; during a canary one per version, each with its share of the calls."""
        version = self.live_at(s.env, s.model, day)
        if version is None:
            raise StoryError(f"story: telemetry for {s.model} in {s.env} on {day:%Y-%m-%d}, but nothing is live there then")
        canary = self.canary_at(s.env, s.model, day)
        if canary is None:
            return [self.snapshot(s, day, version)]
        share = canary.weight / 100
        return [self.snapshot(s, day, version, 1 - share), self.snapshot(s, day, canary.version, share)]

    def snapshot(self, s: Stream, day: datetime, version: str, share: float = 1.0) -> dict[str, Any]:
        arm = "" if share == 1.0 else f":{version}"
        rng = random.Random(f"{self.story.seed}:telemetry:{s.env}:{s.model}:{day:%Y-%m-%d}{arm}")
        manifest = self.manifests[f"{s.model}@{version}"]
        calls = round(s.calls * share * (s.weekend if day.weekday() >= 5 else 1.0) * (1 + rng.gauss(0, 0.03)))
        metrics = {}
        for name, factor in s.live.items():
            value = manifest["metrics"][name] * factor
            for effect in s.effects:
                if effect.version == version and day >= effect.start:
                    value *= effect.metrics.get(name, 1.0)
            metrics[name] = round(value * (1 + rng.gauss(0, 0.01)), 4)
        features = _jittered(manifest["profile"]["features"], rng, 0.04)
        if s.drift is not None and day >= s.drift.start:
            w = min(1.0, (day - s.drift.start) / timedelta(days=s.drift.ramp_days))
            for name, target in s.drift.features.items():
                goal = [float(x) for x in (target.values() if isinstance(target, dict) else target)]
                mixed = [(1 - w) * a + w * b for a, b in zip(_fractions(features[name]), goal, strict=True)]
                features[name] = _with_fractions(features[name], _normalise(mixed))
        snap: dict[str, Any] = {
            "at": format_timestamp(day),
            "version": version,
            "calls": calls,
            "errors": max(0, round(calls * s.error_rate * (1 + rng.gauss(0, 0.2)))),
            "latency_ms": {k: round(v * (1 + rng.gauss(0, 0.04)), 1) for k, v in s.latency_ms.items()},
            "memory_mb": round(s.memory_mb * (1 + rng.gauss(0, 0.01))),
            "cpu": round(s.cpu * (1 + rng.gauss(0, 0.05)), 2),
            "metrics": metrics,
            "callers": {app: math.floor(calls * share) for app, share in s.callers.items()},
            "profile": _profile_doc(features, calls),
        }
        if not metrics:
            del snap["metrics"]
        if s.observed:
            snap["observations"] = self._observations(s, calls, metrics, rng)
        return snap

    def _observations(self, s: Stream, calls: int, metrics: dict[str, float], rng: random.Random) -> dict[str, Any]:
        """The samples behind the day's figures: the latency histogram, and labelled cases for each observed metric."""
        shapes = {c.metric: c.shape for e in self.config.environments if e.name == s.env and e.rollout for c in e.rollout.checks}
        out: dict[str, Any] = {"latency_ms": _latency_histogram(s.latency_ms, calls, rng)}
        for name, per_call in s.observed.items():
            cases = max(1, round(calls * per_call * (1 + rng.gauss(0, 0.05))))
            value = metrics.get(name, 0.0)
            if shapes.get(name, "rate") == "rate":
                out[name] = {"events": min(cases, round(cases * value)), "trials": cases}
            else:
                out[name] = {"count": cases, "mean": value, "sd": round(value * 0.9, 4)}
        return out

    def telemetry(self) -> None:
        spec = self.story.telemetry
        bot = self.person("telemetry")
        days = [spec.start + timedelta(days=i) for i in range(spec.days)]
        series = {(s.env, s.model): [(d, snap) for d in days for snap in self.snapshots(s, d)] for s in spec.streams}
        previous = spec.start - timedelta(days=1)
        for export in spec.exports:
            files = {}
            for (env, model), snaps in series.items():
                upto = [snap for day, snap in snaps if day <= export]
                files[layout.telemetry_path(env, model)] = yamlsafe.dump({"model": model, "environment": env, "snapshots": upto}).encode()
            last = max(d for d in days if d <= export)
            subject = f"Telemetry: daily snapshots {previous + timedelta(days=1):%d %b} to {last:%d %b %Y}"
            self.add(export, bot, subject + "\n", files)
            previous = last

    # -- all of it --

    def replay(self) -> FastImport:
        self.setup()
        self.dataset_versions()
        self.model_versions()
        last = NEVER
        for e in self.story.events:
            if e.at < last:
                raise StoryError(f"story: events must be in time order; {format_timestamp(e.at)} comes after {format_timestamp(last)}")
            last = e.at
            self.run(e)
        self.telemetry()
        history = FastImport("main", tz=LOCAL_TZ)
        for _at, _seq, c in sorted(self.commits, key=lambda item: (item[0], item[1])):
            history.commit(c)
        return history


LATENCY_EDGES = (2, 4, 6, 8, 10, 15, 20, 30, 50, 100)


def _latency_histogram(percentiles: Mapping[str, float], calls: int, rng: random.Random) -> dict[str, Any]:
    """Calls per latency bucket from a log-normal through the stream's p50 and p95 (jittered a little)."""
    p50, p95 = percentiles.get("p50", 5.0), percentiles.get("p95", 15.0)
    mu, sigma = math.log(p50 * (1 + rng.gauss(0, 0.02))), max((math.log(p95) - math.log(p50)) / 1.645, 0.05)
    below = [0.5 * math.erfc(-(math.log(e) - mu) / (sigma * math.sqrt(2))) for e in LATENCY_EDGES]
    shares = [b - a for a, b in zip([0.0, *below], [*below, 1.0], strict=True)]
    counts = [round(calls * x) for x in shares]
    biggest = counts.index(max(counts))
    counts[biggest] += calls - sum(counts)  # rounding: the largest bucket absorbs it, never below 0
    return {"edges": list(LATENCY_EDGES), "counts": counts}


def _as_of(timeline: Iterable[tuple[datetime, T]], at: datetime) -> T | None:
    """What a ``(since, value)`` timeline held at ``at``: the last value that had started by then."""
    current = None
    for since, value in timeline:
        if since <= at:
            current = value
    return current
