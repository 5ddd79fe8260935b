"""Parsers: one YAML tree in, one typed object out, or every problem of the file.

Structural checks only (keys, types, required fields). Checks that need the whole
registry or its conventions (names, references, the metric catalogue) are lint's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlrelease.errors import ManifestError, Problem
from mlrelease.registry import names
from mlrelease.registry.fields import Fields
from mlrelease.registry.types import (
    GOALS,
    METRIC_KINDS,
    PHASES,
    Approval,
    Artifact,
    Canary,
    Code,
    Config,
    Consumer,
    Conventions,
    DataRef,
    Dataset,
    Desired,
    Environment,
    FeatureProfile,
    Gates,
    Image,
    Live,
    MetricDef,
    Model,
    Observed,
    Pin,
    PluginConfig,
    Profile,
    Rejection,
    ReleaseState,
    RemoteConfig,
    RetrainConfig,
    RetrainPolicy,
    RetrainRequest,
    Snapshot,
    Telemetry,
    Threshold,
    Tolerance,
    Version,
    Window,
    Windows,
)
from mlrelease.registry.yamlsafe import YMap

T = TypeVar("T")
FORMAT_VERSION = 1
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _run(data: object, path: str, body: Callable[[Fields], T]) -> T:
    problems: list[Problem] = []
    f = Fields(data, path, problems)
    result = body(f) if f.ok else None
    f.done()
    if problems:
        raise ManifestError(problems)
    assert result is not None
    return result


def _lines(f: Fields) -> dict[str, int]:
    return dict(f.data.key_lines)


def _regex(f: Fields, key: str, default: str | None = None) -> re.Pattern[str] | None:
    text = f.str(key, default=default)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        f.problem(key, f"is not a valid regular expression: {exc}")
        return None


def _template(f: Fields, key: str) -> str | None:
    text = f.str(key)
    if text is None:
        return None
    for field_name in re.findall(r"{([^}]*)}", text):
        if field_name not in ("model", "version"):
            f.problem(key, f"may only use {{model}} and {{version}}, not {{{field_name}}}")
    return text


# ---- mlrelease.yaml --------------------------------------------------------------------


def _conventions(f: Fields | None) -> Conventions:
    default_name = r"[a-z][a-z0-9-]{0,62}"
    if f is None:
        return Conventions(model_name=re.compile(default_name), dataset_name=re.compile(default_name))
    model_name = _regex(f, "model_name", default_name) or re.compile(default_name)
    dataset_name = _regex(f, "dataset_name", default_name) or re.compile(default_name)
    scheme = f.choice("version_scheme", names.SCHEMES, default="semver") or "semver"
    pattern = _regex(f, "version_pattern")
    if scheme == "regex" and pattern is None:
        f.problem_at(f.line_of("version_scheme"), "version_scheme 'regex' needs 'conventions.version_pattern'")
    return Conventions(
        model_name=model_name,
        dataset_name=dataset_name,
        version_scheme=scheme,
        version_pattern=pattern,
        dataset_version=_regex(f, "dataset_version"),
        artifact_uri=_template(f, "artifact_uri"),
        image=_template(f, "image"),
        required=f.str_list("required"),
    )


def _metrics(f: Fields) -> dict[str, MetricDef]:
    m = f.map("metrics")
    out: dict[str, MetricDef] = {}
    if m is None:
        return out
    for name in m:
        sub = Fields(m[name], f.path, f.problems, where=f"metrics.{name}", line=m.line_of(name))
        if not sub.ok:
            continue
        out[name] = MetricDef(
            name=name,
            goal=sub.choice("goal", GOALS, required=True) or "max",
            kind=sub.choice("kind", METRIC_KINDS, default="model") or "model",
            unit=sub.str("unit"),
            format=sub.str("format"),
            description=sub.str("description"),
        )
        if out[name].format:
            try:
                format(0.5, out[name].format or "")
            except ValueError:
                sub.problem("format", f"is not a valid format spec: {out[name].format!r}")
        sub.done()
    return out


def _time(f: Fields, key: str) -> time | None:
    text = f.str(key)
    if text is None:
        return None
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        if text == "24:00":
            return None
        f.problem(key, f"must be a time HH:MM, not {text!r}")
        return None


def _window(f: Fields) -> Window:
    days = f.str_list("days")
    for d in days:
        if d.lower() not in DAYS:
            f.problem("days", f"has {d!r}; days are {', '.join(DAYS)}")
    # 'from' and 'to' read as the words a person writes; an end of 24:00 means midnight.
    start = _time(f, "from")
    end = _time(f, "to")
    return Window(days=tuple(d.lower() for d in days), start=start, end=end)


def _gates(f: Fields | None) -> Gates:
    if f is None:
        return Gates()
    thresholds: dict[str, Threshold] = {}
    tm = f.map("thresholds")
    for name in tm or {}:
        assert tm is not None
        sub = Fields(tm[name], f.path, f.problems, where=f"{f.name('thresholds')}.{name}", line=tm.line_of(name))
        if sub.ok:
            thresholds[name] = Threshold(min=sub.number("min"), max=sub.number("max"))
            if thresholds[name].min is None and thresholds[name].max is None:
                sub.problem_at(sub.line, f"'{sub.where}' needs 'min' or 'max'")
            sub.done()
    no_regression: dict[str, Tolerance] = {}
    nm = f.map("no_regression")
    for name in nm or {}:
        assert nm is not None
        value = nm[name]
        if value is None:
            no_regression[name] = Tolerance()
            continue
        sub = Fields(value, f.path, f.problems, where=f"{f.name('no_regression')}.{name}", line=nm.line_of(name))
        if sub.ok:
            no_regression[name] = Tolerance(
                absolute=sub.number("absolute", default=0.0) or 0.0, relative=sub.number("relative", default=0.0) or 0.0
            )
            sub.done()
    windows = Windows()
    wf = f.sub("windows")
    if wf is not None:
        tz = wf.str("timezone", default="UTC") or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            wf.problem("timezone", f"is not a known time zone: {tz!r}")
            tz = "UTC"
        windows = Windows(timezone=tz, allow=wf.each("allow", _window), deny=wf.each("deny", _window))
        wf.done()
    gates = Gates(
        thresholds=thresholds, no_regression=no_regression, approvals=f.int("approvals", default=0, minimum=0) or 0, windows=windows
    )
    f.done()  # a misspelt gate must not silently disappear
    return gates


def _plugin(name: str, f: Fields) -> PluginConfig:
    kind = f.req_str("type")
    settings = YMap(f.line)  # the settings keep their lines, so the plugin's problems name them
    for key, value in f.data.items():
        if key != "type":
            settings[key] = value
            settings.key_lines[key] = f.line_of(key)
    f.seen.update(f.data.keys())  # settings are checked by the plugin that owns them (also by lint)
    return PluginConfig(name=name, type=kind, settings=settings, line=f.line)


def _environment(f: Fields) -> Environment:
    name = f.req_str("name")
    tel = f.sub("telemetry")
    return Environment(
        name=name,
        requires=f.str_list("requires"),
        backend=f.str("backend"),
        read_only=f.bool("read_only"),
        gates=_gates(f.sub("gates")),
        telemetry=_plugin(f"{name}.telemetry", tel) if tel is not None else None,
        line=f.line,
    )


def _policy(f: Fields | None) -> RetrainPolicy:
    if f is None:
        return RetrainPolicy()
    policy = RetrainPolicy(
        max_age_days=f.number("max_age_days"),
        psi_threshold=f.number("psi_threshold"),
        metric_drop=f.number_map("metric_drop"),
        cadence_days=f.number("cadence_days"),
    )
    f.done()
    return policy


def _retrain(f: Fields | None) -> RetrainConfig:
    if f is None:
        return RetrainConfig()
    models: dict[str, RetrainPolicy] = {}
    mm = f.map("models")
    for name in mm or {}:
        assert mm is not None
        models[name] = _policy(Fields(mm[name], f.path, f.problems, where=f"retrain.models.{name}", line=mm.line_of(name)))
    return RetrainConfig(backend=f.str("backend"), policy=_policy(f.sub("policy")), models=models)


def parse_config(data: object, path: str = "mlrelease.yaml") -> Config:
    def body(f: Fields) -> Config:
        version = f.int("version", required=True)
        if version is not None and version != FORMAT_VERSION:
            f.problem_at(f.line_of("version"), f"format version {version} is not supported (this mlrelease reads version {FORMAT_VERSION})")
        conv = f.sub("conventions")
        conventions = _conventions(conv)
        if conv is not None:
            conv.done()
        envs = f.each("environments", _environment, required=True)
        seen: set[str] = set()
        for env in envs:
            if env.name in seen:
                f.problem_at(env.line, f"environment {env.name!r} is defined twice")
            seen.add(env.name)
        backends: dict[str, PluginConfig] = {}
        bm = f.map("backends")
        for name in bm or {}:
            assert bm is not None
            sub = Fields(bm[name], path, f.problems, where=f"backends.{name}", line=bm.line_of(name))
            if sub.ok:
                backends[name] = _plugin(name, sub)
        rf = f.sub("retrain")
        retrain = _retrain(rf)
        if rf is not None:
            rf.done()
        remote = None
        remf = f.sub("remote")
        if remf is not None:
            remote = RemoteConfig(name=remf.str("name", default="origin") or "origin", branch=remf.str("branch", default="main") or "main")
            remf.done()
        return Config(
            name=f.str("name"),
            conventions=conventions,
            metrics=_metrics(f),
            headline=f.str_list("headline"),
            environments=envs,
            backends=backends,
            retrain=retrain,
            remote=remote,
            lines=_lines(f),
        )

    return _run(data, path, body)


# ---- model.yaml ------------------------------------------------------------------------


def _consumer(f: Fields) -> Consumer:
    return Consumer(
        name=f.req_str("name"), environments=f.str_list("environments"), contact=f.str("contact"), description=f.str("description")
    )


def parse_model(data: object, path: str) -> Model:
    def body(f: Fields) -> Model:
        return Model(
            name=f.req_str("name"),
            owner=f.req_str("owner"),
            description=f.str("description"),
            task=f.str("task"),
            tags=f.str_list("tags"),
            consumers=f.each("consumers", _consumer),
            headline=f.str_list("headline"),
            lines=_lines(f),
        )

    return _run(data, path, body)


# ---- profiles ---------------------------------------------------------------------------


def _feature(f: Fields) -> FeatureProfile:
    kind = f.choice("type", ("numeric", "categorical"), required=True) or "numeric"
    edges: tuple[float, ...] = ()
    bins: dict[str, float] = {}
    if kind == "numeric":
        raw_edges = f.list("edges", required=True) or []
        fractions = f.list("fractions", required=True) or []
        try:
            edges = tuple(float(e) for e in raw_edges if not isinstance(e, bool))
            fr = [float(x) for x in fractions if not isinstance(x, bool)]
        except (TypeError, ValueError):
            f.problem_at(f.line, f"'{f.where}' edges and fractions must be numbers")
            fr = []
        if len(edges) != len(raw_edges) or len(fr) != len(fractions):
            f.problem_at(f.line, f"'{f.where}' edges and fractions must be numbers")
        elif list(edges) != sorted(set(edges)):
            f.problem("edges", "must be strictly increasing")
        elif raw_edges and len(fr) != len(edges) + 1:
            f.problem("fractions", f"needs {len(edges) + 1} values for {len(edges)} edges, has {len(fr)}")
        else:
            bins = {numeric_bin_label(edges, i): v for i, v in enumerate(fr)}
    else:
        bins = f.number_map("fractions")
        if "fractions" not in f.data:
            f.problem_at(f.line, f"missing required field '{f.where}.fractions'")
    if any(v < 0 for v in bins.values()):
        f.problem_at(f.line, f"'{f.where}' fractions must not be negative")
    elif bins and abs(sum(bins.values()) - 1.0) > 0.02:
        f.problem("fractions", f"add up to {sum(bins.values()):.3f}, not 1")
    return FeatureProfile(kind=kind, bins=bins, edges=edges, dtype=f.str("dtype"), missing=f.number("missing"), mean=f.number("mean"))


def numeric_bin_label(edges: tuple[float, ...], i: int) -> str:
    def g(x: float) -> str:
        return f"{x:g}"

    if i == 0:
        return f"<{g(edges[0])}"
    if i == len(edges):
        return f">={g(edges[-1])}"
    return f"[{g(edges[i - 1])},{g(edges[i])})"


def _profile(f: Fields | None) -> Profile | None:
    if f is None:
        return None
    features: dict[str, FeatureProfile] = {}
    fm = f.map("features", required=True)
    for name in fm or {}:
        assert fm is not None
        sub = Fields(fm[name], f.path, f.problems, where=f"{f.name('features')}.{name}", line=fm.line_of(name))
        if sub.ok:
            features[name] = _feature(sub)
            sub.done()
    profile = Profile(features=features, rows=f.int("rows", minimum=0))
    f.done()
    return profile


# ---- versions ---------------------------------------------------------------------------


def _dataref(f: Fields) -> DataRef:
    return DataRef(dataset=f.req_str("dataset"), version=f.req_str("version"), rows=f.int("rows", minimum=0), digest=f.str("digest"))


def parse_version(data: object, path: str) -> Version:
    def body(f: Fields) -> Version:
        af = f.sub("artifact", required=True)
        artifact = Artifact(uri="")
        if af is not None:
            artifact = Artifact(uri=af.req_str("uri"), sha256=af.str("sha256"), format=af.str("format"), bytes=af.int("bytes", minimum=0))
            if artifact.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256):
                af.problem("sha256", "must be 64 lower-case hex digits")
            af.done()
        image = None
        imf = f.sub("image")
        if imf is not None:
            image = Image(ref=imf.req_str("ref"), digest=imf.str("digest"))
            imf.done()
        code = None
        cf = f.sub("code")
        if cf is not None:
            code = Code(repo=cf.str("repo"), commit=cf.str("commit"), entrypoint=cf.str("entrypoint"))
            cf.done()
        data_refs: dict[str, DataRef] = {}
        dm = f.map("data")
        for role in dm or {}:
            assert dm is not None
            sub = Fields(dm[role], path, f.problems, where=f"data.{role}", line=dm.line_of(role))
            if sub.ok:
                data_refs[role] = _dataref(sub)
                sub.done()
        return Version(
            model=f.req_str("model"),
            version=f.req_str("version"),
            created=f.timestamp("created", required=True) or _EPOCH,
            author=f.req_str("author"),
            description=f.str("description"),
            parent=f.str("parent"),
            artifact=artifact,
            image=image,
            code=code,
            data=data_refs,
            params=f.scalar_map("params"),
            metrics=f.number_map("metrics"),
            profile=_profile(f.sub("profile")),
            tags=f.str_list("tags"),
            lines=_lines(f),
        )

    return _run(data, path, body)


def parse_dataset(data: object, path: str) -> Dataset:
    def body(f: Fields) -> Dataset:
        cols = f.map("columns")
        columns: dict[str, str] = {}
        for k in cols or {}:
            assert cols is not None
            v = cols[k]
            if not isinstance(v, str):
                f.problem_at(cols.line_of(k), f"'columns.{k}' must be a type name, not {v!r}")
            else:
                columns[k] = v
        return Dataset(
            name=f.req_str("name"),
            version=f.req_str("version"),
            created=f.timestamp("created"),
            uri=f.str("uri"),
            digest=f.str("digest"),
            rows=f.int("rows", minimum=0),
            update_frequency=f.str("update_frequency"),
            description=f.str("description"),
            columns=columns,
            profile=_profile(f.sub("profile")),
            lines=_lines(f),
        )

    return _run(data, path, body)


# ---- release state ------------------------------------------------------------------------


def _canary(f: Fields | None) -> Canary | None:
    if f is None:
        return None
    weight = f.number("weight", required=True) or 0.0
    if not 0 < weight < 100:
        f.problem("weight", f"must be between 0 and 100 (exclusive), not {weight:g}")
    canary = Canary(version=f.req_str("version"), weight=weight)
    f.done()
    return canary


def _approval(f: Fields) -> Approval:
    return Approval(
        version=f.req_str("version"), by=f.req_str("by"), at=f.timestamp("at", required=True) or _EPOCH, comment=f.str("comment")
    )


def parse_release(data: object, path: str) -> ReleaseState:
    def body(f: Fields) -> ReleaseState:
        desired = observed = live = pin = None
        df = f.sub("desired")
        if df is not None:
            desired = Desired(
                version=df.req_str("version"),
                promotion_id=df.req_str("promotion_id"),
                action=df.choice("action", ("promote", "rollback"), required=True) or "promote",
                actor=df.req_str("actor"),
                at=df.timestamp("at", required=True) or _EPOCH,
                canary=_canary(df.sub("canary")),
                reason=df.str("reason"),
                forced=df.str_list("forced"),
            )
            df.done()
        of = f.sub("observed")
        if of is not None:
            observed = Observed(
                phase=of.choice("phase", PHASES, required=True) or "Pending",
                promotion_id=of.req_str("promotion_id"),
                at=of.timestamp("at", required=True) or _EPOCH,
                backend=of.str("backend"),
                backend_ref=of.str("backend_ref"),
                message=of.str("message"),
            )
            of.done()
        lf = f.sub("live")
        if lf is not None:
            live = Live(
                version=lf.req_str("version"),
                promotion_id=lf.req_str("promotion_id"),
                since=lf.timestamp("since", required=True) or _EPOCH,
                canary=_canary(lf.sub("canary")),
            )
            lf.done()
        pf = f.sub("pin")
        if pf is not None:
            pin = Pin(by=pf.req_str("by"), at=pf.timestamp("at", required=True) or _EPOCH, reason=pf.str("reason"))
            pf.done()
        return ReleaseState(
            model=f.req_str("model"),
            environment=f.req_str("environment"),
            desired=desired,
            observed=observed,
            live=live,
            pin=pin,
            approvals=f.each("approvals", _approval),
            lines=_lines(f),
        )

    return _run(data, path, body)


def _rejection(f: Fields) -> Rejection:
    return Rejection(
        version=f.req_str("version"), by=f.req_str("by"), at=f.timestamp("at", required=True) or _EPOCH, reason=f.req_str("reason")
    )


def parse_rejections(data: object, path: str) -> tuple[Rejection, ...]:
    return _run(data, path, lambda f: (f.str("model", required=True), f.each("rejected", _rejection))[1])


def _request(f: Fields) -> RetrainRequest:
    return RetrainRequest(
        id=f.req_str("id"),
        at=f.timestamp("at", required=True) or _EPOCH,
        actor=f.req_str("actor"),
        reason=f.req_str("reason"),
        trigger=f.str("trigger", default="manual") or "manual",
        backend=f.str("backend"),
        backend_ref=f.str("backend_ref"),
        phase=f.choice("phase", PHASES, default="Pending") or "Pending",
        message=f.str("message"),
    )


def parse_retrain_requests(data: object, path: str) -> tuple[RetrainRequest, ...]:
    return _run(data, path, lambda f: (f.str("model", required=True), f.each("requests", _request))[1])


# ---- telemetry ---------------------------------------------------------------------------


def _snapshot(f: Fields) -> Snapshot:
    return Snapshot(
        at=f.timestamp("at", required=True) or _EPOCH,
        version=f.str("version"),
        calls=f.int("calls", minimum=0),
        errors=f.int("errors", minimum=0),
        latency_ms=f.number_map("latency_ms"),
        memory_mb=f.number("memory_mb"),
        cpu=f.number("cpu"),
        metrics=f.number_map("metrics"),
        callers=f.number_map("callers"),
        profile=_profile(f.sub("profile")),
    )


def parse_telemetry(data: object, path: str) -> Telemetry:
    def body(f: Fields) -> Telemetry:
        return Telemetry(
            model=f.req_str("model"),
            environment=f.req_str("environment"),
            snapshots=f.each("snapshots", _snapshot, required=True),
            lines=_lines(f),
        )

    return _run(data, path, body)


PARSERS: dict[str, Callable[[object, str], object]] = {
    "config": parse_config,
    "model": parse_model,
    "version": parse_version,
    "dataset": parse_dataset,
    "release": parse_release,
    "rejections": parse_rejections,
    "retrain": parse_retrain_requests,
    "telemetry": parse_telemetry,
}
