"""The bundled example: replay ``examples/bank-fraud/story.yaml`` into a real git repository.

The story says what happened at a (fictional) bank over seven months — data sets
published, model versions trained, promotions, approvals, a rejection, a canary, a
rollback, a failed rollout, a hand edit — and who did it when. This module turns it into
the repository mlrelease itself would have produced: every action is written with the
release service's own state transitions (:mod:`mlrelease.release.state`) and commit
wording (:mod:`mlrelease.release.commits`), so the example can never drift from what the
tool writes. Derived details (digests, profiles, telemetry noise) come from a fixed seed:
the same story always gives the same repository, down to the commit ids.

Commits are written with one ``git fast-import`` pipe instead of a ``git commit`` per
action, so a few hundred commits take well under a second. :class:`FastImport` is also
what ``bench/synth.py`` uses to build large synthetic registries.
"""

from __future__ import annotations

import hashlib
import math
import random
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mlrelease.errors import ManifestError, MlreleaseError, Problem, StoryError
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import Fields, format_timestamp, parse_timestamp
from mlrelease.registry.gitio import git
from mlrelease.registry.names import split_ref
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import Approval, Canary, Config, Desired, Live, Observed, Pin, Rejection, ReleaseState, RetrainRequest
from mlrelease.release import commits, state
from mlrelease.resources import resource_dir

EXAMPLE = "bank-fraud"
STORY = "story.yaml"
RECORD_DELAY = timedelta(seconds=4)  # the git-only backend answers at once
ROLLOUT_DELAY = timedelta(minutes=3)  # a real rollout takes minutes
LOCAL_TZ = ZoneInfo("Europe/London")  # where the bank's people commit from
_NEVER = datetime.min.replace(tzinfo=UTC)  # stands in for a missing time while problems are collected


# ---- git fast-import ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Commit:
    at: datetime
    author: Person
    committer: Person
    message: str
    files: Mapping[str, bytes | None]  # path → content; None deletes


def _signature(who: Person, at: datetime, tz: ZoneInfo | None) -> bytes:
    local = at.astimezone(tz) if tz else at.astimezone(UTC)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{who.name} <{who.email}> {int(at.timestamp())} {zone}".encode()


class FastImport:
    """A linear history for one branch, written by a single ``git fast-import`` run.

    Each commit lists only the files it changes; ``fast-import`` builds the trees. This is
    how thousands of commits land in a second, with exact authors and dates.
    """

    def __init__(self, branch: str = "main", *, tz: ZoneInfo | None = None) -> None:
        self.branch = branch
        self.tz = tz
        self._chunks: list[bytes] = []
        self.count = 0

    def commit(self, c: Commit) -> None:
        self.count += 1
        msg = c.message.encode("utf-8")
        out = [
            f"commit refs/heads/{self.branch}\nmark :{self.count}\n".encode(),
            b"author " + _signature(c.author, c.at, self.tz) + b"\n",
            b"committer " + _signature(c.committer, c.at, self.tz) + b"\n",
            b"data %d\n" % len(msg) + msg + b"\n",
        ]
        if self.count > 1:
            out.append(b"from :%d\n" % (self.count - 1))
        for path, data in c.files.items():
            if data is None:
                out.append(b"D " + path.encode("utf-8") + b"\n")
            else:
                out.append(b"M 100644 inline " + path.encode("utf-8") + b"\ndata %d\n" % len(data) + data + b"\n")
        self._chunks.append(b"".join(out))

    def write(self, root: Path) -> None:
        """Create a repository at ``root`` (which must not exist), import, check out the branch."""
        root.mkdir(parents=True)
        git(root, "init", "--quiet", f"--initial-branch={self.branch}")
        git(root, "fast-import", "--quiet", "--done", input=b"".join(self._chunks) + b"done\n", timeout=600)
        git(root, "reset", "--hard", "--quiet")


def fake_digest(*parts: object, n: int = 64) -> str:
    """A stable fake digest: the same parts always give the same hex string."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def ulid(at: datetime, rng: random.Random) -> str:
    """A promotion id in the release service's format (a ULID), drawn from the story's seed."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = ((int(at.timestamp() * 1000) & ((1 << 48) - 1)) << 80) | rng.getrandbits(80)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


# ---- the story, typed --------------------------------------------------------------------------


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
    kind: str  # promote | approve | reject | rollback | retrain | hand_edit
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


_EVENT_KINDS = ("promote", "approve", "reject", "rollback", "retrain", "hand_edit")


def _when(f: Fields, key: str) -> datetime:
    return f.timestamp(key, required=True) or _NEVER


