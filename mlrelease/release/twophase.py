"""Where a two-phase action is written: the intent, then the backend's outcome, in one file.

Promotions and rollbacks live in ``releases/<env>/<model>.yaml``; retraining requests in
``retrain/<model>.yaml``. The service runs both through one flow (intent commit →
backend call → outcome commit, see :mod:`mlrelease.release.service`); a :class:`Slot`
is what differs: how to tell that our intent already landed, how the intent and the
outcome change the file, and how the result reads. Every method that builds a change
reads the registry at the tip being written on, so it re-runs on each retry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from mlrelease.backends.base import Outcome
from mlrelease.errors import MlreleaseError
from mlrelease.gitstore.transaction import Change
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import RetrainRequest
from mlrelease.release import commits
from mlrelease.release import state as release_state
from mlrelease.release.commits import DeployFacts
from mlrelease.release.plan import Plan


class Slot(Protocol):
    """One two-phase action's file, as the flow needs it."""

    @property
    def path(self) -> str: ...

    @property
    def noun(self) -> str:  # "promotion" | "retraining request", for messages
        ...

    def landed(self, reg: Registry, action_id: str) -> bool:
        """Our intent is already there (an earlier attempt's push was reported lost but landed)."""
        ...

    def intent(self, reg: Registry, plan: Plan) -> Change:
        """The intent commit of ``plan`` (re-checked at this tip): the action, Pending."""
        ...

    def outcome(
        self, reg: Registry, plan: Plan, outcome: Outcome, *, at: datetime, recorder: str | None, extra: Mapping[str, str] | None = None
    ) -> Change | None:
        """The outcome commit; None when the same answer is already recorded. ``recorder``: reconcile's actor;
        ``extra``: trailers of a protected environment's outcome (the proposal carried out, who approved it)."""
        ...

    def summary(self, plan: Plan, outcome: Outcome, ref: str | None) -> str:
        """One line saying what happened, for the face."""
        ...


def deploy_facts(plan: Plan, actor: str | None = None) -> DeployFacts:
    """The facts every commit about a promote/rollback repeats; ``actor``: who records (reconcile)."""
    r = plan.request
    return DeployFacts(
        r.kind,
        r.model or "",
        r.environment or "",
        plan.version or "",
        plan.previous,
        r.canary,
        plan.action_id or "",
        plan.backend or "record",
        actor or plan.actor,
        r.reason,
        plan.forced,
        plan.desired.break_glass if plan.desired else None,
        plan.desired.bundle if plan.desired else r.bundle,
        plan.desired.undo if plan.desired else r.undo,
    )


def _phase(outcome: Outcome) -> str:
    return "Succeeded" if outcome.ok else "Failed"


def _already(path: str, noun: str, action_id: str, recorded: str, phase: str) -> None:
    """An outcome arriving for an action already settled: the same answer is a no-op, another is an error."""
    if recorded != phase:
        raise MlreleaseError(f"{path}: {noun} {action_id} was already recorded as {recorded}, and the backend now says {phase}")


