"""``record``: git only. A GitOps reconciler elsewhere (Argo CD, Flux) acts on the repository.

The release state commit *is* the deployment request, so the action succeeds as soon as
it is recorded; the promotion id is the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mlrelease.backends.base import Action, BackendContext, Health, Outcome
from mlrelease.errors import BackendConfigError


class RecordBackend:
    type_name: ClassVar[str] = "record"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        if settings:
            raise BackendConfigError(f"mlrelease.yaml: backend {name!r} (record) takes no settings, got: {', '.join(sorted(settings))}")
        self.name = name

    def execute(self, action: Action) -> Outcome:
        return Outcome(ok=True, reference=action.promotion_id, message="recorded in git")

    def status(self, action: Action) -> Outcome | None:
        return Outcome(ok=True, reference=action.promotion_id, message="recorded in git")

    def health(self) -> Health:
        return Health(ok=True, message="git only; nothing to reach")

    def describe(self, action: Action) -> str:
        return "record: no external call; the commit is the deployment request (a GitOps reconciler acts on it)"


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> RecordBackend:
    return RecordBackend(name, settings, context)
