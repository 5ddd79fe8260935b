"""``mlrelease import mlflow``: an MLflow model registry into manifests and release state, in one commit.

What is read (REST, read-only, batched and fetched by a bounded pool of keep-alive
connections — :mod:`mlrelease.clients.mlflow`): registered models with their tags and
aliases, their versions (``name IN`` searches), and for the new versions their runs
(``run_id IN`` searches: latest metric values, params, user, ``mlflow.source.*`` tags,
``log_input`` data sets) and MLflow 3 logged models (their metrics); see
:mod:`~mlrelease.interop.mlflow_manifest` for how a version becomes a manifest.

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
* for each alias mapped to an environment (``--alias-map ALIAS=ENV``; by default an
  alias named like an environment, and the aliases the registry's ``mlflow`` backends
  move), the release state of that model there: desired, observed (Succeeded, backend
  reference = the MLflow version number) and live all name the aliased version. Every
  other alias is listed as skipped, with the reason and the flag that maps it.

Ownership is the GTO import's (:func:`mlrelease.interop.common.ownership_problem`): a
release state mlrelease owns, or one that is pinned or pending, is never changed; the
import stops and names it.

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
from functools import partial
from pathlib import Path
from typing import Any

from mlrelease.backends.mlflow import VERSION_TAG, alias_naming, imported_marks
from mlrelease.backends.settings import Settings
from mlrelease.clients.mlflow import MlflowApi, aliases_of, logged_model_id, tags_of
from mlrelease.clients.mlflow_connection import connection_from_env, safe_uri
from mlrelease.errors import ImportProblems, ManifestError, MlreleaseError, NotFound
from mlrelease.gitstore import gitwrite, transaction
from mlrelease.gitstore.transaction import Change
from mlrelease.interop import common
from mlrelease.interop.common import Report, quoted
from mlrelease.interop.mlflow_manifest import manifest
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import Config

_DIGITS = re.compile(r"[1-9][0-9]*")
_PREFIX = "mlflow-"  # promotion ids of imported alias states


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
    data: bytes | None = None  # the manifest's bytes, checked once


@dataclass
class _Model:
    source: str  # registered model name
    name: str  # model name here
    registered: dict[str, Any]
    versions: list[_Version] = field(default_factory=list)


def default_alias_map(config: Config, model: str) -> dict[str, str]:
    """alias → environment for ``model``: aliases named like an environment, then those the registry's ``mlflow`` backends move."""
    out: dict[str, str] = {env.name: env.name for env in config.environments}
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
            models = _read_models(api, opts, config, fmt, problems, report)
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


