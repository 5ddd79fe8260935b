"""``mlrelease import mlflow``: an MLflow model registry into manifests and release state, in one commit.

What is read (REST, read-only): registered models (name, description, tags, aliases —
from ``registered-models/get``, since search results carry no aliases), their versions
(``model-versions/search``), and for each new version its run (``runs/get``: latest
metric values, params, user, and the ``mlflow.source.*`` tags that name the code).

What is written, all in ONE commit with trailers (``Mlrelease-Action: import``,
``Mlrelease-Source: mlflow <tracking URI>``):

* ``models/<model>/model.yaml`` for a model the registry does not have yet (owner from
  the registered model's ``owner`` tag, else ``--owner``, else ``unknown``);
* one manifest per READY version. MLflow numbers versions 1, 2, 3...; the registry's
  version is ``--version-format`` with ``{n}`` (default ``{n}.0.0`` under semver, ``{n}``
  otherwise), and must pass the registry's version scheme. A version that mlrelease's
  own ``mlflow`` backend created (tag ``mlrelease.version``) keeps that version. The
  manifest remembers where it came from in its tags (``mlflow:<name>/<n>``,
  ``mlflow-run:<id>``), which is how the backend later moves aliases to *this* version
  instead of registering a copy;
* for each alias mapped to an environment (``--alias-map ALIAS=ENV``; by default the
  aliases the registry's ``mlflow`` backends use), the release state of that model
  there: desired, observed (Succeeded, backend reference = the MLflow version number)
  and live all name the aliased version.

Running it again imports only what is new: versions whose manifest exists and alias
states that already say the same are left alone, and when nothing is new no commit is
made. Metrics missing from the registry's metric catalogue are left out (lint would
refuse them) and listed, so they can be added to ``mlrelease.yaml`` first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.backends.mlflow import MARK_MODEL_ID, MARK_RUN, MARK_VERSION, VERSION_TAG, alias_naming, imported_marks
from mlrelease.backends.settings import Settings
from mlrelease.errors import ImportProblems, ManifestError, MlreleaseError, NotFound
from mlrelease.interop import common
from mlrelease.interop.common import Report, quoted
from mlrelease.interop.mlflow_api import MlflowApi, aliases_of, connection_from_env, safe_uri, tags_of
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import Config
from mlrelease.release import gitwrite, transaction
from mlrelease.release.transaction import Change

_SOURCE_TAGS = {"repo": "mlflow.source.git.repoURL", "commit": "mlflow.source.git.commit", "entrypoint": "mlflow.source.name"}
_DIGITS = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class Options:
    tracking_uri: str | None = None
    models: tuple[str, ...] = ()  # registered model names; empty: all of them
    alias_map: Mapping[str, str] | None = None  # alias → environment; None: from the registry's mlflow backends
    renames: Mapping[str, str] = field(default_factory=dict)  # registered name → model name
    version_format: str | None = None
    owner: str | None = None
    push: bool = False


@dataclass
class _Version:
    """One MLflow version, mapped: where its manifest goes, and the manifest when it is new."""

    model: str
    version: str
    number: str
    doc: dict[str, Any] | None = None  # None: the registry has it already


@dataclass
class _Model:
    source: str  # registered model name
    name: str  # model name here
    registered: dict[str, Any]
    versions: list[_Version] = field(default_factory=list)


def default_alias_map(config: Config, model: str) -> dict[str, str]:
    """alias → environment for ``model``, from the aliases the registry's own ``mlflow`` backends move."""
    out: dict[str, str] = {}
    for env in config.environments:
        plugin = config.backends.get(env.backend or "")
        if plugin is None or plugin.type != "mlflow":
            continue
        s = Settings(plugin.name, plugin.type, plugin.settings)
        naming = alias_naming(s)
        if s.problems:
            raise MlreleaseError("; ".join(str(p) for p in s.problems))
        out[naming.alias_for(env.name, model)] = env.name
    return out


def version_format(config: Config, given: str | None) -> str:
    fmt = given or ("{n}.0.0" if config.conventions.version_scheme == "semver" else "{n}")
    if "{n}" not in fmt or re.search(r"{(?!n})", fmt):
        raise MlreleaseError(f"--version-format must hold {{n}} (the MLflow version number) and no other field, not {fmt!r}")
    return fmt