def _plain(value: Any) -> Any:
    """A YAML tree as plain dicts and lists (params and profiles are written back out)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _version_spec(f: Fields) -> VersionSpec:
    data = f.map("data", required=True) or {}
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
    env = f.req_str("to") if kind == "promote" else f.req_str("env") if kind in ("approve", "rollback", "hand_edit") else None
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
    m = f.map(key, required=True) or {}
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
        setup_at=_when(setup, "at") if setup else _NEVER,
        setup_by=setup.req_str("by") if setup else "",
        features={family: _plain(value) for family, value in (f.map("features", required=True) or {}).items()},
        datasets=_named(f, "datasets", _dataset),
        models=_named(f, "models", _model),
        events=f.each("events", _event, required=True),
        telemetry=TelemetrySpec(
            start=_when(tel, "start"),
            days=tel.int("days", required=True, minimum=1) or 1,
            exports=tuple(parse_timestamp(t) or _NEVER for t in tel.str_list("exports", required=True)),
            streams=tel.each("streams", _stream, required=True),
        )
        if tel
        else TelemetrySpec(_NEVER, 1, (), ()),
    )
    for sub in (setup, tel):
        if sub is not None:
            sub.done()
    f.done()
    if problems:
        raise ManifestError(problems)
    return story


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


@dataclass(frozen=True)
class Built:
    """What :func:`build` made: where, and how much of it."""

    root: Path
    commits: int
    head: str


class _Replay:
    def __init__(self, story: Story, registry_files: dict[str, bytes], config: Config) -> None:
        self.story = story
        self.files = registry_files
        self.config = config
        self.rng = random.Random(f"{story.seed}:ids")
        self.commits: list[tuple[datetime, int, Commit]] = []
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
            done, ref, message = e.at + RECORD_DELAY, desired.promotion_id, "recorded in git"
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
        path = layout.release_path(e.env, e.model)
        self.add(e.at, who, e.message or f"Edit {path} by hand\n", {path: state.dump_release(rel.state)})

    # -- telemetry --

    def live_at(self, env: str, model: str, at: datetime) -> str | None:
        rel = self.releases.get((env, model))
        current = None
        for since, version in rel.live_since if rel else ():
            if since <= at:
                current = version
        return current

    def snapshot(self, s: Stream, day: datetime) -> dict[str, Any]:
        rng = random.Random(f"{self.story.seed}:telemetry:{s.env}:{s.model}:{day:%Y-%m-%d}")
        version = self.live_at(s.env, s.model, day)
        if version is None:
            raise StoryError(f"story: telemetry for {s.model} in {s.env} on {day:%Y-%m-%d}, but nothing is live there then")
        manifest = self.manifests[f"{s.model}@{version}"]
        calls = round(s.calls * (s.weekend if day.weekday() >= 5 else 1.0) * (1 + rng.gauss(0, 0.03)))
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
        return snap

    def telemetry(self) -> None:
        spec = self.story.telemetry
        bot = self.person("telemetry")
        days = [spec.start + timedelta(days=i) for i in range(spec.days)]
        series = {(s.env, s.model): [self.snapshot(s, d) for d in days] for s in spec.streams}
        previous = spec.start - timedelta(days=1)
        for export in spec.exports:
            files = {}
            for (env, model), snaps in series.items():
                upto = [snap for snap, day in zip(snaps, days, strict=True) if day <= export]
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
        last = _NEVER
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


def example_dir() -> Path:
    """The example's sources: ``examples/bank-fraud`` in a checkout, ``mlrelease/_examples`` in a wheel."""
    return resource_dir("examples") / EXAMPLE


def _registry_files(source: Path) -> dict[str, bytes]:
    base = source / "registry"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def fingerprint(source: Path | None = None) -> str:
    """A digest of the example's sources and this generator: a built copy is stale when it changes."""
    source = source or example_dir()
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update((source / STORY).read_bytes())
    for path, data in _registry_files(source).items():
        h.update(path.encode() + b"\0" + data)
    return h.hexdigest()[:16]


def build(dest: Path, source: Path | None = None) -> Built:
    """Write the example registry as a new git repository at ``dest`` (which must not exist)."""
    from mlrelease.registry.parse import parse_config

    source = source or example_dir()
    if dest.exists():
        raise MlreleaseError(f"{dest}: already exists; the example is built into a new folder")
    files = _registry_files(source)
    config = parse_config(yamlsafe.load(files[layout.CONFIG], layout.CONFIG))
    history = _Replay(load_story(source / STORY), files, config).replay()
    try:
        history.write(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    head = git(dest, "rev-parse", "HEAD").stdout.decode().strip()
    return Built(root=dest, commits=history.count, head=head)
