"""What a finished action tells people: the notification events of a Result.

The service calls :func:`announce` at the end of :meth:`ReleaseService.execute`, after
every commit of the action is written, so a notification can only ever follow the
record, never precede or replace it. Delivery (and its failures) is
:mod:`mlrelease.notify.send`'s; this module only decides which events an outcome is:

- promote live → ``promoted``; rollback live → ``rolled_back``; when the rollout runner
  asked (``Request.trigger == "rollout"``: its steps, its finish and its abort, by hand
  or on evidence) they are ``rollout_advanced`` and ``rollout_aborted`` instead;
- a backend failure, or no answer (left Pending) → ``failed``;
- any action that ran with gates overridden → ``break_glass`` as well;
- a retraining request from the policy (``trigger: policy:…``) → ``retraining_due``;
- a promotion refused by the approvals gate alone → ``waiting_for_approval``;
- reconcile: each item it settled, as if it had just finished;
- a release bundle: one event for the whole bundle (promoted / rolled_back when every model
  moved, failed otherwise), its body saying what became of each model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlrelease.notify.journal import Delivery
from mlrelease.notify.send import Message, deliver

__all__ = ["Delivery", "Message", "announce", "messages", "refusal", "with_deliveries"]
from mlrelease.release.plan import Plan, Result

ROLLOUT = "rollout"  # the trigger of every request mlrelease.rollout makes
ROLLOUT_EVENTS = {"promote": "rollout_advanced", "rollback": "rollout_aborted"}


def messages(result: Result) -> list[Message]:
    if result.plan.members:  # a release bundle is one piece of news, with what became of each model
        return _bundle(result)
    if result.items:  # reconcile: what it settled is news; what stays Pending was announced already
        return [m for item in result.items if item.status in ("done", "failed") for m in messages(item)]
    plan, r = result.plan, result.plan.request
    out: list[Message] = []
    facts = _facts(plan)
    where = dict(environment=r.environment, model=r.model, action_id=plan.action_id)
    if r.kind in ("promote", "rollback") and result.status == "done":
        event = ROLLOUT_EVENTS[r.kind] if r.trigger == ROLLOUT else "promoted" if r.kind == "promote" else "rolled_back"
        level = "success" if r.kind == "promote" else "warning"
        out.append(Message(event, _title(plan), _body(result, facts), level, **where))
    elif r.kind in ("promote", "rollback", "retrain") and result.status in ("failed", "pending"):
        what = "failed" if result.status == "failed" else "has no answer from its backend (left Pending)"
        out.append(Message("failed", f"{plan.title}: {what}", _body(result, facts), "failure", **where))
    elif r.kind == "retrain" and result.status == "done" and r.trigger.startswith("policy:"):
        out.append(Message("retraining_due", f"retraining of {r.model} requested by the policy", _body(result, facts), "info", **where))
    if plan.forced and result.status in ("done", "failed", "pending"):
        gates = ", ".join(plan.forced)
        body = f"Gates overridden: {gates}.\n" + _body(result, facts)
        out.append(Message("break_glass", f"break-glass: {plan.title} with failing gates overridden", body, "warning", **where))
    return out


def _bundle(result: Result) -> list[Message]:
    plan, r = result.plan, result.plan.request
    body = "\n".join([result.message, *(i.message for i in result.items), _facts(plan)])
    where = dict(environment=r.environment, model=", ".join(str(m.request.model) for m in plan.members), action_id=plan.action_id)
    if result.status == "done":
        event = "promoted" if r.kind == "promote" else "rolled_back"
        return [Message(event, f"{plan.title}: done", body, "success" if r.kind == "promote" else "warning", **where)]
    if result.status in ("failed", "pending"):
        return [Message("failed", f"{plan.title}: {result.status}", body, "failure", **where)]
    return []


def refusal(plan: Plan) -> list[Message]:
    """A refused plan: only a refusal for want of approvals is news (someone must approve)."""
    r = plan.request
    if r.kind != "promote" or not plan.failing or any(g.name != "approvals" for g in plan.failing):
        return []
    detail = "; ".join(g.detail for g in plan.failing)
    body = f"{detail}\nApprove with: mlrelease approve {r.model}@{plan.version} --env {r.environment}\n" + _facts(plan)
    where = dict(environment=r.environment, model=r.model, action_id=plan.action_id)
    return [Message("waiting_for_approval", f"{r.model} {plan.version} waits for approval in {r.environment}", body, "info", **where)]


def announce(root: Path, notify_section: object, found: list[Message]) -> tuple[Delivery, ...]:
    return tuple(d for m in found for d in deliver(root, notify_section, m))


def with_deliveries(result: Result, deliveries: tuple[Delivery, ...]) -> Result:
    if not deliveries:
        return result
    notes = tuple(d.note() for d in deliveries if not d.ok)
    return dataclasses.replace(result, notes=result.notes + notes, notified=deliveries)


def _title(plan: Plan) -> str:
    r = plan.request
    if r.kind == "rollback":
        return f"{r.model} rolled back to {plan.version} in {r.environment}"
    canary = f" as a {r.canary:g}% canary" if r.canary is not None else ""
    return f"{r.model} {plan.version} is live in {r.environment}{canary}"


def _facts(plan: Plan) -> str:
    r = plan.request
    lines = [f"by {plan.actor}"]
    if r.reason:
        lines.append(f"reason: {r.reason}")
    if plan.previous is not None or r.kind in ("promote", "rollback"):
        lines.append(f"before: {plan.previous or 'nothing'}")
    if plan.action_id:
        lines.append(f"id: {plan.action_id}")
    return "\n".join(lines)


def _body(result: Result, facts: str) -> str:
    return f"{result.message}\n{facts}"
