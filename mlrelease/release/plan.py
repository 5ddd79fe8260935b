"""What an action would do, and what it did: the objects both faces show.

A face (CLI or TUI) asks the service for a :class:`Plan` — no side effects — shows the
gates, the backend call and the commits to the user, then hands the same plan back to
be executed and gets a :class:`Result`. Everything here is plain data with ``to_json``,
so ``--json``, ``--dry-run`` and the TUI's confirmation screen show the same facts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from mlrelease.backends.base import Action, Backend
from mlrelease.errors import ExitCode, MlreleaseError, StaleState
from mlrelease.notify.journal import Delivery
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import Approval, Desired, Pin

if TYPE_CHECKING:
    from mlrelease.clients.forge import Proposal  # a protected environment's only: not loaded for every plan
    from mlrelease.gitstore.transaction import Change
    from mlrelease.registry.loader import Registry
    from mlrelease.release.planning import Context


@dataclass(frozen=True)
class Request:
    """What the user asked for, before anything was looked up."""

    kind: str
    model: str | None = None
    version: str | None = None  # promote/approve/reject: the version; rollback: --to (None = from history)
    environment: str | None = None
    reason: str | None = None  # approve: the comment
    canary: float | None = None  # percent of traffic
    force: bool = False
    trigger: str = "manual"  # retrain: manual | policy:<rule>
    break_glass: bool = False  # approve: a break-glass approval (see release.foureyes)
    bundle: str | None = None  # promote/rollback: the id of the release bundle this is a member of
    undo: bool = False  # rollback: a bundle's own undo of a member that moved (no pin; see release.bundle)
    finding: str | None = None  # review --finding: the commit whose verify findings are accepted (audit.accepting)


@dataclass(frozen=True)
class GateResult:
    """One check with its verdict and the numbers behind it."""

    name: str  # e.g. threshold:f1, no_regression:auc, order:staging, approvals, window, rejected, pin
    passed: bool
    detail: str  # one line for people, with the numbers
    numbers: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "numbers": dict(self.numbers)}


@dataclass(frozen=True)
class CommitPreview:
    """A commit the action writes: subject, trailer fields, body and the files it touches."""

    subject: str
    fields: Mapping[str, object | None]
    paths: tuple[str, ...]
    body: str = ""

    def message(self) -> str:
        return format_message(self.subject, self.fields, self.body)

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "trailers": {k: v for k, v in self.fields.items() if v not in (None, "")},
            "paths": list(self.paths),
        }


@dataclass(frozen=True)
class Expected:
    """The release state the user decided on; anything else at commit time is stale."""

    promotion_id: str | None
    phase: str | None
    live_version: str | None
    live_canary: tuple[str, float] | None
    pinned: bool

    def describe(self) -> str:
        live = self.live_version or "nothing"
        if self.live_canary:
            live += f" (canary {self.live_canary[0]} at {self.live_canary[1]:g}%)"
        pid = self.promotion_id or "none"
        return f"live {live}, last promotion {pid} ({self.phase or 'no outcome'}){', pinned' if self.pinned else ''}"


@dataclass(frozen=True)
class Block:
    """Why the action cannot run at all, whatever --force says: the refusal it raises when run."""

    message: str
    refusal: type[MlreleaseError]  # e.g. ReadOnly, StaleState

    @property
    def exit_code(self) -> ExitCode:
        return self.refusal.exit_code

    def error(self) -> MlreleaseError:
        return self.refusal(self.message)


@dataclass(frozen=True)
class Confirmation:
    """What a person must give before a plan runs; both faces read this, never their own rule.

    ``reason_required``: the audit trail records why (a comment is optional otherwise).
    ``typed_name``: the model name to type out (production, environments with approvals,
    overridden gates), or None where a plain yes is enough.
    """

    reason_required: bool = False
    typed_name: str | None = None


@dataclass(frozen=True)
class PendingItem:
    """An action a crash (or a failed outcome write) left Pending, for reconcile."""

    kind: str  # release | retrain
    model: str
    action_id: str
    backend: str | None
    since: datetime
    actor: str
    environment: str | None = None
    version: str | None = None
    description: str = ""  # the backend status query / re-drive that reconcile would do

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "model": self.model,
            "environment": self.environment,
            "version": self.version,
            "action_id": self.action_id,
            "backend": self.backend,
            "since": format_timestamp(self.since),
            "actor": self.actor,
            "description": self.description,
        }


class OwnPlanner(Protocol):
    """An action planned above the release layer (``review --finding``: :mod:`mlrelease.audit.accepting`).

    Its rules need what the release layer may not import (verify's report), so it brings
    its own planner and writer; the service still owns the door: read-only, the re-check
    at the tip (through :meth:`plan`) and the transaction.
    """

    def plan(self, reg: Registry, request: Request, ctx: Context, *, action_id: str | None = None) -> Plan: ...

    def change(self, reg: Registry, plan: Plan) -> Change: ...


@dataclass(frozen=True)
class Plan:
    """Everything an action would do, computed at one commit, before anything is written."""

    request: Request
    actor: str
    at: datetime
    base: str | None  # the commit the plan was computed at
    title: str  # one line: what this does
    action_id: str | None = None  # promotion id or retrain request id (the idempotency key)
    version: str | None = None  # resolved version (e.g. the rollback target)
    previous: str | None = None  # what is live before
    gates: tuple[GateResult, ...] = ()
    backend: str | None = None
    backend_call: str | None = None  # backend.describe(action)
    action: Action | None = None  # what the backend will be asked to do
    executor: Backend | None = field(default=None, repr=False, compare=False)  # the instance that will be called
    commits: tuple[CommitPreview, ...] = ()
    expected: Expected | None = None
    noop: str | None = None  # why nothing needs doing (e.g. "already live")
    block: Block | None = None
    notes: tuple[str, ...] = ()
    pending: tuple[PendingItem, ...] = ()  # reconcile
    desired: Desired | None = None  # promote/rollback: the desired state the intent commit writes
    pin: Pin | None = None  # rollback: the hold it sets
    break_glass: Approval | None = None  # promote/rollback: the break-glass approval its intent uses
    locked: tuple[str, ...] = ()  # failing gates --force alone may not override here (break-glass, see release.foureyes)
    confirmation: Confirmation = Confirmation()  # what a face asks before running it (see release.confirm)
    members: tuple[Plan, ...] = ()  # a release bundle: one plan per model, run all-or-nothing (see release.bundle)
    bundle_name: str | None = None  # a bundle named in mlrelease.yaml (bundles:)
    planner: OwnPlanner | None = field(default=None, repr=False, compare=False)  # planned above the release layer (see OwnPlanner)

    @property
    def failing(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.passed)

    @property
    def forced(self) -> tuple[str, ...]:
        """Names of the failing gates --force overrides (recorded in trailers and state)."""
        return tuple(g.name for g in self.failing) if self.request.force else ()

    @property
    def refused(self) -> bool:
        return bool(self.failing) and not self.request.force

    @property
    def runnable(self) -> bool:
        return self.block is None and self.noop is None and not self.refused

    @property
    def exit_code(self) -> ExitCode:
        """What running this plan would exit with before any write: ``--dry-run``'s exit code."""
        if self.block is not None:
            return self.block.exit_code
        if self.noop is None and self.refused:
            return ExitCode.GATE_REFUSED
        return ExitCode.OK

    def judged(self) -> tuple[object, ...]:
        """What a person decided on when shown this plan; a re-check at the tip must agree.

        The backend's action is (the artifact, image and metrics deployed); the reason is not
        (it is typed after the plan is shown), nor the time or the base commit (others may
        commit elsewhere in the registry meanwhile).
        """
        r = self.request
        return (
            r.kind,
            r.model,
            r.environment,
            r.canary,
            r.force,
            r.break_glass,
            self.break_glass,
            self.version,
            self.previous,
            self.backend,
            self.expected,
            self.noop,
            self.block,
            tuple((g.name, g.passed) for g in self.gates),
            dataclasses.replace(self.action, reason="") if self.action is not None else None,  # e.g. the artifact deployed
        )

    def with_reason(self, reason: str | None) -> Plan:
        """The same plan with the reason a person typed after seeing it (re-checked at execution)."""
        members = tuple(m.with_reason(reason) for m in self.members)  # a bundle: each member records it
        return dataclasses.replace(self, request=dataclasses.replace(self.request, reason=reason), members=members)

    def to_json(self) -> dict[str, object]:
        r = self.request
        data: dict[str, object] = {
            "action": r.kind,
            "title": self.title,
            "model": r.model,
            "version": self.version,
            "environment": r.environment,
            "previous": self.previous,
            "canary_weight": r.canary,
            "reason": r.reason,
            "force": r.force,
            "actor": self.actor,
            "planned_at": format_timestamp(self.at),
            "base": self.base,
            "action_id": self.action_id,
            "gates": [g.to_json() for g in self.gates],
            "failing_gates": [g.name for g in self.failing],
            "forced_gates": list(self.forced),
            "locked_gates": list(self.locked),
            "break_glass": self.desired.break_glass if self.desired else (self.request.break_glass or None),
            "backend": self.backend,
            "backend_call": self.backend_call,
            "commits": [c.to_json() for c in self.commits],
            "expected_state": self.expected.describe() if self.expected else None,
            "noop": self.noop,
            "blocked": {"message": self.block.message, "exit_code": int(self.block.exit_code)} if self.block else None,
            "notes": list(self.notes),
            "pending": [p.to_json() for p in self.pending],
            "confirmation": {"reason_required": self.confirmation.reason_required, "typed_name": self.confirmation.typed_name},
            "bundle": self.request.bundle,
            "bundle_name": self.bundle_name,
            "members": [m.to_json() for m in self.members],
        }
        if r.finding:
            data["finding"] = r.finding  # review --finding: the commit whose findings are accepted
        return data


@dataclass(frozen=True)
class Result:
    """What happened: the commits written, the backend's answer, and the exit code."""

    plan: Plan
    status: str  # done | noop | failed | pending | proposed (a protected environment: see release.proposal)
    message: str
    exit_code: ExitCode = ExitCode.OK
    commits: tuple[str, ...] = ()
    phase: str | None = None
    backend_ref: str | None = None
    pushed: bool = False
    notes: tuple[str, ...] = ()
    items: tuple[Result, ...] = ()  # reconcile: one per pending item
    notified: tuple[Delivery, ...] = ()  # the notifications sent after it (failures also in notes)
    proposal: Proposal | None = None  # a protected environment's pull/merge request, opened instead of deploying

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "message": self.message,
            "exit_code": int(self.exit_code),
            "action_id": self.plan.action_id,
            "commits": list(self.commits),
            "phase": self.phase,
            "backend_ref": self.backend_ref,
            "pushed": self.pushed,
            "notes": list(self.notes),
            "items": [i.to_json() | {"title": i.plan.title} for i in self.items],
            "notifications": [d.to_json() for d in self.notified],
        } | ({"proposal": self.proposal.to_json()} if self.proposal is not None else {})


@dataclass(frozen=True)
class Progress:
    """A step of execution, for faces that show progress (the TUI's log, the CLI's lines)."""

    step: str  # intent | backend | outcome | commit | status
    message: str


ProgressHook = Callable[[Progress], None]


class PlanChanged(StaleState):
    """At the tip, the plan is no longer the one the person saw; ``plan`` is the fresh one to show."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan
