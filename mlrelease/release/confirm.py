"""How much a person must say before an action runs: a reason, and the model name typed out.

The planner puts the answer on every plan (:attr:`Plan.confirmation`), so both faces read
one rule instead of applying their own: the CLI asks for ``--reason`` where
:func:`needs_reason` says so and, when it asks interactively, for the model name typed
out where the plan says so; the TUI asks for the same in its plan modal (k9s and lazygit
users lost work to single keystrokes; production is where that costs most).
"""

from __future__ import annotations

from mlrelease.registry.types import Config
from mlrelease.release.kinds import KINDS
from mlrelease.release.plan import Confirmation, Plan


def needs_reason(kind: str) -> bool:
    """The audit trail records why: required for these, optional (a comment) for the rest."""
    return KINDS[kind].reason_required


def needs_typed_name(config: Config, kind: str, environment: str | None) -> bool:
    """True for a deploying action on the last environment in order, or one that requires approvals."""
    if not KINDS[kind].deploying or environment is None or not config.environments:
        return False
    env = config.environment(environment)
    if env is None:
        return False
    return env.name == config.environments[-1].name or env.gates.approvals > 0


def confirmation(config: Config, plan: Plan) -> Confirmation:
    """The policy for ``plan``: a reason where needed (always when forcing), a typed name where it costs most."""
    r = plan.request
    forcing = (r.force and bool(plan.failing)) or r.break_glass  # a break-glass approval is an override too
    typed = needs_typed_name(config, r.kind, r.environment) or forcing
    return Confirmation(reason_required=needs_reason(r.kind) or forcing, typed_name=(r.model or None) if typed else None)