def _read_models(api: MlflowApi, opts: Options, config: Config, fmt: str, problems: list[str], report: Report) -> list[_Model]:
    """Registered models and their versions, every name mapped and checked (problems collected)."""
    # The experiments are read now, beside the models, so the run searches later need not wait for them.
    if opts.models:
        *registered, _ = api.each(lambda read: read(), [*(partial(api.registered_model, n) for n in opts.models), api.experiment_ids])
        for name, rm in zip(opts.models, registered, strict=True):
            if rm is None:
                raise NotFound(f"MLflow at {api.label} has no registered model {quoted(name)}")
    else:
        registered, _ = api.each(lambda read: read(), [api.registered_models, api.experiment_ids])
    found = api.versions_of(str(rm.get("name") or "") for rm in registered if rm)
    models: list[_Model] = []
    owners: dict[str, str] = {}
    for rm in registered:
        assert rm is not None
        source = str(rm.get("name") or "")
        ready = [mv for mv in found.get(source, []) if mv.get("status", "READY") == "READY"]  # PENDING/FAILED: no artifact
        if not ready:
            report.skipped.append(f"registered model {quoted(source)}: no READY version, nothing to import")
            continue
        name = common.model_name(source, opts.renames, config, problems, hint="--rename")
        if name in owners:
            problems.append(f"registered models {quoted(owners[name])} and {quoted(source)} would both become model {quoted(name)}")
        owners[name] = source
        model = _Model(source=source, name=name, registered=rm)
        for mv in ready:
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
    """Turn each version the registry lacks into a manifest (runs and logged models are read only for those, in batches)."""
    problems: list[str] = []
    new: list[tuple[_Model, _Version]] = []
    for model in models:
        for v in model.versions:
            if reg.source.exists(layout.version_path(v.model, v.version)):
                problem = _clash(reg, model.source, v, v.doc or {})
                v.doc = None
                if problem:
                    problems.append(problem)
            else:
                new.append((model, v))
    if problems:
        raise ImportProblems(f"import from {report.source}", problems)
    run_ids = [str(v.doc["run_id"]) for _m, v in new if v.doc and v.doc.get("run_id")]
    model_ids = [m for _m, v in new if v.doc and (m := logged_model_id(str(v.doc.get("source") or "")))]
    runs, logged = api.each(lambda read: read(), [lambda: api.runs(run_ids), lambda: api.logged_models(model_ids)])  # at once
    skipped_metrics: set[str] = set()
    for model, v in new:
        mv = v.doc or {}
        v.doc = manifest(
            source=model.source,
            model=v.model,
            version=v.version,
            number=v.number,
            mv=mv,
            run=runs.get(str(mv.get("run_id"))) if mv.get("run_id") else None,
            logged=logged.get(logged_model_id(str(mv.get("source") or "")) or ""),
            config=config,
            skipped_metrics=skipped_metrics,
            notes=report.warnings,
        )
    _parents(reg, models, report)
    for _model, v in new:
        v.data, warnings = common.checked_version(v.doc or {}, layout.version_path(v.model, v.version), config)
        report.warnings += warnings
    if skipped_metrics:
        names = ", ".join(sorted(skipped_metrics)[:20])
        report.warnings.append(
            f"metrics not in the metric catalogue were left out (add them to mlrelease.yaml metrics first to keep them): {names}"
        )


def _parents(reg: Registry, models: list[_Model], report: Report) -> None:
    """A parent that will not be in the registry is left out (lint refuses a parent that does not exist), and said."""
    for model in models:
        here = {v.version for v in model.versions} | set(reg.version_names(model.name) if model.name in reg.model_names() else ())
        for v in model.versions:
            parent = (v.doc or {}).get("parent")
            if parent and parent not in here:
                del v.doc["parent"]  # type: ignore[union-attr]
                report.warnings.append(f"{model.name}@{v.version}: parent {parent} is not in this registry: left out")


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


# ---- the commit --------------------------------------------------------------------------


def _files(
    tip: Registry, models: list[_Model], who: gitwrite.Identity, now: datetime, opts: Options, report: Report
) -> dict[str, bytes | None]:
    """Every file that is new or changed at the branch tip (re-checked on every retry)."""
    files: dict[str, bytes | None] = {}
    problems: list[str] = []
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
            files[path] = v.data or common.dump_version(v.doc, path)
            report.versions.append(f"{v.model}@{v.version}")
        alias_map = opts.alias_map if opts.alias_map is not None else default_alias_map(tip.config, model.name)
        _alias_states(tip, model, present, alias_map, who, now, files, report, problems)
    if problems:
        raise ImportProblems(f"import from {report.source}", problems)
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
    problems: list[str],
) -> None:
    for alias, number in sorted(aliases_of(model.registered).items()):
        env = alias_map.get(alias)
        if env is None:
            report.skipped.append(
                f"alias {alias} of {model.source} (version {number}): maps to no environment "
                f"({', '.join(tip.config.environment_names)}); map it with --alias-map {alias}=ENV"
            )
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
        reason = common.ownership_problem(old, _PREFIX, path, "MLflow")
        if reason:
            problems.append(f"{reason}; alias {alias} of {model.source} ({version}) would change it")
            continue
        environment = tip.config.environment(env)
        plugin = tip.config.backends.get(environment.backend or "") if environment else None
        state = common.imported_state(
            old,
            model=model.name,
            environment=env,
            version=version,
            promotion_id=f"{_PREFIX}{alias}-{number}",
            action="promote",
            actor=str(who),
            at=now,
            reason=f"imported from MLflow: alias {alias} of {model.source} points at version {number}",
            backend=plugin.name if plugin is not None and plugin.type == "mlflow" else "mlflow",
            backend_ref=number,
        )
        files[path] = common.checked_release(state, path)
        report.releases.append(f"{env}/{model.name}")
