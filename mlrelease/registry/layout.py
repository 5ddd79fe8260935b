"""The registry's file layout: where each kind of file lives, and what a path holds.

This is the one module that spells the registry's paths. Everything else asks it:
``release_path(env, model)`` to know where a release state lives, :func:`locate` to
know what a listed file is (its parse kind and the names its place gives). A new file
kind, or a moved one, is a change here and nowhere else.

Paths are relative to the registry root, with ``/`` separators, as a
:class:`~mlrelease.registry.source.Source` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlrelease.errors import MlreleaseError

CONFIG = "mlrelease.yaml"
MODELS = "models"
DATASETS = "datasets"
RELEASES = "releases"
TELEMETRY = "telemetry"
RETRAIN = "retrain"
CONTROLS = "controls"
IDENTITIES = "controls/identities.yaml"  # people, their addresses, groups (four eyes)
ALLOWED_SIGNERS = "controls/allowed_signers"  # git's allowed-signers file (signed environments)
AUDIT = "audit"
ACCEPTED = "audit/accepted.yaml"  # findings of verify accepted by a second person (review --finding)
FOLDERS = (MODELS, DATASETS, RELEASES, TELEMETRY, RETRAIN, CONTROLS, AUDIT)
SUFFIX = ".yaml"

# What belongs in each folder, for the message that says a file does not.
EXPECTED = {
    MODELS: "models/<model>/model.yaml, models/<model>/rejections.yaml or models/<model>/versions/<version>.yaml",
    DATASETS: "datasets/<dataset>/<version>.yaml",
    RELEASES: "releases/<environment>/<model>.yaml",
    TELEMETRY: "telemetry/<environment>/<model>.yaml",
    RETRAIN: "retrain/<model>.yaml",
    CONTROLS: f"{IDENTITIES} or {ALLOWED_SIGNERS}",
    AUDIT: ACCEPTED,
}


# Folders end in "/" (a listing prefix and a git pathspec alike); each path is built on its
# folder, so a folder is spelled in one place.


def model_folder(model: str) -> str:
    return f"{MODELS}/{model}/"


def model_path(model: str) -> str:
    return model_folder(model) + "model.yaml"


def versions_folder(model: str) -> str:
    return model_folder(model) + "versions/"


def version_path(model: str, version: str) -> str:
    return versions_folder(model) + version + SUFFIX


def rejections_path(model: str) -> str:
    return model_folder(model) + "rejections.yaml"


def dataset_folder(dataset: str) -> str:
    return f"{DATASETS}/{dataset}/"


def dataset_path(dataset: str, version: str) -> str:
    return dataset_folder(dataset) + version + SUFFIX


def releases_folder(env: str | None = None) -> str:
    """``releases/`` or one environment's ``releases/<env>/`` (a git pathspec as well)."""
    return f"{RELEASES}/" if env is None else f"{RELEASES}/{env}/"


def release_path(env: str, model: str) -> str:
    return releases_folder(env) + model + SUFFIX


def telemetry_path(env: str, model: str) -> str:
    return f"{TELEMETRY}/{env}/{model}{SUFFIX}"


def retrain_path(model: str) -> str:
    return f"{RETRAIN}/{model}{SUFFIX}"


@dataclass(frozen=True)
class Located:
    """A registry file, what kind it is, and the names its path gives."""

    path: str
    kind: str  # a key of mlrelease.registry.parse.PARSERS
    model: str | None = None
    version: str | None = None
    dataset: str | None = None
    environment: str | None = None


def locate(path: str) -> Located | str:
    """What the file at ``path`` is by its place in the layout, or why it does not belong.

    ``mlrelease.yaml`` itself is :data:`CONFIG` (kind ``config``); any other path outside
    :data:`FOLDERS` is not a registry file.
    """
    if path == CONFIG:
        return Located(path, "config")
    if path == IDENTITIES:
        return Located(path, "identities")
    if path == ALLOWED_SIGNERS:
        return Located(path, "signers")
    if path == ACCEPTED:
        return Located(path, "accepted")
    parts = path.split("/")
    top = parts[0]
    if not parts[-1].endswith(SUFFIX):
        hint = "; registry files end in .yaml, not .yml" if parts[-1].endswith(".yml") else ""
        return f"unknown file in {top}/ (expected {EXPECTED.get(top, 'a .yaml file')}){hint}"
    stem = parts[-1][: -len(SUFFIX)]
    n = len(parts)
    if top == MODELS and n == 3 and parts[2] == "model.yaml":
        return Located(path, "model", model=parts[1])
    if top == MODELS and n == 3 and parts[2] == "rejections.yaml":
        return Located(path, "rejections", model=parts[1])
    if top == MODELS and n == 4 and parts[2] == "versions":
        return Located(path, "version", model=parts[1], version=stem)
    if top == DATASETS and n == 3:
        return Located(path, "dataset", dataset=parts[1], version=stem)
    if top == RELEASES and n == 3:
        return Located(path, "release", environment=parts[1], model=stem)
    if top == TELEMETRY and n == 3:
        return Located(path, "telemetry", environment=parts[1], model=stem)
    if top == RETRAIN and n == 2:
        return Located(path, "retrain", model=stem)
    return f"unknown file in {top}/ (expected {EXPECTED.get(top, 'nothing here')})"


def located(paths: list[str], kind: str) -> list[Located]:
    """The files among ``paths`` that are of ``kind``, in the order given."""
    out = []
    for path in paths:
        loc = locate(path)
        if isinstance(loc, Located) and loc.kind == kind:
            out.append(loc)
    return out


def find_root(start: Path) -> Path:
    """The folder holding mlrelease.yaml, searched upward from ``start`` like git does.

    Here rather than in the loader so that a command can find its registry without
    importing the parser (a kept answer is replayed before any of it is needed).
    """
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG).is_file():
            return candidate
    raise MlreleaseError(f"no {CONFIG} found in {start} or any parent folder (use --repo PATH, or `mlrelease init`)")
