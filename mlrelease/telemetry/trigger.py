"""Start retraining for due models through the release service: the policy's only write.

The retraining itself — intent commit, backend call, outcome commit in
``retrain/<model>.yaml``, push — is the release service's ``retrain`` action, the same
one ``mlrelease retrain`` runs; this module only decides *whether* and records *why*.

Before each trigger the decision is taken again against the retrain requests at the
branch tip the service writes on (after fetching it when a remote is configured), not
the possibly older checkout the assessment read: a request another job recorded since
still counts, so a rule triggers at most once within the cadence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlrelease.errors import ExitCode, MlreleaseError
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request, Result
from mlrelease.release.service import ReleaseService
from mlrelease.telemetry.policy import Decision, decide


@dataclass(frozen=True)
class Triggered:
    """What happened for one due model."""

    model: str
    status: str  # started | failed | skipped
    message: str
    exit_code: ExitCode
    trigger: str | None = None  # policy:<rules> recorded with the request
    request_id: str | None = None
    result: Result | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "status": self.status,
            "message": self.message,
            "exit_code": int(self.exit_code),
            "trigger": self.trigger,
            "request_id": self.request_id,
            "result": self.result.to_json() if self.result else None,
        }


def trigger_due(service: ReleaseService, decisions: list[Decision], now: datetime) -> list[Triggered]:
    """Start one retraining per due model that has rules not yet requested within the cadence."""
    try:
        service.refresh()
    except MlreleaseError as exc:
        return [Triggered(d.model, "failed", f"{d.model}: nothing triggered: {exc}", exc.exit_code, d.trigger) for d in decisions]
    out = []
    for decision in decisions:
        try:
            out.append(_trigger_one(service, decision, now))
        except MlreleaseError as exc:
            out.append(Triggered(decision.model, "failed", f"{decision.model}: {exc}", exc.exit_code, decision.trigger))
    return out


def _trigger_one(service: ReleaseService, decision: Decision, now: datetime) -> Triggered:
    with Registry(service.target.registry_root, service.base_ref) as tip:
        policy = tip.config.retrain.policy_for(decision.model)
        current = decide(decision.model, decision.reasons, tip.retrain_requests(decision.model), policy, now)
    if current.trigger is None:
        ids = ", ".join(sorted({q.id for q in current.covered.values()}))
        message = (
            f"{decision.model}: nothing new to trigger — every reason was requested within the {current.cadence_days:g}-day cadence ({ids})"
        )
        return Triggered(decision.model, "skipped", message, ExitCode.OK)
    plan = service.plan(Request("retrain", model=decision.model, reason=current.summary, trigger=current.trigger))
    result = service.execute(plan)
    status = {"done": "started", "noop": "skipped"}.get(result.status, "failed")
    return Triggered(
        decision.model,
        status,
        f"{result.message}; trigger {current.trigger}" if status == "started" else result.message,
        result.exit_code,
        current.trigger,
        plan.action_id,
        result,
    )
