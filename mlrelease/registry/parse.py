"""Parsers: one YAML tree in, one typed object out, or every problem of the file.

Structural checks only (keys, types, required fields). Checks that need the whole
registry or its conventions (names, references, the metric catalogue) are lint's.

Each file kind's shape is declared once here (see :mod:`mlrelease.registry.shape`): the
keys in file order, their kinds, which are required, and the rules between them. The
parsers read by these shapes and the release writer (:mod:`mlrelease.release.state`)
writes by the same ones, so a key added here is read and written alike; docs/format.md
describes them and its examples are parsed by the test suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mlrelease.errors import ManifestError
from mlrelease.registry import yamlsafe
from mlrelease.registry.config import parse_config
from mlrelease.registry.fields import Fields, read_file
from mlrelease.registry.identities import parse_identities
from mlrelease.registry.identity import identity_problems
from mlrelease.registry.observations import read_observations
from mlrelease.registry.profile import read_profile
from mlrelease.registry.shape import Key, Listing, Shape, build, req
from mlrelease.registry.signers import parse_allowed_signers
from mlrelease.registry.types import (
    PHASES,
    Acceptance,
    Acceptances,
    AcceptedFinding,
    Approval,
    Artifact,
    BreakGlass,
    Canary,
    Code,
    Consumer,
    DataRef,
    Dataset,
    Desired,
    Image,
    Live,
    Model,
    Observed,
    Pin,
    Rejection,
    ReleaseState,
    RetrainRequest,
    Review,
    Snapshot,
    Telemetry,
    Version,
)

PROFILE = Key("profile", "custom", reader=read_profile)

# ---- models/<model>/model.yaml ----------------------------------------------------------------

CONSUMER = Shape(Consumer, (req("name"), Key("environments", "texts"), Key("contact"), Key("description")))
MODEL = Shape(
    Model,
    (
        req("name", "name"),
        req("owner"),
        Key("description"),
        Key("task"),
        Key("tags", "texts"),
        Key("consumers", "each", shape=CONSUMER),
        Key("headline", "texts"),
    ),
    lines=True,
)

# ---- models/<model>/versions/<version>.yaml ---------------------------------------------------


def _sha256(f: Fields, artifact: Artifact) -> None:
    if artifact.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256):
        f.problem("sha256", "must be 64 lower-case hex digits")


ARTIFACT = Shape(Artifact, (req("uri"), Key("sha256"), Key("format"), Key("bytes", "whole", minimum=0)), check=_sha256)
IMAGE = Shape(Image, (req("ref"), Key("digest")))
CODE = Shape(Code, (Key("repo"), Key("commit"), Key("entrypoint")))
DATA_REF = Shape(DataRef, (req("dataset", "name"), req("version", "name"), Key("rows", "whole", minimum=0), Key("digest")))
VERSION = Shape(
    Version,
    (
        req("model", "name"),
        req("version", "name"),
        req("created", "time"),
        req("author"),
        Key("description"),
        Key("parent", "name"),
        req("artifact", "sub", shape=ARTIFACT),
        Key("image", "sub", shape=IMAGE),
        Key("code", "sub", shape=CODE),
        Key("data", "named", shape=DATA_REF),
        Key("params", "scalars"),
        Key("metrics", "numbers"),
        PROFILE,
        Key("tags", "texts"),
    ),
    lines=True,
)

# ---- datasets/<dataset>/<version>.yaml ---------------------------------------------------------


def _columns(f: Fields, key: str) -> dict[str, str]:
    """Column → type name."""
    cols = f.map(key)
    columns: dict[str, str] = {}
    for name in cols or {}:
        assert cols is not None
        value = cols[name]
        if not isinstance(value, str):
            f.problem_at(cols.line_of(name), f"'{key}.{name}' must be a type name, not {value!r}")
        else:
            columns[name] = value
    return columns


DATASET = Shape(
    Dataset,
    (
        req("name", "name"),
        req("version", "name"),
        Key("created", "time"),
        Key("uri"),
        Key("digest"),
        Key("rows", "whole", minimum=0),
        Key("update_frequency"),
        Key("description"),
        Key("columns", "custom", reader=_columns),
        PROFILE,
    ),
    lines=True,
)

# ---- releases/<env>/<model>.yaml ---------------------------------------------------------------


def _weight(f: Fields, canary: Canary) -> None:
    if not 0 < canary.weight < 100:
        f.problem("weight", f"must be between 0 and 100 (exclusive), not {canary.weight:g}")


CANARY = Shape(Canary, (req("version", "name"), req("weight", "number")), check=_weight)
DESIRED = Shape(
    Desired,
    (
        req("version", "name"),
        Key("canary", "sub", shape=CANARY),
        req("promotion_id"),
        req("action", "choice", choices=("promote", "rollback")),
        req("actor"),
        req("at", "time"),
        Key("reason"),
        Key("forced", "texts"),
        Key("break_glass"),
        Key("bundle"),
        Key("undo", "flag"),
    ),
)
OBSERVED = Shape(
    Observed,
    (
        req("phase", "choice", choices=PHASES),
        req("promotion_id"),
        req("at", "time"),
        Key("backend"),
        Key("backend_ref"),
        Key("message"),
    ),
)
LIVE = Shape(Live, (req("version", "name"), Key("canary", "sub", shape=CANARY), req("promotion_id"), req("since", "time")))
PIN = Shape(Pin, (req("by"), req("at", "time"), Key("reason")))
APPROVAL = Shape(
    Approval,
    (req("version", "name"), req("by"), req("at", "time"), Key("comment"), Key("break_glass", "flag"), Key("used_by")),
)
REVIEW = Shape(Review, (req("by"), req("at", "time"), req("comment")))
BREAK_GLASS = Shape(
    BreakGlass,
    (
        req("promotion_id"),
        req("version", "name"),
        req("gates", "texts"),
        req("promoter"),
        req("approver"),
        req("at", "time"),
        req("reason"),
        Key("review", "sub", shape=REVIEW),
    ),
)
RELEASE = Shape(
    ReleaseState,
    (
        req("model", "name"),
        req("environment", "name"),
        Key("desired", "sub", shape=DESIRED),
        Key("observed", "sub", shape=OBSERVED),
        Key("live", "sub", shape=LIVE),
        Key("pin", "sub", shape=PIN),
        Key("approvals", "each", shape=APPROVAL),
        Key("break_glass", "each", shape=BREAK_GLASS),
    ),
    lines=True,
)

# ---- models/<model>/rejections.yaml, retrain/<model>.yaml --------------------------------------

REJECTIONS = Listing("rejected", Shape(Rejection, (req("version", "name"), req("by"), req("at", "time"), req("reason"))))
# ---- audit/accepted.yaml: findings of verify accepted by a second person ------------------------


def _commit_id(f: Fields, acceptance: Acceptance) -> None:
    if acceptance.commit and not re.fullmatch(r"[0-9a-f]{40}", acceptance.commit):
        f.problem("commit", "must be a full commit id: 40 lower-case hex digits")


ACCEPTED_FINDING = Shape(AcceptedFinding, (req("kind"), Key("file")))
ACCEPTANCE = Shape(
    Acceptance,
    (req("commit"), req("findings", "each", shape=ACCEPTED_FINDING), req("by"), req("at", "time"), req("reason")),
    check=_commit_id,
)
ACCEPTED = Shape(Acceptances, (req("accepted", "each", shape=ACCEPTANCE),))

RETRAIN_REQUESTS = Listing(
    "requests",
    Shape(
        RetrainRequest,
        (
            req("id"),
            req("at", "time"),
            req("actor"),
            req("reason"),
            Key("trigger", default="manual"),
            Key("backend"),
            Key("backend_ref"),
            Key("phase", "choice", choices=PHASES, default="Pending"),
            Key("message"),
        ),
    ),
)

# ---- telemetry/<env>/<model>.yaml --------------------------------------------------------------

SNAPSHOT = Shape(
    Snapshot,
    (
        req("at", "time"),
        Key("version", "name"),
        Key("calls", "whole", minimum=0),
        Key("errors", "whole", minimum=0),
        Key("latency_ms", "numbers"),
        Key("memory_mb", "number"),
        Key("cpu", "number"),
        Key("metrics", "numbers"),
        Key("callers", "numbers"),
        PROFILE,
        Key("observations", "custom", reader=read_observations),
    ),
)
TELEMETRY = Shape(Telemetry, (req("model", "name"), req("environment", "name"), req("snapshots", "each", shape=SNAPSHOT)), lines=True)


# ---- the parsers ---------------------------------------------------------------------------------


def parse_model(data: object, path: str) -> Model:
    return read_file(data, path, lambda f: build(f, MODEL))


def parse_version(data: object, path: str) -> Version:
    return read_file(data, path, lambda f: build(f, VERSION))


def parse_dataset(data: object, path: str) -> Dataset:
    return read_file(data, path, lambda f: build(f, DATASET))


def parse_release(data: object, path: str) -> ReleaseState:
    return read_file(data, path, lambda f: build(f, RELEASE))


def parse_rejections(data: object, path: str) -> tuple[Rejection, ...]:
    return read_file(data, path, REJECTIONS.read)


def parse_retrain_requests(data: object, path: str) -> tuple[RetrainRequest, ...]:
    return read_file(data, path, RETRAIN_REQUESTS.read)


def parse_accepted(data: object, path: str) -> Acceptances:
    return read_file(data, path, lambda f: build(f, ACCEPTED))


def parse_telemetry(data: object, path: str) -> Telemetry:
    return read_file(data, path, lambda f: build(f, TELEMETRY))


PARSERS: dict[str, Callable[[object, str], object]] = {
    "config": parse_config,
    "model": parse_model,
    "version": parse_version,
    "dataset": parse_dataset,
    "release": parse_release,
    "rejections": parse_rejections,
    "retrain": parse_retrain_requests,
    "telemetry": parse_telemetry,
    "identities": parse_identities,
    "accepted": parse_accepted,
}
# Files that are not YAML: their parser reads the bytes.
TEXT_PARSERS: dict[str, Callable[[bytes, str], object]] = {"signers": parse_allowed_signers}


def parse_blob(kind: str, data: bytes, path: str) -> object:
    """One file's bytes as the object of its kind: YAML through the bounded loader, text files (allowed signers) as text."""
    if kind in TEXT_PARSERS:
        return TEXT_PARSERS[kind](data, path)
    value = PARSERS[kind](yamlsafe.load(data, path), path)
    wrong = identity_problems(path, value)  # a file naming another place than its own is refused on every read
    if wrong:
        raise ManifestError(wrong)
    return value
