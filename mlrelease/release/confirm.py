"""How much a person must say before an action runs: a reason, and the model name typed out.

Both faces apply the same rule: the CLI's ``--reason`` is required where :func:`needs_reason`
says so, and an interactive face asks for the model name typed out where
:func:`needs_typed_name` says so (k9s and lazygit users lost work to single keystrokes;
production is where that costs most).
"""

from __future__ import annotations

from mlrelease.registry.types import Config

REASON_REQUIRED = frozenset({"promote", "rollback", "retrain", "reject"})
# Actions that change what runs, or what may run, in an environment.
DEPLOYING = frozenset({"promote", "rollback", "unpin"})


def needs_reason(kind: str) -> bool:
    """The audit trail records why: required for these, optional (a comment) for the rest."""
    return kind in REASON_REQUIRED


def needs_typed_name(config: Config, kind: str, environment: str | None) -> bool:
    """True for a deploying action on the last environment in order, or one that requires approvals."""
    if kind not in DEPLOYING or environment is None or not config.environments:
        return False
    env = config.environment(environment)
    if env is None:
        return False
    return env.name == config.environments[-1].name or env.gates.approvals > 0
