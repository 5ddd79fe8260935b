"""What a pipeline publishes besides model versions: data set manifests and a model's own record.

``mlrelease dataset register`` writes ``datasets/NAME/VERSION.yaml`` and ``mlrelease model``
sets what ``models/NAME/model.yaml`` says (owner, description, task, tags, headline,
consumers), so a pipeline never writes YAML or runs git itself. Both follow
:mod:`mlrelease.release.register`: the file is built, parsed back and checked by the
same rules as ``mlrelease lint`` (:func:`mlrelease.registry.lint.check_file`) against the
registry at the branch tip, inside the transaction's builder, so the checks re-run on
every retry, and one commit with trailers is written (pushed with ``--push``).

A data set version, like a model version, is immutable once published: registering it
again is refused. ``model`` edits in place and keeps every key it was not asked to
change, in the order written; asking for what the file already says writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.errors import ManifestError, MlreleaseError, NotFound, UsageError
from mlrelease.gitstore import gitwrite, transaction
from mlrelease.gitstore.transaction import Change, Committed
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import format_timestamp, read_file
from mlrelease.registry.lint import Index, check_file
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.parse import CONSUMER, parse_dataset, parse_model
from mlrelease.registry.shape import read
from mlrelease.registry.trailers import format_message
from mlrelease.release.register import check_digest, read_mapping


@dataclass(frozen=True)
class DatasetRequest:
    name: str
    version: str
    uri: str | None = None
    digest: str | None = None  # sha256:HEX
    rows: int | None = None
    update_frequency: str | None = None
    description: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # column → type
    profile: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelChange:
    """What to set on a model; None (or empty for the lists) leaves it as it is."""

    name: str
    owner: str | None = None
    description: str | None = None
    task: str | None = None
    tags: tuple[str, ...] | None = None
    headline: tuple[str, ...] | None = None
    consumers: list[dict[str, Any]] | None = None  # the whole list (--consumers FILE)
    add_consumers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, environments): added or updated
    remove_consumers: tuple[str, ...] = ()

    def empty(self) -> bool:
        values = (self.owner, self.description, self.task, self.tags, self.headline, self.consumers)
        return all(v is None for v in values) and not self.add_consumers and not self.remove_consumers


@dataclass(frozen=True)
class Published:
    path: str
    created: bool  # a new file (a model created, a data set version published)
    committed: Committed  # commit None: nothing to change


# ---- reading what the pipeline hands over ---------------------------------------------------


def read_columns(path: Path | str, data: bytes | None = None) -> dict[str, str]:
    """A columns file: one mapping of column name → type name."""
    tree = read_mapping(path, "columns file", data, of=" of column name to type")
    out: dict[str, str] = {}
    for name, value in tree.items():
        if not isinstance(value, str) or not value.strip():
            raise MlreleaseError(f"{path}:{tree.line_of(name)}: column {name!r} must have a type name, e.g. float")
        out[name] = value
    return out


def read_consumers(path: Path | str, data: bytes | None = None) -> list[dict[str, Any]]:
    """A consumers file: a list of ``{name, environments, contact, description}``, checked here."""
    label = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise MlreleaseError(f"{label}: cannot read: {exc.strerror or exc}") from None
    tree = yamlsafe.load(data, label)
    if not isinstance(tree, list):
        raise MlreleaseError(f"{label}: a consumers file must be a list of {{name, environments, contact, description}}")
    holder = yamlsafe.YMap(getattr(tree, "line", 1))
    holder["consumers"] = tree
    read_file(holder, label, lambda f: f.each("consumers", lambda sub: read(sub, CONSUMER)))
    plain: list[dict[str, Any]] = json.loads(json.dumps(tree))
    return plain


def parse_consumer(text: str) -> tuple[str, tuple[str, ...]]:
    """``NAME`` (every environment) or ``NAME@ENV,ENV``."""
    name, sep, envs = text.partition("@")
    environments = tuple(e.strip() for e in envs.split(",") if e.strip()) if sep else ()
    if not name.strip() or (sep and not environments):
        raise UsageError(f"--consumer expects NAME or NAME@ENV[,ENV...], got {text!r}")
    return name.strip(), environments


# ---- data sets ------------------------------------------------------------------------------------


def dataset_manifest(req: DatasetRequest, created: datetime) -> dict[str, Any]:
    """The data set manifest as plain data, in the documented key order."""
    doc: dict[str, Any] = {"name": req.name, "version": req.version, "created": format_timestamp(created)}
    digest = req.digest.lower() if req.digest else None
    optional: dict[str, object] = {"uri": req.uri, "digest": digest, "rows": req.rows}
    optional |= {"update_frequency": req.update_frequency, "description": req.description}
    doc.update((k, v) for k, v in optional.items() if v is not None)
    if req.columns:
        doc["columns"] = dict(req.columns)
    if req.profile is not None:
        doc["profile"] = req.profile
    return doc


def _dataset_builder(req: DatasetRequest, created: datetime, actor: str) -> Callable[[Registry], Change]:
    def build(reg: Registry) -> Change:
        c = reg.config.conventions
        path = layout.dataset_path(req.name, req.version)
        for problem in (conv.name_problem("dataset", req.name, c), conv.dataset_version_problem(req.version, c)):
            if problem:
                raise MlreleaseError(f"{path}: not registered: {problem}")
        if reg.source.exists(path):
            raise MlreleaseError(f"{path}: data set {req.name} {req.version} is already registered; data set versions are immutable")
        data = yamlsafe.dump(dataset_manifest(req, created)).encode("utf-8")
        _checked(reg, path, parse_dataset(yamlsafe.load(data, path), path))
        fields = {"action": "register", "dataset": req.name, "version": req.version, "actor": actor}
        return Change(files={path: data}, message=format_message(f"Register data set {req.name} {req.version}", fields))

    return build


def register_dataset(registry_root: Path, req: DatasetRequest, *, remote: str | None = None, branch: str | None = None) -> Published:
    for what, name in (("data set", req.name), ("data set version", req.version)):
        reason = unsafe_reason(name)
        if reason:
            raise MlreleaseError(f"{what} name {name!r} {reason}")
    if req.digest is not None:
        check_digest(req.digest, "--digest")
    if req.rows is not None and req.rows < 0:
        raise MlreleaseError("--rows must be 0 or more")
    created = datetime.now(UTC).replace(microsecond=0)
    committed = _commit(registry_root, lambda who: _dataset_builder(req, created, who), remote, branch, created)
    return Published(layout.dataset_path(req.name, req.version), True, committed)


# ---- a model's own record ---------------------------------------------------------------------------


def changed_model(current: dict[str, Any] | None, change: ModelChange) -> dict[str, Any]:
    """``model.yaml`` as plain data with ``change`` applied; keys not named keep their place."""
    doc: dict[str, Any] = dict(current) if current is not None else {"name": change.name}
    for key in ("owner", "description", "task"):
        value = getattr(change, key)
        if value is not None:
            if value.strip():
                doc[key] = value.strip()
            else:
                doc.pop(key, None)  # --description "" removes it
    for key in ("tags", "headline"):
        values = getattr(change, key)
        if values is not None:
            if values:
                doc[key] = list(dict.fromkeys(values))
            else:
                doc.pop(key, None)
    consumers: list[dict[str, Any]] = list(change.consumers if change.consumers is not None else doc.get("consumers") or [])
    for name in change.remove_consumers:
        if not any(c.get("name") == name for c in consumers):
            known = ", ".join(str(c.get("name")) for c in consumers) or "none"
            raise MlreleaseError(f"{layout.model_path(change.name)}: no consumer {name!r} to remove (consumers: {known})")
        consumers = [c for c in consumers if c.get("name") != name]
    for name, environments in change.add_consumers:
        entry = next((c for c in consumers if c.get("name") == name), None)
        if entry is None:
            entry = {"name": name}
            consumers.append(entry)
        if environments:
            entry["environments"] = list(environments)
        else:
            entry.pop("environments", None)  # NAME alone: it calls the model everywhere
    if consumers:
        doc["consumers"] = consumers
    else:
        doc.pop("consumers", None)
    return doc


def _model_builder(change: ModelChange, actor: str, created: list[bool]) -> Callable[[Registry], Change | None]:
    def build(reg: Registry) -> Change | None:
        path = layout.model_path(change.name)
        problem = conv.name_problem("model", change.name, reg.config.conventions)
        if problem:
            raise MlreleaseError(f"{path}: {problem}")
        current: dict[str, Any] | None = None
        if reg.source.exists(path):
            reg.model(change.name)  # a broken model.yaml is reported, not built upon
            current = json.loads(json.dumps(yamlsafe.load(reg.source.read(path), path)))
        elif change.owner is None or not change.owner.strip():
            raise NotFound(f"{path}: no model {change.name!r}; give --owner OWNER to create it")
        created[:] = [current is None]
        doc = changed_model(current, change)
        if doc == current:
            return None  # already says so: nothing to write
        data = yamlsafe.dump(doc).encode("utf-8")
        _checked(reg, path, parse_model(yamlsafe.load(data, path), path))
        what = sorted(k for k in doc.keys() | (current or {}).keys() if doc.get(k) != (current or {}).get(k))
        subject = f"Create model {change.name}" if current is None else f"Model {change.name}: set {', '.join(what)}"
        fields = {"action": "model", "model": change.name, "actor": actor}
        return Change(files={path: data}, message=format_message(subject, fields))

    return build


def set_model(registry_root: Path, change: ModelChange, *, remote: str | None = None, branch: str | None = None) -> Published:
    if change.empty():
        raise UsageError("nothing to set: give --owner, --description, --task, --tag, --headline or a --consumer option")
    reason = unsafe_reason(change.name)
    if reason:
        raise MlreleaseError(f"model name {change.name!r} {reason}")
    created: list[bool] = [False]
    committed = _commit(registry_root, lambda who: _model_builder(change, who, created), remote, branch, None)
    return Published(layout.model_path(change.name), created[0], committed)


# ---- shared --------------------------------------------------------------------------------------------


def _checked(reg: Registry, path: str, parsed: object) -> None:
    """Refuse what ``mlrelease lint`` would report on the file (conventions, names, references)."""
    problems = check_file(parsed, path, reg.config, Index.from_registry(reg))
    if problems:
        raise ManifestError(problems)


def _commit(
    registry_root: Path,
    make: Callable[[str], Callable[[Registry], Change | None]],
    remote: str | None,
    branch: str | None,
    date: datetime | None,
) -> Committed:
    t = transaction.target(registry_root, remote=remote, branch=branch)
    who = gitwrite.identity(t.git_root)
    return transaction.apply(t, make(str(who)), author=who, date=date)