@dataclasses.dataclass(frozen=True)
class ReleaseSlot:
    """``releases/<env>/<model>.yaml``: promote and rollback."""

    environment: str
    model: str
    noun: str = "promotion"

    @property
    def path(self) -> str:
        return layout.release_path(self.environment, self.model)

    def landed(self, reg: Registry, action_id: str) -> bool:
        current = reg.release(self.environment, self.model)
        return current is not None and current.desired is not None and current.desired.promotion_id == action_id

    def intent(self, reg: Registry, plan: Plan) -> Change:
        assert plan.desired is not None
        base = reg.release(self.environment, self.model) or release_state.empty(self.model, self.environment)
        new = release_state.with_intent(base, plan.desired, plan.backend or "record", pin=plan.pin, break_glass=plan.break_glass)
        return Change({self.path: release_state.dump_release(new)}, commits.intent(deploy_facts(plan), self.path).message())

    def outcome(
        self, reg: Registry, plan: Plan, outcome: Outcome, *, at: datetime, recorder: str | None, extra: Mapping[str, str] | None = None
    ) -> Change | None:
        action_id, phase = plan.action_id or "", _phase(outcome)
        current = reg.release(self.environment, self.model)
        if current is None or current.observed is None or current.observed.promotion_id != action_id:
            raise MlreleaseError(
                f"{self.path}: promotion {action_id} is no longer the one in the release state, so its outcome ({phase}) cannot be recorded"
            )
        if current.observed.phase != "Pending":
            _already(self.path, self.noun, action_id, current.observed.phase, phase)
            return None  # someone (reconcile) recorded the same answer first
        ref = release_state.redacted(outcome.reference)
        new = release_state.with_outcome(current, ok=outcome.ok, at=at, backend_ref=ref, message=outcome.message)
        message = new.observed.message if new.observed else None
        preview = commits.outcome(
            deploy_facts(plan, recorder),
            self.path,
            phase=phase,
            backend_ref=ref,
            message=message,
            by_reconcile=recorder is not None,
            extra=extra,
        )
        return Change({self.path: release_state.dump_release(new)}, preview.message())

    def summary(self, plan: Plan, outcome: Outcome, ref: str | None) -> str:
        r = plan.request
        what = f"{r.model} {plan.version}"
        if outcome.ok:
            where = f" as canary at {r.canary:g}%" if r.canary is not None else ""
            pinned = " and pinned" if r.kind == "rollback" else ""
            return f"{what} is live in {r.environment}{where}{pinned} (promotion {plan.action_id}" + (
                f", backend ref {ref})" if ref else ")"
            )
        message = release_state.one_line(outcome.message)
        return (
            f"backend {plan.backend} failed to deploy {what} to {r.environment}: {message or 'no message'}; "
            "recorded as Failed, nothing changed in what is live"
        )


@dataclasses.dataclass(frozen=True)
class RetrainSlot:
    """``retrain/<model>.yaml``: a list of retraining requests, each Pending until answered."""

    model: str
    noun: str = "retraining request"

    @property
    def path(self) -> str:
        return layout.retrain_path(self.model)

    def landed(self, reg: Registry, action_id: str) -> bool:
        return any(q.id == action_id for q in reg.retrain_requests(self.model))

    def intent(self, reg: Registry, plan: Plan) -> Change:
        r = plan.request
        request = RetrainRequest(
            id=plan.action_id or "",
            at=plan.at,
            actor=plan.actor,
            reason=r.reason or "",
            trigger=r.trigger,
            backend=plan.backend,
            phase="Pending",
        )
        existing = reg.retrain_requests(self.model)
        return Change({self.path: release_state.dump_retrain(self.model, (*existing, request))}, plan.commits[0].message())

    def outcome(
        self, reg: Registry, plan: Plan, outcome: Outcome, *, at: datetime, recorder: str | None, extra: Mapping[str, str] | None = None
    ) -> Change | None:
        action_id, phase = plan.action_id or "", _phase(outcome)
        requests = list(reg.retrain_requests(self.model))
        index = next((i for i, q in enumerate(requests) if q.id == action_id), None)
        if index is None:
            raise MlreleaseError(f"{self.path}: retraining request {action_id} is not there, so its outcome ({phase}) cannot be recorded")
        if requests[index].phase != "Pending":
            _already(self.path, self.noun, action_id, requests[index].phase, phase)
            return None
        ref = release_state.redacted(outcome.reference)
        q = requests[index] = dataclasses.replace(
            requests[index], phase=phase, backend_ref=ref, message=release_state.one_line(outcome.message)
        )
        preview = commits.retrain_outcome(
            self.model,
            action_id,
            q.backend or "record",
            recorder or q.actor,
            self.path,
            phase=phase,
            backend_ref=ref,
            message=q.message,
            by_reconcile=recorder is not None,
        )
        return Change({self.path: release_state.dump_retrain(self.model, requests)}, preview.message())

    def summary(self, plan: Plan, outcome: Outcome, ref: str | None) -> str:
        if outcome.ok:
            return f"retraining of {self.model} requested (request {plan.action_id}{f', backend ref {ref}' if ref else ''})"
        message = release_state.one_line(outcome.message) or "no message"
        return f"backend {plan.backend} refused to start retraining {self.model}: {message}; recorded as Failed"


def slot_for(plan: Plan) -> Slot:
    r = plan.request
    if r.kind == "retrain":
        return RetrainSlot(r.model or "")
    return ReleaseSlot(r.environment or "", r.model or "")
