"""The backend protocol: what the release service asks of anything that deploys.

A backend does the work outside git (a webhook, a local command, an edit in a
deployment repository, an MLflow alias). The release service owns everything else:
gates, the intent and outcome commits, concurrency, reconcile. Backends are discovered
through the ``mlrelease.backends`` entry-point group and configured by name in
mlrelease.yaml (``backends: {name: {type: ..., settings...}}``).

Contract, which every backend must keep:

* ``execute`` is idempotent per ``action.promotion_id``: called twice with the same id
  it must not deploy twice (pass the id on as an idempotency key where the far side
  supports one).
* ``execute`` never raises for a failure of the far side: it returns an
  :class:`Outcome` with ``ok=False`` and a one-line ``message``. It raises
  :class:`BackendConfigError` only for its own bad settings.
* ``status`` answers, for reconcile after a crash, whether the action with that
  promotion id happened: an Outcome when the far side knows, ``None`` when it cannot
  tell. Reconcile then calls ``execute`` again with the same id (hence idempotency) and
  records that answer; it never guesses success (docs/actions.md).
* Nothing secret is returned in messages, logs or references (use
  :func:`mlrelease.secrets.redact`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from mlrelease.errors import BackendConfigError as BackendConfigError  # re-exported: the plugin protocol


class OutcomeUnknown(Exception):
    """``execute`` cannot tell whether the far side acted (e.g. its reply was cut off).

    Never a failure and never a success: the action stays Pending for ``reconcile``,
    which asks ``status``. The message says what the last attempt saw.
    """


@dataclass(frozen=True)
class Action:
    """One thing to do outside git, with everything a deployment hook needs to know."""

    kind: str  # promote | rollback | retrain
    model: str
    promotion_id: str  # unique per action; the idempotency key
    actor: str
    reason: str
    version: str | None = None
    environment: str | None = None
    previous: str | None = None  # what was live before
    canary_weight: float | None = None  # percent of traffic for the new version, None = all
    artifact: str | None = None  # artifact URI
    artifact_sha256: str | None = None
    image: str | None = None  # container image reference
    image_digest: str | None = None  # the image's content digest (sha256:...), when the manifest has one
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.kind,
            "model": self.model,
            "version": self.version,
            "environment": self.environment,
            "previous": self.previous,
            "canary_weight": self.canary_weight,
            "artifact": self.artifact,
            "artifact_sha256": self.artifact_sha256,
            "image": self.image,
            "image_digest": self.image_digest,
            "metrics": dict(self.metrics),
            "promotion_id": self.promotion_id,
            "actor": self.actor,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reference: str | None = None  # the far side's id for the deployment (recorded)
    message: str | None = None  # one line for people
    log: str = ""  # full output, kept in the action log


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str


@dataclass(frozen=True)
class BackendContext:
    """What a backend may know about where it runs."""

    registry_root: Path
    environ: Mapping[str, str]


class Backend(Protocol):
    type_name: ClassVar[str]
    name: str

    def execute(self, action: Action) -> Outcome: ...

    def status(self, action: Action) -> Outcome | None: ...

    def health(self) -> Health: ...

    def describe(self, action: Action) -> str:
        """The call that would be made, in one or a few lines, for --dry-run and the TUI plan."""
        ...


class BackendFactory(Protocol):
    def __call__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> Backend: ...
