"""``mlrelease.yaml`` read into a :class:`~mlrelease.registry.types.Config`, or every problem of it.

The rules of the registry: conventions, the metric catalogue, environments with their
gates and telemetry, backends, the retraining policy and the remote. Structural checks
only (keys, types, values that cannot work, such as a bad regular expression or an
unknown time zone); references between sections are lint's. Backend and telemetry
settings are kept as written, with their lines, for the plugin of that type to check.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import time

from mlrelease.registry import names
from mlrelease.registry.fields import Fields, read_file
from mlrelease.registry.layout import CONFIG
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.protected import parse_protected
from mlrelease.registry.rollout import parse_strategy
from mlrelease.registry.shape import Key, Shape, build, read
from mlrelease.registry.types import (
    GOALS,
    METRIC_KINDS,
    Bundle,
    Config,
    Conventions,
    Environment,
    Gates,
    MetricDef,
    PluginConfig,
    RemoteConfig,
    RetrainConfig,
    RetrainPolicy,
    Threshold,
    Tolerance,
    Window,
    Windows,
)
from mlrelease.registry.yamlsafe import YList, YMap
from mlrelease.textsafe import quoted

FORMAT_VERSION = 1
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The gates a plan can show, by family (a gate's name is FAMILY or FAMILY:WHAT, e.g. threshold:f1).
GATE_FAMILIES = ("rejected", "pin", "order", "threshold", "no_regression", "approvals", "window", "history")
DEFAULT_NAME = r"[a-z][a-z0-9-]{0,62}"


def _needs_a_bound(f: Fields, threshold: Threshold) -> None:
    if threshold.min is None and threshold.max is None:
        f.problem_at(f.line, f"'{f.where}' needs 'min' or 'max'")


THRESHOLD = Shape(Threshold, (Key("min", "number"), Key("max", "number")), check=_needs_a_bound)
TOLERANCE = Shape(Tolerance, (Key("absolute", "number", default=0.0), Key("relative", "number", default=0.0)))
POLICY = Shape(
    RetrainPolicy,
    (Key("max_age_days", "number"), Key("psi_threshold", "number"), Key("metric_drop", "numbers"), Key("cadence_days", "number")),
)
REMOTE = Shape(RemoteConfig, (Key("name", default="origin"), Key("branch", default="main")))


def parse_config(data: object, path: str = CONFIG) -> Config:
    def body(f: Fields) -> Config:
        version = f.int("version", required=True)
        if version is not None and version != FORMAT_VERSION:
            f.problem_at(f.line_of("version"), f"format version {version} is not supported (this mlrelease reads version {FORMAT_VERSION})")
        envs = f.each("environments", _environment, required=True)
        seen: set[str] = set()
        for env in envs:
            if env.name in seen:
                f.problem_at(env.line, f"environment {env.name!r} is defined twice")
            seen.add(env.name)
        remote = f.sub("remote")
        return Config(
            name=f.str("name"),
            conventions=_conventions(f.sub("conventions")),
            metrics=_metrics(f),
            headline=f.str_list("headline"),
            environments=envs,
            backends={name: dataclasses.replace(p, name=name) for name, p in f.named("backends", _plugin).items()},
            retrain=_retrain(f.sub("retrain")),
            remote=None if remote is None else read(remote, REMOTE),
            lines=dict(f.data.key_lines),
            notify=_kept(f, "notify"),
            bundles=_bundles(f),
        )

    return read_file(data, path, body)


def _bundles(f: Fields) -> dict[str, Bundle]:
    """``bundles: {NAME: [MODEL, MODEL, ...]}``: at least two models each, none twice (lint checks they exist)."""
    m = f.map("bundles")
    out: dict[str, Bundle] = {}
    for name in m or {}:
        assert m is not None
        line, where = m.line_of(name), f"bundles.{name}"
        reason = unsafe_reason(str(name))
        if reason:
            f.problem_at(line, f"bundle name {quoted(str(name))} {reason}")
            continue
        value = m[name]
        if not isinstance(value, YList) or any(not isinstance(v, str) for v in value):
            f.problem_at(line, f"'{where}' must be a list of model names, e.g. [fraud-detector, anomaly-scorer]")
            continue
        models = tuple(value)
        twice = sorted({v for v in models if models.count(v) > 1})
        if twice:
            f.problem_at(line, f"'{where}' names {', '.join(twice)} more than once")
        elif len(models) < 2:
            f.problem_at(line, f"'{where}' must name at least two models (one model is promoted on its own)")
        else:
            out[str(name)] = Bundle(str(name), models, line)
    return out


# ---- conventions and the metric catalogue --------------------------------------------------


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


def _conventions(f: Fields | None) -> Conventions:
    if f is None:
        return Conventions(model_name=re.compile(DEFAULT_NAME), dataset_name=re.compile(DEFAULT_NAME))
    model_name = _regex(f, "model_name", DEFAULT_NAME) or re.compile(DEFAULT_NAME)
    dataset_name = _regex(f, "dataset_name", DEFAULT_NAME) or re.compile(DEFAULT_NAME)
    scheme = f.choice("version_scheme", names.SCHEMES, default="semver") or "semver"
    pattern = _regex(f, "version_pattern")
    if scheme == "regex" and pattern is None:
        f.problem_at(f.line_of("version_scheme"), "version_scheme 'regex' needs 'conventions.version_pattern'")
    conventions = Conventions(
        model_name=model_name,
        dataset_name=dataset_name,
        version_scheme=scheme,
        version_pattern=pattern,
        dataset_version=_regex(f, "dataset_version"),
        artifact_uri=_template(f, "artifact_uri"),
        image=_template(f, "image"),
        required=f.str_list("required"),
    )
    f.done()
    return conventions


def _metric(f: Fields) -> MetricDef:
    metric = MetricDef(
        name="",  # the catalogue's key, set by _metrics
        goal=f.choice("goal", GOALS, required=True) or "max",
        kind=f.choice("kind", METRIC_KINDS, default="model") or "model",
        unit=f.str("unit"),
        format=f.str("format"),
        description=f.str("description"),
    )
    if metric.format:
        try:
            format(0.5, metric.format)
        except ValueError:
            f.problem("format", f"is not a valid format spec: {metric.format!r}")
    return metric


def _metrics(f: Fields) -> dict[str, MetricDef]:
    return {name: dataclasses.replace(m, name=name) for name, m in f.named("metrics", _metric).items()}


# ---- environments and their gates ----------------------------------------------------------


def _environment(f: Fields) -> Environment:
    name = f.name_str("name", required=True) or ""  # it names the folders releases/<env>/ and telemetry/<env>/
    requires = f.str_list("requires")
    for other in requires:
        reason = unsafe_reason(other)
        if reason:
            f.problem("requires", f"must name environments: {quoted(other)} {reason}")
    tel = f.sub("telemetry")
    return Environment(
        name=name,
        requires=requires,
        backend=f.str("backend"),
        read_only=f.bool("read_only"),
        gates=_gates(f.sub("gates")),
        telemetry=_plugin(tel, name=f"{name}.telemetry") if tel is not None else None,
        rollout=parse_strategy(f.sub("rollout")),
        line=f.line,
        signed=f.bool("signed"),
        protected=parse_protected(f.sub("protected")),
    )


def _overridable(f: Fields, key: str) -> dict[str, bool]:
    """``overridable: {GATE: true|false}``, GATE a family (threshold) or one gate (threshold:f1)."""
    m = f.map(key)
    out: dict[str, bool] = {}
    for name, value in (m or {}).items():
        assert m is not None
        family = str(name).split(":", 1)[0]
        if family not in GATE_FAMILIES:
            f.problem_at(m.line_of(name), f.said(f"{key}.{name}", f"is not a gate; gates are {', '.join(GATE_FAMILIES)} (or FAMILY:NAME)"))
        elif not isinstance(value, bool):
            f.problem_at(m.line_of(name), f.said(f"{key}.{name}", "must be true or false"))
        else:
            out[str(name)] = value
    return out


def _gates(f: Fields | None) -> Gates:
    if f is None:
        return Gates()
    windows = Windows()
    wf = f.sub("windows")
    if wf is not None:
        tz = wf.str("timezone", default="UTC") or "UTC"
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only where windows are configured

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            wf.problem("timezone", f"is not a known time zone: {tz!r}")
            tz = "UTC"
        windows = Windows(timezone=tz, allow=wf.each("allow", _window), deny=wf.each("deny", _window))
        wf.done()
    gates = Gates(
        thresholds=f.named("thresholds", lambda sub: build(sub, THRESHOLD)),
        no_regression=f.named("no_regression", lambda sub: build(sub, TOLERANCE), empty=Tolerance),
        approvals=f.int("approvals", default=0, minimum=0) or 0,
        windows=windows,
        approvers=f.str_list("approvers"),
        overridable=_overridable(f, "overridable"),
    )
    f.done()  # a misspelt gate must not silently disappear
    return gates


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


# ---- plugins and retraining ----------------------------------------------------------------


def _plugin(f: Fields, *, name: str = "") -> PluginConfig:
    """A backend (its name is its key under ``backends``) or an environment's telemetry source."""
    kind = f.req_str("type")
    settings = YMap(f.line)  # the settings keep their lines, so the plugin's problems name them
    for key, value in f.data.items():
        if key != "type":
            settings[key] = value
            settings.key_lines[key] = f.line_of(key)
    f.seen.update(f.data.keys())  # settings are checked by the plugin that owns them (also by lint)
    return PluginConfig(name=name, type=kind, settings=settings, line=f.line)


def _kept(f: Fields, key: str) -> object:
    """A section kept as written, for the module that owns it to read strictly (and lint to check)."""
    f.seen.add(key)
    return f.data.get(key)


def _retrain(f: Fields | None) -> RetrainConfig:
    if f is None:
        return RetrainConfig()
    policy = f.sub("policy")
    retrain = RetrainConfig(
        backend=f.str("backend"),
        policy=RetrainPolicy() if policy is None else read(policy, POLICY),
        models=f.named("models", lambda sub: build(sub, POLICY)),
    )
    f.done()
    return retrain
