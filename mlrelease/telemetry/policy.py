"""The retraining policy: when a live model is due, why (with the numbers), and what to trigger.

Rules, from ``retrain.policy`` in mlrelease.yaml with per-model overrides
(``retrain.models.<model>``, see :meth:`RetrainConfig.policy_for`):

* ``age`` — the live version was trained more than ``max_age_days`` ago;
* ``psi`` — some feature's PSI reaches ``psi_threshold``;
* ``metric:<name>`` — a live metric is worse than its validation figure by at least
  ``metric_drop[<name>]``, in the metric's own units (absolute, by its goal).

Each rule is checked per environment where the model is live. A model is *due* when any
rule fires anywhere. Triggering is at most once per rule within the cadence, judged from
the recorded retrain requests by :mod:`mlrelease.release.cadence` (which the planner asks
again at the branch tip).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mlrelease.registry.types import MetricDef, RetrainPolicy, RetrainRequest
from mlrelease.release.cadence import POLICY_PREFIX, cadence_of, covered
from mlrelease.telemetry.drift import DriftReport


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
