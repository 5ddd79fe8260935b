"""One MLflow model version as a version manifest: what MLflow 3 knows about it, and what mlrelease left there.

The sources, in the order they win (a later one fills only what an earlier one left):

* what mlrelease's own ``mlflow`` backend wrote on a version it registered
  (``mlrelease.metric.*``, ``mlrelease.author``, ``mlrelease.parent``,
  ``mlrelease.data.<role>``, ``mlrelease.code.*``): a version that went registry →
  MLflow → another registry keeps its metrics, author, parent and data;
* the MLflow 3 **logged model** the version was registered from (``models:/m-…``; MLflow
  3.17's version answers carry no ``model_id``, so it is read from the source): its
  metrics, which are the model's own;
* the version's **run**: the latest metric values, params, the user, the
  ``mlflow.source.*`` tags naming the code, and the data sets logged with
  ``mlflow.log_input`` — each becomes a data role (its ``mlflow.data.context``, else
  ``input``) naming the data set and its digest as the version.

A metric that is NaN or infinite cannot be gated on: it is left out and said. Names that
the registry's conventions refuse (a data set name, a role) are left out and said too:
the import records what is there, it never renames silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mlrelease.backends.mlflow import MARK_MODEL_ID, MARK_RUN, MARK_VERSION
from mlrelease.clients.mlflow import logged_model_id, tags_of
from mlrelease.interop import common
from mlrelease.registry import conventions as conv
from mlrelease.registry import names as safe_names
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.types import Config

_SOURCE_TAGS = {"repo": "mlflow.source.git.repoURL", "commit": "mlflow.source.git.commit", "entrypoint": "mlflow.source.name"}
_OURS = "mlrelease."


def when(millis: object) -> datetime:
    try:
        return common.utc(int(str(millis)) / 1000)
    except ValueError:
        return datetime.now(UTC).replace(microsecond=0)


def numbers(items: Any, where: str, notes: list[str]) -> dict[str, float]:
    """MLflow's ``[{key, value}]`` metrics as numbers; NaN and infinities are left out and noted."""
    out: dict[str, float] = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("key"), str) and item.get("value") is not None:
            try:
                value = float(item["value"])
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                out[item["key"]] = value
            else:
                notes.append(f"{where}: metric {item['key']} is {value!r} (NaN or infinite cannot be gated on): left out")
    return out


def manifest(
    *,
    source: str,
    model: str,
    version: str,
    number: str,
    mv: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    logged: Mapping[str, Any] | None,
    config: Config,
    skipped_metrics: set[str],
    notes: list[str],
) -> dict[str, Any]:
    """The manifest for MLflow version ``number`` of registered model ``source``; problems go to ``notes``."""
    where = f"{source} version {number}"
    info = (run or {}).get("info") or {}
    data = (run or {}).get("data") or {}
    run_tags = tags_of(data)
    ours = {k[len(_OURS) :]: v for k, v in tags_of(mv).items() if k.startswith(_OURS)}
    author = ours.get("author") or info.get("user_id") or mv.get("user_id") or run_tags.get("mlflow.user") or "unknown"
    doc: dict[str, Any] = {
        "model": model,
        "version": version,
        "created": format_timestamp(when(mv.get("creation_timestamp"))),
        "author": str(author),
    }
    if mv.get("description"):
        doc["description"] = str(mv["description"])
    if ours.get("parent"):
        doc["parent"] = ours["parent"]
    doc["artifact"] = {"uri": str(mv.get("source") or f"models:/{source}/{number}")}
    code = {k: ours.get(f"code.{k}") or run_tags.get(tag) for k, tag in _SOURCE_TAGS.items()}
    if any(code.values()):
        doc["code"] = {k: v for k, v in code.items() if v}
    datasets = _data(ours, run, where, config, notes)
    if datasets:
        doc["data"] = datasets
    params = {
        str(p["key"]): str(p.get("value", "")) for p in data.get("params") or [] if isinstance(p, dict) and isinstance(p.get("key"), str)
    }
    if params:
        doc["params"] = params
    mine = numbers([{"key": k[len("metric.") :], "value": v} for k, v in ours.items() if k.startswith("metric.")], where, notes)
    model_metrics = numbers(((logged or {}).get("data") or {}).get("metrics"), f"{where} (logged model)", notes)
    metrics = {**numbers(data.get("metrics"), f"{where} (run)", notes), **model_metrics, **mine}
    doc["metrics"] = common.known_metrics(metrics, config, skipped_metrics)
    tags = [f"{MARK_VERSION}{source}/{number}"]
    if mv.get("run_id"):
        tags.append(f"{MARK_RUN}{mv['run_id']}")
    model_id = mv.get("model_id") or logged_model_id(str(mv.get("source") or ""))
    if model_id:
        tags.append(f"{MARK_MODEL_ID}{model_id}")
    tags += [f"{k}={val}" for k, val in sorted(tags_of(mv).items()) if not k.startswith(("mlflow.", _OURS))]
    doc["tags"] = tags
    return doc


def _data(ours: Mapping[str, str], run: Mapping[str, Any] | None, where: str, config: Config, notes: list[str]) -> dict[str, Any]:
    """Data lineage: ``mlrelease.data.<role>`` tags first, else the run's ``log_input`` data sets."""
    found: dict[str, tuple[str, str]] = {}
    for key, value in ours.items():
        if key.startswith("data.") and "@" in value:
            dataset, _, ver = value.rpartition("@")
            found[key[len("data.") :]] = (dataset, ver)
    if not found:
        for item in ((run or {}).get("inputs") or {}).get("dataset_inputs") or []:
            ds = item.get("dataset") or {} if isinstance(item, dict) else {}
            role = tags_of(item).get("mlflow.data.context") or "input"
            if ds.get("name") and ds.get("digest") and role not in found:
                found[role] = (str(ds["name"]), str(ds["digest"]))
    out: dict[str, Any] = {}
    c = config.conventions
    for role, (dataset, ver) in sorted(found.items()):
        bad_role = safe_names.unsafe_reason(role)
        reason = (f"data role {role!r} {bad_role}" if bad_role else None) or conv.name_problem("dataset", dataset, c)
        reason = reason or conv.dataset_version_problem(ver, c)
        if reason:
            notes.append(f"{where}: data set {dataset}@{ver} ({role}) left out: {reason}")
            continue
        out[role] = {"dataset": dataset, "version": ver}
    return out
