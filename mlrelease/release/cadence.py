"""The retraining cadence: which rules a recorded retraining request already covers.

A policy trigger is recorded as ``policy:<rule>[,<rule>...]`` in ``retrain/<model>.yaml``.
Triggering is at most once per rule within the cadence (``cadence_days``,
:data:`DEFAULT_CADENCE_DAYS` when unset): a request whose trigger names rules covers those
rules; a request started by hand covers every rule (someone already asked for a
retraining); a request that Failed covers nothing, so the next run tries again.

This lives with the release side, not with telemetry's policy that decides *why* a model is
due, because the planner asks it again at the branch tip it writes on: two jobs deciding at
once still trigger a rule at most once, and the planner must not depend on telemetry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from mlrelease.registry.loader import Registry
from mlrelease.registry.types import RetrainPolicy, RetrainRequest
from mlrelease.release.plan import Request

DEFAULT_CADENCE_DAYS = 7.0
POLICY_PREFIX = "policy:"


def rules_of(trigger: str) -> frozenset[str]:
    """The rules a recorded trigger names; empty for a retraining started by hand."""
    if not trigger.startswith(POLICY_PREFIX):
        return frozenset()
    return frozenset(r.strip() for r in trigger[len(POLICY_PREFIX) :].split(",") if r.strip())


def cadence_of(policy: RetrainPolicy) -> float:
    return policy.cadence_days if policy.cadence_days is not None else DEFAULT_CADENCE_DAYS


def covered(rules: Iterable[str], requests: Iterable[RetrainRequest], cadence_days: float, now: datetime) -> dict[str, RetrainRequest]:
    """Which of ``rules`` a request within the cadence already covers (newest request per rule)."""
    wanted = set(rules)
    since = now - timedelta(days=cadence_days)
    out: dict[str, RetrainRequest] = {}
    for request in sorted(requests, key=lambda q: q.at, reverse=True):
        if request.at < since or request.phase == "Failed":
            continue
        for rule in (rules_of(request.trigger) or frozenset(wanted)) & wanted:
            out.setdefault(rule, request)
    return out


def already_requested(reg: Registry, req: Request, now: datetime) -> str | None:
    """Why a policy trigger has nothing to start (every rule is covered), or None."""
    rules = rules_of(req.trigger)
    if not rules:
        return None  # started by hand: always a new request
    model = req.model or ""
    cadence = cadence_of(reg.config.retrain.policy_for(model))
    hit = covered(rules, reg.retrain_requests(model), cadence, now)
    if set(hit) < rules:
        return None
    ids = ", ".join(sorted({q.id for q in hit.values()}))
    return f"every rule of {req.trigger} was already requested for {model} within the {cadence:g}-day cadence ({ids})"
