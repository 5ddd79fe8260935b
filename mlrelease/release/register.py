"""Register a model version: what a training pipeline calls when a model is trained.

The manifest is built from what the pipeline knows (metrics file, artifact, data sets,
params), checked by the same rules as ``mlrelease lint`` (:func:`check_version`) against
the registry *as it is at the branch tip*, and committed in one commit through
:func:`mlrelease.gitstore.transaction.apply`. Because the checks run inside the builder,
they re-run on every retry: if someone registers the same version first, this one is
refused, never overwritten — a released manifest is immutable.

A model must exist before its versions do (``models/<model>/model.yaml`` names its
owner). ``create_model_owner`` creates it in the same commit when it is missing, so a
pipeline's first run needs no separate step; when the model exists it is left as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.errors import MlreleaseError, NotFound, UsageError
from mlrelease.gitstore import gitwrite, transaction
from mlrelease.gitstore.transaction import Change, Committed
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import MAX_WHOLE, describe, finite, format_timestamp, read_file
from mlrelease.registry.lint import Index, check_version
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import split_ref, unsafe_reason
from mlrelease.registry.parse import parse_model, parse_version
from mlrelease.registry.profile import profile_fields
from mlrelease.registry.trailers import format_message

Scalar = str | int | float | bool
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)?\.[0-9]+([eE][-+]?[0-9]+)?|-?(0|[1-9][0-9]*)[eE][-+]?[0-9]+")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Request:
    """Everything known about the new version; names are checked when it is registered."""

    model: str
    version: str
    metrics: dict[str, float]  # whole numbers stay int (a row count is not 1.825e+07)
    artifact_uri: str
    sha256: str | None = None
    data: dict[str, tuple[str, str]] = field(default_factory=dict)  # role → (dataset, version)
    data_rows: dict[str, int] = field(default_factory=dict)  # role → rows used
    data_digests: dict[str, str] = field(default_factory=dict)  # role → sha256:HEX of the data used
    parent: str | None = None
    params: dict[str, Scalar] = field(default_factory=dict)
    image: str | None = None  # REF, or REF@sha256:DIGEST
    author: str | None = None  # default: the git identity
    description: str | None = None
    code_repo: str | None = None
    code_commit: str | None = None
    entrypoint: str | None = None
    artifact_format: str | None = None  # onnx, pickle, …
    artifact_bytes: int | None = None
    profile: dict[str, Any] | None = None  # the validation data's feature distributions (read_profile_file)
    tags: tuple[str, ...] = ()
    create_model_owner: str | None = None


@dataclass(frozen=True)
class Registered:
    model: str
    version: str
    path: str
    created_model: bool
    committed: Committed


# ---- reading what the pipeline hands over ---------------------------------------------------


def read_mapping(path: Path | str, what: str, data: bytes | None = None, *, of: str = "") -> yamlsafe.YMap:
    """A YAML or JSON file holding one mapping (JSON is YAML); ``-`` is read by the caller."""
    label = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise MlreleaseError(f"{label}: no such {what}") from None
        except OSError as exc:
            raise MlreleaseError(f"{label}: cannot read: {exc.strerror}") from None
    tree = yamlsafe.load(data, label)
    if not isinstance(tree, yamlsafe.YMap):
        raise MlreleaseError(f"{label}: a {what} must be a mapping{of}, not {describe(tree)}")
    return tree


def read_metrics(path: Path | str, data: bytes | None = None) -> dict[str, float]:
    """A metrics file: one YAML or JSON mapping of metric name → number; whole numbers stay whole."""
    label = str(path)
    tree = read_mapping(path, "metrics file", data, of=" of metric name to number")
    if not tree:
        raise MlreleaseError(f"{label}: has no metrics")
    out: dict[str, float] = {}
    for name, value in tree.items():
        number = finite(value)  # not float(): a 401-digit whole number would overflow
        if number is None:
            raise MlreleaseError(f"{label}:{tree.line_of(name)}: metric {name!r} must be a number, not {describe(value)}")
        out[name] = value if isinstance(value, int) and abs(value) <= MAX_WHOLE else number  # whole numbers stay whole
    return out


def read_profile_file(path: Path | str, data: bytes | None = None) -> dict[str, Any]:
    """A profile file (``{rows, features: {NAME: {type, edges, fractions, …}}}``), checked here so
    its problems name the file and its lines, then kept as plain data for the manifest."""
    label = str(path)
    tree = read_mapping(path, "profile file", data)
    read_file(tree, label, profile_fields)
    plain: dict[str, Any] = json.loads(json.dumps(tree))
    return plain


def parse_role_value(text: str, flag: str, example: str) -> tuple[str, str]:
    """``KEY=VALUE`` of --data-rows, --data-digest, --column; ``example`` shows the form."""
    role, sep, value = text.partition("=")
    if not sep or not role.strip() or not value.strip():
        raise UsageError(f"{flag} expects {example}, got {text!r}")
    return role.strip(), value.strip()


def parse_rows(text: str) -> tuple[str, int]:
    role, value = parse_role_value(text, "--data-rows", "ROLE=ROWS (e.g. train=18250000)")
    if not value.isdigit():
        raise UsageError(f"--data-rows {role}: rows must be a whole number, got {value!r}")
    return role, int(value)


def check_digest(digest: str, what: str) -> str:
    """``sha256:`` and 64 hex digits (upper-case hex is accepted and written lower-case)."""
    if not _DIGEST.fullmatch(digest.lower()):
        raise MlreleaseError(f"{what} {digest!r} must be sha256: and 64 hex digits")
    return digest.lower()


def param_value(text: str) -> Scalar:
    """``6`` → 6, ``0.1`` → 0.1, ``true`` → True, anything else stays text (``010``, ``1e-3x``)."""
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_param(text: str) -> tuple[str, Scalar]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--param expects KEY=VALUE, got {text!r}")
    return key.strip(), param_value(value)


def parse_data(text: str) -> tuple[str, tuple[str, str]]:
    role, sep, ref = text.partition("=")
    if not sep or not role.strip():
        raise UsageError(f"--data expects ROLE=DATASET@VERSION (e.g. train=transactions@2026.01), got {text!r}")
    reason = unsafe_reason(role.strip())
    if reason:
        raise MlreleaseError(f"--data role {role.strip()!r} {reason}")
    return role.strip(), split_ref(ref, "ROLE=DATASET@VERSION")


def split_image(text: str) -> tuple[str, str | None]:
    """``registry/ml/fraud:1.4.0@sha256:ab..`` → (``registry/ml/fraud:1.4.0``, ``sha256:ab..``)."""
    ref, sep, digest = text.partition("@")
    if not sep:
        return text, None
    if not _DIGEST.fullmatch(digest):
        raise MlreleaseError(f"--image digest {digest!r} must be sha256: and 64 lower-case hex digits")
    return ref, digest


# ---- the manifest ------------------------------------------------------------------------------


def build_manifest(req: Request, author: str, created: datetime) -> dict[str, Any]:
    """The version manifest as plain data, in the documented key order."""
    doc: dict[str, Any] = {
        "model": req.model,
        "version": req.version,
        "created": format_timestamp(created),
        "author": author,
    }
    if req.description:
        doc["description"] = req.description
    if req.parent:
        doc["parent"] = req.parent
    artifact: dict[str, Any] = {"uri": req.artifact_uri}
    if req.sha256:
        artifact["sha256"] = req.sha256.lower()
    if req.artifact_format:
        artifact["format"] = req.artifact_format
    if req.artifact_bytes is not None:
        artifact["bytes"] = req.artifact_bytes
    doc["artifact"] = artifact
    if req.image:
        ref, digest = split_image(req.image)
        doc["image"] = {"ref": ref, **({"digest": digest} if digest else {})}
    code = {k: v for k, v in (("repo", req.code_repo), ("commit", req.code_commit), ("entrypoint", req.entrypoint)) if v}
    if code:
        doc["code"] = code
    if req.data:
        doc["data"] = {role: _data_ref(req, role, ds, ver) for role, (ds, ver) in req.data.items()}
    if req.params:
        doc["params"] = dict(req.params)
    doc["metrics"] = dict(req.metrics)
    if req.profile is not None:
        doc["profile"] = req.profile
    if req.tags:
        doc["tags"] = list(req.tags)
    return doc


def _data_ref(req: Request, role: str, dataset: str, version: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"dataset": dataset, "version": version}
    if role in req.data_rows:
        ref["rows"] = req.data_rows[role]
    if role in req.data_digests:
        ref["digest"] = req.data_digests[role].lower()
    return ref


def _precheck(req: Request) -> None:
    """Input problems that need no registry: refused before git is touched."""
    for what, name in (("model", req.model), ("version", req.version), ("parent version", req.parent)):
        reason = unsafe_reason(name) if name is not None else None
        if reason:
            raise MlreleaseError(f"{what} name {name!r} {reason}")
    if req.sha256 is not None and not _SHA256.fullmatch(req.sha256):
        raise MlreleaseError(f"--sha256 must be 64 hex digits, got {req.sha256!r}")
    if not req.artifact_uri.strip():
        raise MlreleaseError("--artifact must not be empty")
    if req.image:
        split_image(req.image)
    for flag, roles in (("--data-rows", req.data_rows), ("--data-digest", req.data_digests)):
        for role in roles:
            if role not in req.data:
                given = ", ".join(req.data) or "none"
                raise UsageError(f"{flag} {role}: no --data {role}=DATASET@VERSION was given (roles: {given})")
    for role, digest in req.data_digests.items():
        check_digest(digest, f"--data-digest {role}")
    if req.artifact_bytes is not None and req.artifact_bytes < 0:
        raise MlreleaseError("--artifact-bytes must be 0 or more")
    for tag in req.tags:
        if not tag.strip():
            raise MlreleaseError("--tag must not be empty")
    if req.create_model_owner is not None and not req.create_model_owner.strip():
        raise MlreleaseError("--owner must not be empty")


def builder(req: Request, author: str, created: datetime, actor: str) -> Callable[[Registry], Change]:
    """The transaction's builder: every check against the registry at the tip, then the files."""

    def build(reg: Registry) -> Change:
        config = reg.config
        c = config.conventions
        path = layout.version_path(req.model, req.version)
        model_path = layout.model_path(req.model)
        problem = conv.name_problem("model", req.model, c)
        if problem:
            raise MlreleaseError(f"{model_path}: not registered: {problem}")
        files: dict[str, bytes] = {}
        index = Index.from_registry(reg)
        if not reg.source.exists(model_path):
            if req.create_model_owner is None:
                raise NotFound(
                    f"{model_path}: no model {req.model!r}; create it first, or pass --create-model --owner OWNER to create it with this version"
                )
            model_doc = {"name": req.model, "owner": req.create_model_owner.strip()}
            model_bytes = yamlsafe.dump(model_doc).encode("utf-8")
            parse_model(yamlsafe.load(model_bytes, model_path), model_path)
            files[model_path] = model_bytes
        else:
            reg.model(req.model)  # a broken model.yaml is reported, not built upon
        if reg.source.exists(path):
            raise MlreleaseError(
                f"{path}: {req.model} {req.version} is already registered; released manifests are immutable (register a new version)"
            )
        data = yamlsafe.dump(build_manifest(req, author, created)).encode("utf-8")
        version = parse_version(yamlsafe.load(data, path), path)
        problems = check_version(version, path, config, index)
        if problems:
            raise MlreleaseError(f"{path}: not registered: " + "; ".join(p.message for p in problems))
        files[path] = data
        subject = f"Register {req.model} {req.version}" + (" (new model)" if model_path in files else "")
        fields = {"action": "register", "model": req.model, "version": req.version, "actor": actor}
        return Change(files=files, message=format_message(subject, fields))

    return build


def register(registry_root: Path, req: Request, *, remote: str | None = None, branch: str | None = None) -> Registered:
    """Write and commit the manifest (and the model, when asked to create it); push to ``remote``."""
    _precheck(req)
    t = transaction.target(registry_root, remote=remote, branch=branch)
    who = gitwrite.identity(t.git_root)
    author = req.author if req.author and req.author.strip() else str(who)
    created = datetime.now(UTC).replace(microsecond=0)
    build = builder(req, author, created, str(who))
    built: list[Change] = []  # the change of the attempt that landed (the last one built)

    def remember(reg: Registry) -> Change:
        built.append(build(reg))
        return built[-1]

    committed = transaction.apply(t, remember, author=who, date=created)
    return Registered(
        model=req.model,
        version=req.version,
        path=layout.version_path(req.model, req.version),
        created_model=layout.model_path(req.model) in built[-1].files,
        committed=committed,
    )
