"""Commit subjects and trailers for every action: the audit trail's wording, in one place.

The subject is for people reading ``git log``; the trailers (see
:mod:`mlrelease.registry.trailers`) are for ``mlrelease history`` and scripts. Values
that came from people (reasons, backend messages) are escaped to one line by
``format_message``, so they can never forge a trailer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlrelease.release.plan import CommitPreview


@dataclass(frozen=True)
class DeployFacts:
    """The facts of one promote or rollback that every commit about it repeats."""

    kind: str  # promote | rollback
    model: str
    environment: str
    version: str  # the version deployed (the canary's, for a canary)
    previous: str | None
    canary: float | None
    promotion_id: str
    backend: str
    actor: str
    reason: str | None
    forced: tuple[str, ...] = ()
    break_glass: str | None = None  # who approved the break-glass this promotion uses
    bundle: str | None = None  # the release bundle this action is a member of
    undo: bool = False  # a rollback its bundle made to put this member back (Mlrelease-Bundle-Fate: undo)

    def fields(self, **extra: object) -> dict[str, object | None]:
        return {
            "action": self.kind,
            "model": self.model,
            "version": self.version,
            "environment": self.environment,
            "previous": self.previous,
            "canary_weight": f"{self.canary:g}" if self.canary is not None else None,
            "promotion_id": self.promotion_id,
            "backend": self.backend,
            "actor": self.actor,
            "forced": ", ".join(self.forced) or None,
            "break_glass": self.break_glass,
            "reason": self.reason,
            "bundle": self.bundle,
            "bundle_fate": "undo" if self.undo else None,
            **extra,
        }


def _canary(d: DeployFacts) -> str:
    return f" (canary {d.canary:g}%)" if d.canary is not None else ""


def intent(d: DeployFacts, path: str) -> CommitPreview:
    if d.kind == "rollback":
        subject = f"Roll back {d.model} in {d.environment} to {d.version} (pinned)"
    else:
        subject = f"Promote {d.model} {d.version} to {d.environment}{_canary(d)}"
    if d.break_glass:
        subject += " [break-glass]"
    elif d.forced:
        subject += " [forced]"
    return CommitPreview(subject, d.fields(phase="Pending"), (path,))


def outcome(
    d: DeployFacts,
    path: str,
    *,
    phase: str,
    backend_ref: str | None,
    message: str | None,
    by_reconcile: bool = False,
    attempted: bool = True,
    extra: Mapping[str, str] | None = None,
) -> CommitPreview:
    """Commit B. ``phase`` may be ``Succeeded|Failed`` in a preview, before the backend answers.

    ``attempted=False``: a bundle member whose backend was never called, because the bundle
    stopped before it (recorded Failed: nothing of it is live; ``Mlrelease-Bundle-Fate`` says why).
    """
    if not attempted:
        subject = f"{d.model} {d.version} was not deployed to {d.environment}: its bundle stopped before it"
    elif phase == "Succeeded":
        subject = f"{d.model} {d.version} is live in {d.environment}{_canary(d)}"
    elif phase == "Failed":
        subject = f"{d.model} {d.version} failed to deploy to {d.environment}"
    else:
        subject = f"Record the outcome of {d.model} {d.version} in {d.environment}"
    if by_reconcile:
        subject = f"Reconcile: {subject}"
    fields = d.fields(action="reconcile" if by_reconcile else "outcome", phase=phase, backend_ref=backend_ref, **(extra or {}))
    if not attempted:
        fields["bundle_fate"] = "not attempted"
    body = f"Backend message: {message}" if message else ""
    return CommitPreview(subject, fields, (path,), body)


def unpin(model: str, environment: str, live: str | None, actor: str, reason: str | None, path: str) -> CommitPreview:
    fields = {"action": "unpin", "model": model, "version": live, "environment": environment, "actor": actor, "reason": reason}
    return CommitPreview(f"Unpin {model} in {environment}", fields, (path,))


def pin(model: str, environment: str, live: str | None, actor: str, reason: str | None, path: str) -> CommitPreview:
    fields = {"action": "pin", "model": model, "version": live, "environment": environment, "actor": actor, "reason": reason}
    return CommitPreview(f"Pin {model} in {environment}", fields, (path,))


def approve(
    model: str, version: str, environment: str, actor: str, comment: str | None, path: str, *, break_glass: str | None = None
) -> CommitPreview:
    """``break_glass``: the approver's identity, for a break-glass approval."""
    fields = {
        "action": "approve",
        "model": model,
        "version": version,
        "environment": environment,
        "actor": actor,
        "break_glass": break_glass,
        "reason": comment,
    }
    what = "break-glass for" if break_glass else ""
    return CommitPreview(f"Approve {what + ' ' if what else ''}{model} {version} for {environment}", fields, (path,))


def review(model: str, environment: str, promotion_ids: tuple[str, ...], actor: str, reason: str | None, path: str) -> CommitPreview:
    fields = {
        "action": "review",
        "model": model,
        "environment": environment,
        "promotion_id": ", ".join(promotion_ids) or None,
        "actor": actor,
        "reason": reason,
    }
    return CommitPreview(f"Review the break-glass promotion of {model} in {environment}", fields, (path,))


def accept_finding(commit: str, kinds: tuple[str, ...], actor: str, reason: str | None, path: str) -> CommitPreview:
    """``review --finding``: a second person accepts the findings of ``commit`` on the record (audit/accepted.yaml)."""
    fields = {"action": "review", "finding": commit, "actor": actor, "reason": reason}
    what = f"{', '.join(kinds)} finding{'s' if len(kinds) > 1 else ''}" if kinds else "findings"
    return CommitPreview(f"Accept the {what} of {commit[:10]} on the record", fields, (path,))


def reject(model: str, version: str, actor: str, reason: str | None, path: str) -> CommitPreview:
    fields = {"action": "reject", "model": model, "version": version, "actor": actor, "reason": reason}
    return CommitPreview(f"Reject {model} {version}", fields, (path,))


def retrain(model: str, request_id: str, backend: str, actor: str, reason: str | None, path: str) -> CommitPreview:
    fields = {
        "action": "retrain",
        "model": model,
        "promotion_id": request_id,
        "phase": "Pending",
        "backend": backend,
        "actor": actor,
        "reason": reason,
    }
    return CommitPreview(f"Request retraining of {model}", fields, (path,))


def retrain_outcome(
    model: str,
    request_id: str,
    backend: str,
    actor: str,
    path: str,
    *,
    phase: str,
    backend_ref: str | None,
    message: str | None,
    by_reconcile: bool = False,
) -> CommitPreview:
    if phase == "Succeeded":
        subject = f"Retraining of {model} started"
    elif phase == "Failed":
        subject = f"Retraining request for {model} failed"
    else:
        subject = f"Record the outcome of the retraining request for {model}"
    if by_reconcile:
        subject = f"Reconcile: {subject}"
    fields = {
        "action": "reconcile" if by_reconcile else "outcome",
        "model": model,
        "promotion_id": request_id,
        "phase": phase,
        "backend": backend,
        "backend_ref": backend_ref,
        "actor": actor,
    }
    body = f"Backend message: {message}" if message else ""
    return CommitPreview(subject, fields, (path,), body)
