"""Every action the release service offers, in one table: what each needs and how it runs.

The planner, the service, the confirmation policy and both faces read this table instead
of keeping their own lists, so a new kind of action is added in one place (plus its
planner function).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    verb: str  # for buttons and titles
    flow: str  # two-phase (intent → backend → outcome) | single (one commit) | reconcile
    reason_required: bool  # the audit trail records why (optional comment otherwise)
    deploying: bool  # changes what runs, or what may run, in an environment
    environment: bool  # acts in one environment (a face asks which)
    version: bool  # acts on one version (MODEL@VERSION)
    model_optional: bool = False  # without a model: every model (reconcile)


# In the order a face lists them (the TUI's palette).
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("promote", "Promote", "two-phase", True, True, True, True),
        Kind("rollback", "Roll back", "two-phase", True, True, True, False),
        Kind("retrain", "Retrain", "two-phase", True, False, False, False),
        Kind("approve", "Approve", "single", False, False, True, True),
        Kind("reject", "Reject", "single", True, False, False, True),
        Kind("unpin", "Unpin", "single", True, True, True, False),  # a reason like every change (issue 15.6)
        Kind("pin", "Pin", "single", True, False, True, False),  # a hold: promotions (and rollouts) wait until unpin
        Kind("review", "Review", "single", True, False, True, False),
        Kind("reconcile", "Reconcile", "reconcile", False, False, False, False, model_optional=True),
    )
}
