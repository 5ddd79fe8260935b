"""The A/B report of a canary: the judgement, and each arm's input drift (``mlrelease ab``, the TUI's A/B tab).

Besides the metric verdicts (:mod:`.judge`), the report compares inputs. Per arm, PSI
by feature of its live inputs against *its own version's* training profile (the usual
drift), and PSI of the challenger's live inputs against the champion's: both arms get
traffic from the same population at the same time, so that figure should be near 0 — a
large one points at routing (one arm sees other customers), not at the model.

An environment without a rollout strategy still gets a report, over the built-in figures
with no tolerance (so a pass there needs evidence of an improvement), and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mlrelease.errors import NotFound
from mlrelease.registry.loader import Registry
from mlrelease.registry.rollout import BUILTIN, Check, Step, Strategy
from mlrelease.registry.types import Tolerance
from mlrelease.rollout.decide import Evaluation, SourceFactory, default_source, evaluate
from mlrelease.telemetry.drift import FeatureDrift, profile_drift, training_baseline

NO_STRATEGY = "this environment has no rollout strategy: judged on the built-in figures with no tolerance"


@dataclass(frozen=True)
class ArmDrift:
    version: str
    features: tuple[FeatureDrift, ...]  # live inputs against the version's training profile
    baseline: str | None  # where the training profile came from
    note: str | None = None


@dataclass(frozen=True)
class Report:
    evaluation: Evaluation
    drift: tuple[ArmDrift, ...] = ()
    between: tuple[FeatureDrift, ...] = ()  # challenger's live inputs against the champion's
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        def features(items: tuple[FeatureDrift, ...]) -> list[dict[str, object]]:
            return [{"feature": f.feature, "psi": f.psi, "level": f.level, "note": f.note} for f in items]

        return {
            **self.evaluation.to_json(),
            "drift": [{"version": d.version, "baseline": d.baseline, "note": d.note, "features": features(d.features)} for d in self.drift],
            "drift_between_arms": features(self.between),
            "notes": list(self.notes),
        }


def default_strategy(weight: float) -> Strategy:
    checks = tuple(Check(name, shape, Tolerance()) for name, (shape, _goal) in BUILTIN.items())
    return Strategy(steps=(Step(weight, 0.0),), checks=checks)


def ab_report(reg: Registry, model: str, environment: str, now: datetime, *, sources: SourceFactory = default_source) -> Report:
    env = reg.config.environment(environment)
    if env is None:
        raise NotFound(f"no environment {environment!r} in mlrelease.yaml (environments: {', '.join(reg.config.environment_names)})")
    notes: tuple[str, ...] = ()
    strategy = env.rollout
    if strategy is None:
        state = reg.release(environment, model)
        weight = state.live.canary.weight if state and state.live and state.live.canary else 10.0
        strategy, notes = default_strategy(weight), (NO_STRATEGY,)
    evaluation = evaluate(reg, model, environment, now, sources=sources, strategy=strategy)
    pos = evaluation.position
    if pos is None:
        return Report(evaluation, notes=notes)
    drift = []
    for version in (pos.champion, pos.challenger):
        arm = evaluation.arms.get(version)
        try:
            baseline = training_baseline(reg, reg.version(model, version))
        except NotFound:
            baseline = None
        if arm is None or arm.profile is None:
            drift.append(ArmDrift(version, (), baseline.source if baseline else None, "no live input profile for this version"))
        elif baseline is None:
            drift.append(ArmDrift(version, (), None, "no training profile (version manifest or its train data set)"))
        else:
            drift.append(ArmDrift(version, profile_drift(baseline.profile, arm.profile), baseline.source))
    champion, challenger = evaluation.arms.get(pos.champion), evaluation.arms.get(pos.challenger)
    between: tuple[FeatureDrift, ...] = ()
    if champion and challenger and champion.profile and challenger.profile:
        between = profile_drift(champion.profile, challenger.profile)
    return Report(evaluation, tuple(drift), between, notes)


# ---- progress, for the overview and --watch ----------------------------------------------------


def in_progress(reg: Registry, now: datetime, *, sources: SourceFactory = default_source) -> list[Evaluation]:
    """An evaluation of every canary live where a rollout strategy is set (the dashboard's overview)."""
    out = []
    for env in reg.config.environments:
        if env.rollout is None:
            continue
        for (name, model), state in sorted(reg.releases([]).items()):
            if name == env.name and state.live is not None and state.live.canary is not None:
                out.append(evaluate(reg, model, env.name, now, sources=sources))
    return out


def next_look(evaluation: Evaluation) -> datetime | None:
    """When the rollout can next decide: the hold's end, or when the missing samples should be in."""
    return evaluation.decision.until


def next_text(evaluation: Evaluation) -> str:
    """What the next look does, in a few words: ``hold until 12-05 18:55Z (value_detection_rate inconclusive)``."""
    d, pos = evaluation.decision, evaluation.position
    if pos is None:
        return d.message
    waiting = ", ".join(v.metric for v in evaluation.judgement.inconclusive) if evaluation.judgement else ""
    if d.action == "hold":
        if pos.pin is not None:
            return f"paused: pinned by {pos.pin.by}"
        why = f" ({waiting} inconclusive)" if waiting and pos.current and evaluation.at >= pos.step_since else ""
        return (f"hold until {d.until:%m-%d %H:%M}Z" if d.until else "hold") + why
    if d.action == "advance" and d.requests and d.requests[0].canary is not None:
        return f"advance to {d.requests[0].canary:g}%"
    if d.action == "finish":
        return "full promotion"
    if d.action == "abort":
        return f"abort: roll back to {pos.champion}"
    if d.action == "person":
        return "waits for a person (A advances, b aborts)"
    return d.action


def progress_text(evaluation: Evaluation, *, what_next: bool = True) -> str:
    """``step 2 of 4 · 25% · next decision 14:20Z · so far: inconclusive``: one line per rollout.

    ``what_next=False`` leaves the next decision out, for a view that says it whole (:func:`next_text`).
    """
    pos = evaluation.position
    if pos is None:
        return evaluation.decision.message
    where = f"step {pos.step + 1} of {pos.steps}" if pos.step is not None else "off the steps"
    parts = [f"{pos.challenger} {where}", f"{pos.weight:g}%"]
    until = next_look(evaluation)
    if pos.pin is not None:
        parts.append("paused")
    elif not what_next:
        pass
    elif until is not None:
        parts.append(f"next decision {until:%m-%d %H:%M}Z")
    elif evaluation.decision.action in ("advance", "finish"):
        parts.append(f"next: {evaluation.decision.action}")
    elif evaluation.decision.action == "person":
        parts.append("waits for a person")
    elif evaluation.decision.action == "abort":
        parts.append("next: abort")
    if evaluation.judgement is not None and evaluation.judgement.verdicts:
        parts.append(f"so far: {evaluation.judgement.overall}")
    return " · ".join(parts)
