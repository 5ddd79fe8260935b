"""One look at a rollout: judge the current step and decide what to do, as ordinary actions.

:func:`evaluate` reads the release state (:mod:`.position`), asks the environment's
telemetry source for both arms' figures over the current step (``[step began, now]``),
judges them (:mod:`.judge`) and decides, in this order:

1. **abort** — a critical metric fails. Before the step's hold is over this is an
   *interim look* and needs the stricter Haybittle-Peto level (:data:`INTERIM_SIGNIFICANCE`),
   so checking often does not inflate false aborts; after it, the metric's own level. The
   challenger is rejected with the evidence as the reason, then rolled back (the canary
   goes to weight 0 and the environment is pinned).
2. **abort** — the rollout is older than ``max_duration`` (rolled back, not rejected:
   running out of time is not evidence against the model).
3. **hold** — the step's hold is not over: until when.
4. **person** — a non-critical metric fails, the step has ``pause: true``, or the canary's
   weight is not one of the steps: a person decides (``rollout --advance`` or ``--abort``).
5. **hold** — some metric is inconclusive (not enough data, the interval straddles the
   tolerance, the source is unavailable): with the samples still needed.
6. **advance** to the next step's weight, or **finish** (the full promotion) after the last.

A pinned environment (``rollout --pause``, a rollback's pin) holds: the person who pinned
it decides. Nothing here writes: the decision carries the :class:`Request` objects that
the release service then plans, shows, re-checks at the tip and executes like any action,
so every step is audited, gated and idempotent (a second run finds the new state and holds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlrelease.errors import ExitCode, MlreleaseError, NotFound, SourceError
from mlrelease.registry.durations import format_duration
from mlrelease.registry.loader import Registry
from mlrelease.registry.rollout import Strategy
from mlrelease.registry.types import Environment
from mlrelease.release.plan import Request
from mlrelease.rollout.judge import FAIL, Judgement, MetricVerdict, amount, judge
from mlrelease.rollout.position import Position, position
from mlrelease.telemetry.arms import ArmFigures, arm_figures
from mlrelease.telemetry.base import SourceContext, TelemetrySource, source_for

INTERIM_SIGNIFICANCE = 0.001  # Haybittle-Peto: an early abort needs p < 0.001-strength evidence
ADVANCE, FINISH, HOLD, ABORT, PERSON, IDLE, BLOCKED = "advance", "finish", "hold", "abort", "person", "idle", "blocked"
EXIT = {
    ADVANCE: ExitCode.OK,
    FINISH: ExitCode.OK,
    HOLD: ExitCode.OK,
    IDLE: ExitCode.OK,
    ABORT: ExitCode.ROLLOUT_ABORTED,
    PERSON: ExitCode.NEEDS_PERSON,
    BLOCKED: ExitCode.STALE_STATE,
}

SourceFactory = Callable[[Environment, Registry], TelemetrySource]


@dataclass(frozen=True)
class Decision:
    action: str  # advance | finish | hold | abort | person | idle | blocked
    message: str  # one line: what and why
    requests: tuple[Request, ...] = ()  # what the release service is asked to do, in order
    until: datetime | None = None  # hold: the earliest time the next look can decide

    @property
    def exit_code(self) -> ExitCode:
        return EXIT[self.action]

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.action,
            "message": self.message,
            "until": self.until,
            "requests": [{"action": r.kind, "version": r.version, "canary": r.canary, "reason": r.reason} for r in self.requests],
        }


@dataclass(frozen=True)
class Evaluation:
    model: str
    environment: str
    at: datetime
    position: Position | None
    decision: Decision
    judgement: Judgement | None = None
    arms: dict[str, ArmFigures] = field(default_factory=dict)
    source: str | None = None  # where the figures came from

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "environment": self.environment,
            "at": self.at,
            "rollout": self.position.to_json() if self.position else None,
            "decision": self.decision.to_json(),
            "analysis": self.judgement.to_json() if self.judgement else None,
            "source": self.source,
        }


def default_source(env: Environment, reg: Registry) -> TelemetrySource:
    return source_for(env, SourceContext(reg))


def strategy_env(reg: Registry, environment: str) -> Environment:
    env = reg.config.environment(environment)
    if env is None:
        raise NotFound(f"no environment {environment!r} in mlrelease.yaml (environments: {', '.join(reg.config.environment_names)})")
    if env.rollout is None:
        raise MlreleaseError(
            f"environment {environment!r} has no rollout strategy (environments[].rollout in mlrelease.yaml; see docs/rollouts.md)"
        )
    return env


def evaluate(
    reg: Registry, model: str, environment: str, now: datetime, *, sources: SourceFactory = default_source, strategy: Strategy | None = None
) -> Evaluation:
    """Judge the current step of ``model``'s rollout in ``environment`` at ``now`` and decide. Changes nothing.

    ``strategy``: judge with this one instead of the environment's (the A/B report of an
    environment that has none).
    """
    env = reg.config.environment(environment) if strategy is not None else strategy_env(reg, environment)
    if env is None:
        raise NotFound(f"no environment {environment!r} in mlrelease.yaml")
    strategy = strategy or env.rollout
    assert strategy is not None
    reg.model(model)
    pos = position(reg, strategy, environment, model)
    if pos is None:
        return Evaluation(model, environment, now, None, Decision(IDLE, _idle(reg, model, environment)))
    source = sources(env, reg)
    try:
        arms, unavailable = _figures(source, pos, now)
        where = source.describe()
    finally:
        source.close()
    champion = arms.get(pos.champion)
    challenger = arms.get(pos.challenger)
    notes = tuple(dict.fromkeys(n for a in arms.values() for n in a.notes))
    catalogue = reg.config.metrics
    observed = (champion.observations if champion else {}, challenger.observations if challenger else {})
    shown = judge(strategy.checks, catalogue, *observed, unavailable=unavailable, notes=notes)
    hold_end = pos.step_since + timedelta(seconds=pos.current.hold) if pos.current else None
    interim = hold_end is not None and now < hold_end
    looked = judge(strategy.checks, catalogue, *observed, significance=INTERIM_SIGNIFICANCE, unavailable=unavailable) if interim else shown
    decision = decide(pos, looked, now)
    return Evaluation(model, environment, now, pos, decision, shown, arms, where)


def _figures(source: TelemetrySource, pos: Position, now: datetime) -> tuple[dict[str, ArmFigures], str | None]:
    try:
        return arm_figures(source, pos.model, pos.environment, (pos.champion, pos.challenger), pos.step_since, now), None
    except SourceError as exc:
        return {}, str(exc)


def _idle(reg: Registry, model: str, environment: str) -> str:
    state = reg.release(environment, model)
    if state is not None and state.pin is not None and state.desired is not None and state.desired.action == "rollback":
        return f"no rollout of {model} in {environment}: rolled back and pinned ({state.pin.reason or 'no reason given'})"
    return f"no rollout of {model} in {environment}: no canary is live (start one with `mlrelease rollout {model}@VERSION --env {environment}`)"


# ---- the decision ------------------------------------------------------------------------------


def decide(pos: Position, judgement: Judgement, now: datetime) -> Decision:
    where = pos.describe()
    if pos.pending:
        return Decision(BLOCKED, f"{where}: an action here is still Pending; wait for it, or run `mlrelease reconcile`")
    step = pos.current
    hold_end = pos.step_since + timedelta(seconds=step.hold) if step else None
    critical = judgement.critical_failures
    if critical:
        return _abort(pos, f"critical {_names(critical)} failed", judgement, reject=True)
    deadline = pos.started + timedelta(seconds=pos.strategy.max_duration) if pos.strategy.max_duration else None
    if deadline is not None and now >= deadline:
        why = f"not finished within max_duration {format_duration(pos.strategy.max_duration or 0)} (started {pos.started:%Y-%m-%d %H:%M}Z)"
        return _abort(pos, why, judgement, reject=False)
    if pos.pin is not None:
        return Decision(
            HOLD, f"{where}: paused — pinned by {pos.pin.by} ({pos.pin.reason or 'no reason given'}); `mlrelease unpin` resumes it"
        )
    if step is None:
        weights = ", ".join(f"{s.weight:g}%" for s in pos.strategy.steps)
        return Decision(PERSON, f"{where}: {pos.weight:g}% is not one of the steps ({weights}); a person advances or aborts it")
    assert hold_end is not None
    if now < hold_end:
        return Decision(HOLD, f"{where}: holding until {hold_end:%Y-%m-%d %H:%M}Z (hold {format_duration(step.hold)})", until=hold_end)
    failed = judgement.failures
    if failed:
        return Decision(PERSON, f"{where}: {_names(failed)} failed (not critical); a person decides: --advance or --abort")
    unsure = judgement.inconclusive
    if unsure or judgement.unavailable:
        return Decision(HOLD, f"{where}: {_unsure(unsure, judgement, pos, now)}", until=_settles_at(unsure, pos, now))
    passed = "every metric passes" if judgement.verdicts else "the hold is over (no metrics analysed)"
    if step.pause:
        return Decision(
            PERSON,
            f"{where}: every metric passes; this step waits for a person (`mlrelease rollout {pos.model} --env {pos.environment} --advance`)",
        )
    evidence = summary(judgement)
    if pos.last:
        reason = f"rollout of {pos.challenger}: all {pos.steps} steps passed; {evidence}"
        return Decision(FINISH, f"{where}: {passed}; full promotion", (_promote(pos, None, reason),))
    nxt = pos.next_weight
    assert nxt is not None and pos.step is not None
    reason = f"rollout of {pos.challenger}: step {pos.step + 1} of {pos.steps} passed; {evidence}"
    return Decision(ADVANCE, f"{where}: {passed}; on to {nxt:g}% (step {pos.step + 2})", (_promote(pos, nxt, reason),))


def _promote(pos: Position, weight: float | None, reason: str) -> Request:
    return Request("promote", pos.model, pos.challenger, pos.environment, reason, weight, trigger="rollout")


def _abort(pos: Position, why: str, judgement: Judgement, *, reject: bool) -> Decision:
    evidence = summary(judgement, only_failed=reject)
    reason = f"rollout of {pos.challenger} aborted at {pos.weight:g}%: {why}; {evidence}"
    rollback = Request("rollback", pos.model, pos.champion, pos.environment, reason, trigger="rollout")
    requests = (Request("reject", pos.model, pos.challenger, None, reason, trigger="rollout"), rollback) if reject else (rollback,)
    return Decision(ABORT, f"{pos.describe()}: {why}; rolling back to {pos.champion}", requests)


def _names(verdicts: tuple[MetricVerdict, ...]) -> str:
    return ", ".join(v.metric for v in verdicts)


def _unsure(unsure: tuple[MetricVerdict, ...], judgement: Judgement, pos: Position, now: datetime) -> str:
    if judgement.unavailable:
        return f"inconclusive, source unavailable ({judgement.unavailable})"
    parts = [f"{v.metric} inconclusive ({v.reason})" for v in unsure]
    at = _settles_at(unsure, pos, now)
    return "; ".join(parts) + (f"; at this traffic, settled around {at:%Y-%m-%d %H:%M}Z" if at else "")


def _settles_at(unsure: tuple[MetricVerdict, ...], pos: Position, now: datetime) -> datetime | None:
    """When the traffic seen so far would bring in the samples still needed (the slowest metric)."""
    elapsed = (now - pos.step_since).total_seconds()
    worst = 0.0
    for v in unsure:
        if v.more_samples is None:
            return None
        for more, have in zip(v.more_samples, (v.n_champion, v.n_challenger), strict=True):
            if more <= 0:
                continue
            if have <= 0 or elapsed <= 0:
                return None
            worst = max(worst, more / (have / elapsed))
    return now + timedelta(seconds=math.ceil(worst)) if worst else None


def figure(v: MetricVerdict, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3%}" if v.shape == "rate" else f"{value:.4g}"


def change(v: MetricVerdict, value: float | None) -> str:
    return amount(v.shape, value, sign=True)


def evidence_of(v: MetricVerdict) -> str:
    """One metric's evidence in one line: figures, estimate, interval, p-value, test, samples."""
    if v.delta is None:
        return f"{v.metric} {v.verdict}: {v.reason}"
    p = "p < 1e-16" if v.p_value is not None and v.p_value < 1e-16 else f"p = {v.p_value:.3g}"
    return (
        f"{v.metric} {v.verdict}: challenger {figure(v, v.challenger)} vs champion {figure(v, v.champion)}, "
        f"Δ {change(v, v.delta)} ({v.confidence:.0%} CI {change(v, v.low)} to {change(v, v.high)}), {p} ({v.test}), "
        f"n {v.n_challenger:,.0f}/{v.n_champion:,.0f}, tolerated worsening {change(v, v.margin)}{', critical' if v.critical else ''}"
    )


def summary(judgement: Judgement, *, only_failed: bool = False) -> str:
    chosen = [v for v in judgement.verdicts if v.verdict == FAIL] if only_failed else list(judgement.verdicts)
    if not chosen:
        return "no metrics analysed" if not judgement.verdicts else "every metric passes"
    text = "; ".join(evidence_of(v) for v in chosen)
    rest = len(judgement.verdicts) - len(chosen)
    return text + (f" (and {rest} other metric{'s' if rest != 1 else ''})" if only_failed and rest else "")
