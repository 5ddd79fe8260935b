"""A rollout step through the release service: look, then act with ordinary actions.

Both faces (``mlrelease rollout`` and the TUI) use this: :meth:`Rollouts.look` fetches
(with a remote) and evaluates at the tip the service plans at; :meth:`Rollouts.manual`
is what a person asks for (advance, abort, pause, resume, start); :meth:`Rollouts.act`
plans each request of a decision at the tip, lets the face confirm it, and executes it
through :meth:`ReleaseService.execute` — the one door, which re-checks at the tip and
writes the intent and outcome commits. A request whose plan is a no-op (someone did the
same meanwhile) is skipped; one that is blocked or refused stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from mlrelease.errors import ExitCode, MlreleaseError, UsageError
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Plan, ProgressHook, Request, Result
from mlrelease.release.service import ReleaseService
from mlrelease.rollout.decide import (
    ABORT,
    ADVANCE,
    FINISH,
    HOLD,
    Decision,
    Evaluation,
    SourceFactory,
    default_source,
    evaluate,
    strategy_env,
    summary,
)
from mlrelease.rollout.position import Position


@dataclass(frozen=True)
class Acted:
    """What acting on a decision did: each request's plan and result (None: not run), and the exit code."""

    evaluation: Evaluation
    steps: tuple[tuple[Plan, Result | None], ...]
    exit_code: ExitCode
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            **self.evaluation.to_json(),
            "actions": [{"plan": p.to_json(), "result": r.to_json() if r else None} for p, r in self.steps],
            "exit_code": int(self.exit_code),
            "message": self.message,
        }


Confirm = Callable[[Plan], bool]


def manual_request(pos: Position, what: str, reason: str | None) -> Request:
    """What a person's ``advance`` | ``abort`` | ``pause`` | ``resume`` is, as an action (the TUI asks the reason in its plan dialog)."""
    m, env = pos.model, pos.environment
    if what == "pause":
        return Request("pin", m, None, env, reason)
    if what == "resume":
        return Request("unpin", m, None, env, reason)
    if what == "abort":
        return Request(
            "rollback", m, pos.champion, env, f"rollout of {pos.challenger} aborted: {reason}" if reason else None, trigger="rollout"
        )
    if what != "advance":
        raise UsageError(f"a rollout can be advanced, aborted, paused or resumed, not {what!r}")
    later = [s.weight for s in pos.strategy.steps if s.weight > pos.weight + 1e-9]
    weight = later[0] if later else None
    said = f"rollout of {pos.challenger} advanced: {reason}" if reason else None
    return Request("promote", m, pos.challenger, env, said, weight, trigger="rollout")


class Rollouts:
    def __init__(self, service: ReleaseService, *, sources: SourceFactory = default_source) -> None:
        self.service = service
        self.sources = sources

    def _registry(self) -> Registry:
        return Registry(self.service.target.registry_root, self.service.base_ref)

    def look(self, model: str, environment: str, *, fetch: bool = True) -> Evaluation:
        """Evaluate at the tip that actions will be planned at (after a fetch, with a remote)."""
        if fetch:
            self.service.refresh()
        with self._registry() as reg:
            return evaluate(reg, model, environment, self.service.now(), sources=self.sources)

    def active(self, environment: str | None = None) -> list[tuple[str, str]]:
        """(environment, model) of every canary live in an environment with a rollout strategy."""
        with self._registry() as reg:
            envs = {e.name for e in reg.config.environments if e.rollout is not None and environment in (None, e.name)}
            if environment is not None and environment not in envs:
                strategy_env(reg, environment)  # names the problem
            return sorted(
                (env, model)
                for (env, model), s in reg.releases([]).items()
                if env in envs and s.live is not None and s.live.canary is not None
            )

    def manual(self, evaluation: Evaluation, what: str, reason: str | None, *, version: str | None = None) -> Decision:
        """What a person asked for, as a decision: ``advance`` | ``abort`` | ``pause`` | ``resume`` | ``start``."""
        if not (reason or "").strip():
            raise UsageError(f"rollout --{what} needs --reason TEXT: it is recorded in the audit trail")
        m, env, pos = evaluation.model, evaluation.environment, evaluation.position
        if what == "start":
            return self._start(evaluation, version or "", reason or "")
        if pos is None:
            raise MlreleaseError(f"no rollout of {m} in {env} to {what}: no canary is live there")
        evidence = summary(evaluation.judgement) if evaluation.judgement else "no analysis"
        request = manual_request(pos, what, f"{reason} (by hand at {pos.weight:g}%; {evidence})")
        if what in ("pause", "resume"):
            return Decision(HOLD, f"{pos.describe()}: {'pausing' if what == 'pause' else 'resuming'}", (request,))
        if what == "abort":
            return Decision(ABORT, f"{pos.describe()}: aborting by hand; rolling back to {pos.champion}", (request,))
        weight = request.canary
        what_next = f"on to {weight:g}%" if weight is not None else "full promotion"
        return Decision(FINISH if weight is None else ADVANCE, f"{pos.describe()}: advancing by hand, {what_next}", (request,))

    def _start(self, evaluation: Evaluation, version: str, reason: str) -> Decision:
        pos = evaluation.position
        if pos is not None:
            if pos.challenger == version:
                return evaluation.decision  # already under way: just the next look
            raise MlreleaseError(f"a rollout of {pos.challenger} is under way in {evaluation.environment}; finish or abort it first")
        with self._registry() as reg:
            strategy = strategy_env(reg, evaluation.environment).rollout
        assert strategy is not None
        first = strategy.steps[0]
        request = Request(
            "promote",
            evaluation.model,
            version,
            evaluation.environment,
            f"rollout of {version} starts at {first.weight:g}%: {reason}",
            first.weight,
            trigger="rollout",
        )
        return Decision(ADVANCE, f"starting the rollout of {version} at {first.weight:g}% (step 1 of {len(strategy.steps)})", (request,))

    def plans(self, decision: Decision) -> list[Plan]:
        """Every request's plan at the current tip (for --dry-run: what acting would do)."""
        return [self.service.plan(r) for r in decision.requests]

    def act(self, evaluation: Evaluation, decision: Decision, confirm: Confirm, progress: ProgressHook | None = None) -> Acted:
        """Plan each request at the tip, confirm it, execute it; stop at the first that does not go through."""
        steps: list[tuple[Plan, Result | None]] = []
        for request in decision.requests:
            plan = self.service.plan(request)
            if plan.noop is not None:
                steps.append((plan, None))
                continue
            if not plan.runnable:
                steps.append((plan, None))
                return Acted(evaluation, tuple(steps), plan.exit_code, plan.block.message if plan.block else "refused by gates")
            if not confirm(plan):
                steps.append((plan, None))
                return Acted(evaluation, tuple(steps), ExitCode.PROBLEM, "cancelled; nothing more was changed")
            result = self.service.execute(plan, progress)
            steps.append((plan, result))
            if result.exit_code != ExitCode.OK:
                return Acted(evaluation, tuple(steps), result.exit_code, result.message)
        done = [r for _, r in steps if r is not None and r.status == "done"]
        message = decision.message if done or not decision.requests else f"{decision.message} (nothing new: already done)"
        return Acted(replace(evaluation, decision=decision), tuple(steps), decision.exit_code, message)