def import_mlflow(registry_root: Path, opts: Options, environ: Mapping[str, str]) -> Report:
    started = time.monotonic()
    conn = connection_from_env(opts.tracking_uri, environ)
    report = Report(source=f"mlflow {safe_uri(conn.uri)}")
    with Registry(registry_root) as reg:
        config = reg.config
        problems = [
            f"--alias-map {quoted(alias)}={env}: no environment {quoted(env)} in mlrelease.yaml"
            for alias, env in (opts.alias_map or {}).items()
            if config.environment(env) is None
        ]
        fmt = version_format(config, opts.version_format)
        with MlflowApi(conn) as api:
            models = _read_models(api, opts, config, fmt, problems)
            if problems:
                raise ImportProblems(f"import from {report.source}", problems)
            _read_new_versions(api, reg, models, config, opts, report)
    t = transaction.target(
        registry_root, remote=_remote(config) if opts.push else None, branch=config.remote.branch if config.remote else None
    )
    who = gitwrite.identity(t.git_root)
    now = datetime.now(UTC).replace(microsecond=0)
    outcome: list[Report] = []

    def build(tip: Registry) -> Change | None:
        attempt = Report(source=report.source, skipped=list(report.skipped), warnings=list(report.warnings))
        outcome[:] = [attempt]
        files = _files(tip, models, who, now, opts, attempt)
        if not files:
            return None
        lines = [*(f"model {m}" for m in attempt.models), *(f"version {v}" for v in attempt.versions)]
        lines += [f"release {r}" for r in attempt.releases]
        subject = f"Import from MLflow: {len(attempt.versions)} version(s), {len(attempt.releases)} release state(s)"
        names = {m.name for m in models}
        fields = {"action": "import", "source": report.source, "actor": str(who), "model": names.pop() if len(names) == 1 else None}
        return Change(files=files, message=format_message(subject, fields, common.body(lines)))

    committed = transaction.apply(t, build, author=who, date=now)
    final = outcome[-1] if outcome else report
    if committed.commit:
        final.commits.append(committed.commit)
    final.pushed = committed.pushed
    final.seconds = time.monotonic() - started
    return final


def _remote(config: Config) -> str:
    return config.remote.name if config.remote else "origin"


# ---- reading MLflow -------------------------------------------------------------------------


def _read_models(api: MlflowApi, opts: Options, config: Config, fmt: str, problems: list[str]) -> list[_Model]:
    """Registered models and their versions, every name mapped and checked (problems collected)."""
    if opts.models:
        registered = []
        for name in opts.models:
            rm = api.registered_model(name)
            if rm is None:
                raise NotFound(f"MLflow at {api.label} has no registered model {quoted(name)}")
            registered.append(rm)
    else:
        registered = [rm for rm in (api.registered_model(str(m.get("name"))) for m in api.registered_models()) if rm]
    models: list[_Model] = []
    owners: dict[str, str] = {}
    for rm in registered:
        source = str(rm.get("name") or "")
        name = common.model_name(source, opts.renames, config, problems, hint="--rename")
        if name in owners:
            problems.append(f"registered models {quoted(owners[name])} and {quoted(source)} would both become model {quoted(name)}")
        owners[name] = source
        model = _Model(source=source, name=name, registered=rm)
        for mv in api.versions(source):
            if mv.get("status", "READY") != "READY":
                continue  # PENDING or FAILED_REGISTRATION: there is no artifact to release
            number = str(mv.get("version"))
            ours = tags_of(mv).get(VERSION_TAG)
            version = ours or fmt.replace("{n}", number)
            if not _DIGITS.fullmatch(number):
                problems.append(f"{quoted(source)} version {quoted(number)} is not an MLflow version number")
                continue
            reason = conv.version_problem(version, config.conventions)
            if reason:
                problems.append(f"{quoted(source)} version {number}: {reason}; choose another mapping with --version-format")
                continue
            if any(v.version == version for v in model.versions):
                continue  # a second MLflow version for the same version (tagged twice): the first one stands
            model.versions.append(_Version(model=name, version=version, number=number, doc=mv))
        models.append(model)
    return models


def _read_new_versions(api: MlflowApi, reg: Registry, models: list[_Model], config: Config, opts: Options, report: Report) -> None:
    """Turn each version the registry lacks into a manifest (its run is read only then)."""
    problems: list[str] = []
    skipped_metrics: set[str] = set()
    for model in models:
        for v in model.versions:
            path = layout.version_path(v.model, v.version)
            mv = v.doc or {}
            if reg.source.exists(path):
                v.doc = None
                problem = _clash(reg, model.source, v, mv)
                if problem:
                    problems.append(problem)
                continue
            run = api.run(str(mv["run_id"])) if mv.get("run_id") else None
            v.doc = _manifest(model, v, mv, run, config, skipped_metrics)
            report.warnings += common.lint_warnings(v.doc, path, config)
    if problems:
        raise ImportProblems(f"import from {report.source}", problems)
    if skipped_metrics:
        names = ", ".join(sorted(skipped_metrics)[:20])
        report.warnings.append(
            f"metrics not in the metric catalogue were left out (add them to mlrelease.yaml metrics first to keep them): {names}"
        )


def _clash(reg: Registry, source: str, v: _Version, mv: Mapping[str, Any]) -> str | None:
    """Why an existing manifest at this version's path is not this MLflow version, or None."""
    path = layout.version_path(v.model, v.version)
    try:
        existing = reg.version(v.model, v.version)
    except ManifestError as exc:
        return str(exc)
    marks = imported_marks(existing.tags)
    if marks.get("name") == source and marks.get("version") == v.number:
        return None  # imported before
    if tags_of(mv).get(VERSION_TAG) == v.version:
        return None  # created in MLflow by mlrelease's backend from this very manifest
    return f"{path} exists and is not {quoted(source)} version {v.number} from MLflow; map versions elsewhere with --version-format"


