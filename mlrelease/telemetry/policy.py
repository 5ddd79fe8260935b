"""The retraining policy: when a live model is due, why (with the numbers), and what to trigger.

Rules, from ``retrain.policy`` in mlrelease.yaml with per-model overrides
(``retrain.models.<model>``, see :meth:`RetrainConfig.policy_for`):

* ``age`` — the live version was trained more than ``max_age_days`` ago;
* ``psi`` — some feature's PSI reaches ``psi_threshold``;
* ``metric:<name>`` — a live metric is worse than its validation figure by at least
  ``metric_drop[<name>]``, in the metric's own units (absolute, by its goal).

Each rule is checked per environment where the model is live. A model is *due* when any
rule fires anywhere. Triggering is at most once per rule within the cadence
(``cadence_days``, :data:`DEFAULT_CADENCE_DAYS` when unset), judged from the recorded
retrain requests in ``retrain/<model>.yaml``: a request whose trigger is
``policy:<rule>[,<rule>...]`` covers those rules; a request started by hand covers every
rule (someone already asked for a retraining); a request that Failed covers nothing, so
the next run tries again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlrelease.registry.types import MetricDef, RetrainPolicy, RetrainRequest
from mlrelease.telemetry.drift import DriftReport

DEFAULT_CADENCE_DAYS = 7.0
POLICY_PREFIX = "policy:"


@dataclass(frozen=True)
class Reason:
    """One rule that fired, for one environment, with the figure and the limit it crossed."""

    rule: str  # age | psi | metric:<name>
    environment: str
    version: str
    value: float
    threshold: float
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "environment": self.environment,
            "version": self.version,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
        }


def _render(catalogue: Mapping[str, MetricDef], metric: str, value: float) -> str:
    definition = catalogue.get(metric)
    return definition.render(value) if definition else f"{value:.4g}"


def reasons(report: DriftReport, policy: RetrainPolicy, catalogue: Mapping[str, MetricDef]) -> tuple[Reason, ...]:
    """The rules of ``policy`` that fire for one live version in one environment."""
    env, ver = report.environment, report.version
    out: list[Reason] = []
    if policy.max_age_days is not None and report.age_days > policy.max_age_days:
        out.append(
            Reason(
                "age",
                env,
                ver,
                report.age_days,
                policy.max_age_days,
                f"{env} runs {ver}, trained {report.age_days:.1f} days ago (max {policy.max_age_days:g})",
            )
        )
    if policy.psi_threshold is not None:
        drifted = sorted(
            (f for f in report.features if f.psi is not None and f.psi >= policy.psi_threshold), key=lambda f: f.psi or 0.0, reverse=True
        )
        if drifted:
            worst = drifted[0]
            moved = ", ".join(f"{b.bin} {b.expected:.1%}→{b.actual:.1%}" for b in worst.moved())
            also = "; also " + ", ".join(f"{f.feature} {f.psi:.3f}" for f in drifted[1:]) if len(drifted) > 1 else ""
            message = f"{env}: input drift in {worst.feature}, PSI {worst.psi:.3f} ≥ {policy.psi_threshold:g} (moved most: {moved}){also}"
            out.append(Reason("psi", env, ver, worst.psi or 0.0, policy.psi_threshold, message))
    for m in report.metrics:
        allowed = policy.metric_drop.get(m.metric)
        drop = m.drop
        if allowed is None or drop is None or drop < allowed:
            continue
        message = (
            f"{env}: {m.metric} {_render(catalogue, m.metric, m.live)} live vs {_render(catalogue, m.metric, m.validation)} "
            f"at validation of {ver}, {drop:.4g} worse (allowed {allowed:g})"
        )
        out.append(Reason(f"metric:{m.metric}", env, ver, drop, allowed, message))
    return tuple(out)


def rules_of(trigger: str) -> frozenset[str]:
    """The rules a recorded trigger names; empty for a retraining started by hand."""
    if not trigger.startswith(POLICY_PREFIX):
        return frozenset()
    return frozenset(r.strip() for r in trigger[len(POLICY_PREFIX) :].split(",") if r.strip())


@dataclass(frozen=True)
class Decision:
    """Whether one model is due, and which of its reasons may trigger a retraining now."""

    model: str
    reasons: tuple[Reason, ...]  # the worst of each rule across environments
    cadence_days: float
    covered: Mapping[str, RetrainRequest] = field(default_factory=dict)  # rule → request within the cadence

    @property
    def due(self) -> bool:
        return bool(self.reasons)

    @property
    def to_trigger(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.rule not in self.covered)

    @property
    def trigger(self) -> str | None:
        """The trigger to record for a retraining now (``policy:psi,age``), None when all are covered."""
        rules = [r.rule for r in self.to_trigger]
        return POLICY_PREFIX + ",".join(rules) if rules else None

    @property
    def summary(self) -> str:
        """The reason to record with the retraining: every rule it is for, with the numbers."""
        return "; ".join(r.message for r in self.to_trigger)

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "due": self.due,
            "reasons": [
                r.to_json() | {"requested": _request_json(self.covered[r.rule]) if r.rule in self.covered else None} for r in self.reasons
            ],
            "cadence_days": self.cadence_days,
            "trigger": self.trigger,
        }


def _request_json(request: RetrainRequest) -> dict[str, object]:
    return {"id": request.id, "at": request.at, "trigger": request.trigger, "phase": request.phase, "actor": request.actor}


def decide(model: str, found: Iterable[Reason], requests: Iterable[RetrainRequest], policy: RetrainPolicy, now: datetime) -> Decision:
    """Keep the worst reason per rule, and mark rules a recent request already covers."""
    worst: dict[str, Reason] = {}
    for r in found:
        if r.rule not in worst or r.value > worst[r.rule].value:
            worst[r.rule] = r
    cadence = cadence_of(policy)
    return Decision(model, tuple(worst.values()), cadence, covered(worst, requests, cadence, now))


def cadence_of(policy: RetrainPolicy) -> float:
    return policy.cadence_days if policy.cadence_days is not None else DEFAULT_CADENCE_DAYS


def covered(rules: Iterable[str], requests: Iterable[RetrainRequest], cadence_days: float, now: datetime) -> dict[str, RetrainRequest]:
    """Which of ``rules`` a request within the cadence already covers (newest request per rule).

    A Failed request covers nothing (the next run tries again); one started by hand covers
    every rule. The release planner asks this again at the branch tip it writes on, so two
    jobs deciding at once still trigger a rule at most once.
    """
    wanted = set(rules)
    since = now - timedelta(days=cadence_days)
    out: dict[str, RetrainRequest] = {}
    for request in sorted(requests, key=lambda q: q.at, reverse=True):
        if request.at < since or request.phase == "Failed":
            continue
        for rule in (rules_of(request.trigger) or frozenset(wanted)) & wanted:
            out.setdefault(rule, request)
    return out