def _numbers(items: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            try:
                value = float(item.get("value"))
            except (TypeError, ValueError):
                continue
            if value == value and abs(value) != float("inf"):  # NaN and infinities cannot be gated on
                out[item["key"]] = value
    return out


def _when(millis: object) -> datetime:
    try:
        return common.utc(int(str(millis)) / 1000)
    except ValueError:
        return datetime.now(UTC).replace(microsecond=0)


def _manifest(
    model: _Model, v: _Version, mv: Mapping[str, Any], run: Mapping[str, Any] | None, config: Config, skipped: set[str]
) -> dict[str, Any]:
    info = (run or {}).get("info") or {}
    data = (run or {}).get("data") or {}
    run_tags = tags_of(data)
    author = str(info.get("user_id") or mv.get("user_id") or run_tags.get("mlflow.user") or "unknown")
    doc: dict[str, Any] = {
        "model": v.model,
        "version": v.version,
        "created": format_timestamp(_when(mv.get("creation_timestamp"))),
        "author": author,
    }
    if mv.get("description"):
        doc["description"] = str(mv["description"])
    doc["artifact"] = {"uri": str(mv.get("source") or f"models:/{model.source}/{v.number}")}
    code = {k: run_tags[tag] for k, tag in _SOURCE_TAGS.items() if run_tags.get(tag)}
    if code:
        doc["code"] = code
    params = {
        str(p["key"]): str(p.get("value", "")) for p in data.get("params") or [] if isinstance(p, dict) and isinstance(p.get("key"), str)
    }
    if params:
        doc["params"] = params
    # MLflow 3 logged-model metrics first; the run's latest values fill in the rest.
    metrics = {**_numbers(data.get("metrics")), **_numbers(mv.get("model_metrics"))}
    doc["metrics"] = common.known_metrics(metrics, config, skipped)
    tags = [f"{MARK_VERSION}{model.source}/{v.number}"]
    if mv.get("run_id"):
        tags.append(f"{MARK_RUN}{mv['run_id']}")
    if mv.get("model_id"):
        tags.append(f"{MARK_MODEL_ID}{mv['model_id']}")
    tags += [f"{k}={val}" for k, val in sorted(tags_of(mv).items()) if not k.startswith(("mlflow.", "mlrelease."))]
    doc["tags"] = tags
    return doc


# ---- the commit --------------------------------------------------------------------------


def _files(
    tip: Registry, models: list[_Model], who: gitwrite.Identity, now: datetime, opts: Options, report: Report
) -> dict[str, bytes | None]:
    """Every file that is new or changed at the branch tip (re-checked on every retry)."""
    files: dict[str, bytes | None] = {}
    for model in models:
        model_path = layout.model_path(model.name)
        if not tip.source.exists(model_path):
            tags = tags_of(model.registered)
            doc: dict[str, Any] = {"name": model.name, "owner": tags.get("owner") or opts.owner or "unknown"}
            if model.registered.get("description"):
                doc["description"] = str(model.registered["description"])
            files[model_path] = common.dump_model(doc, model_path)
            report.models.append(model.name)
        present: dict[str, str] = {}  # MLflow number → version here, for the aliases
        for v in model.versions:
            path = layout.version_path(v.model, v.version)
            present[v.number] = v.version
            if v.doc is None or tip.source.exists(path):
                report.unchanged += 1
                continue
            files[path] = common.dump_version(v.doc, path)
            report.versions.append(f"{v.model}@{v.version}")
        alias_map = opts.alias_map if opts.alias_map is not None else default_alias_map(tip.config, model.name)
        _alias_states(tip, model, present, alias_map, who, now, files, report)
    return files


def _alias_states(
    tip: Registry,
    model: _Model,
    present: Mapping[str, str],
    alias_map: Mapping[str, str],
    who: gitwrite.Identity,
    now: datetime,
    files: dict[str, bytes | None],
    report: Report,
) -> None:
    for alias, number in sorted(aliases_of(model.registered).items()):
        env = alias_map.get(alias)
        if env is None:
            continue
        version = present.get(number)
        if version is None:
            report.skipped.append(f"alias {alias} of {model.source}: version {number} is not READY or not importable")
            continue
        path = layout.release_path(env, model.name)
        old = tip.release(env, model.name)
        if old is not None and old.live is not None and old.live.version == version:
            report.unchanged += 1
            continue
        if old is not None and old.pending:
            report.skipped.append(f"{path}: a promotion is pending there; alias {alias} ({version}) not recorded")
            continue
        environment = tip.config.environment(env)
        plugin = tip.config.backends.get(environment.backend or "") if environment else None
        state = common.imported_state(
            old,
            model=model.name,
            environment=env,
            version=version,
            promotion_id=f"mlflow-{alias}-{number}",
            action="promote",
            actor=str(who),
            at=now,
            reason=f"imported from MLflow: alias {alias} of {model.source} points at version {number}",
            backend=plugin.name if plugin is not None and plugin.type == "mlflow" else "mlflow",
            backend_ref=number,
        )
        files[path] = common.checked_release(state, path)
        report.releases.append(f"{env}/{model.name}")
