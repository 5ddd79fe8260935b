"""The release service: the whole loop of an action, for every face.

Every face (the CLI, the TUI, the telemetry trigger) runs the same loop, and the service
owns each step of it, so a face only shows and asks::

    service = ReleaseService(root)             # push: as mlrelease.yaml's remote: says
    plan = service.prepare(request)            # 1. fetch (with a remote), 2. plan at that tip
    show(plan)                                 # 3. a face shows plan.gates, backend_call, commits
    if not plan.runnable: exit(plan.exit_code) #    blocked / refused / nothing to do: --dry-run's code
    ask(plan.confirmation)                     #    reason_required, typed_name: one rule for all faces
    result = service.execute(plan.with_reason(reason), progress)
    exit(result.exit_code)

:meth:`execute` is the one door every write passes through (read-only is enforced
here). It **re-checks at the tip** being written on — inside each commit attempt, after
the fetch — and refuses with :class:`~mlrelease.release.plan.PlanChanged` (exit 4,
carrying the fresh plan to show again) when what the person judged
(:meth:`Plan.judged`) differs there. Then it **executes exactly the re-checked plan**:
the intent commit, the backend call and the outcome commit all come from it.
:meth:`plan` (no fetch) re-plans under the same action id when a person changes a
canary weight or the override in a face.

Promotions, rollbacks and retraining requests are two-phase (see
:mod:`mlrelease.release.twophase` for where each is written); each state is committed
before the next step:

1. **intent** commit: desired set, ``observed: Pending`` (pushed first when a remote is
   used, so nothing is deployed that the record does not show);
2. **backend** ``execute(action)`` with the action id as the idempotency key;
3. **outcome** commit: Succeeded or Failed, with the backend's reference and a redacted
   one-line message. It conflicts with nobody but its own intent, so its push is retried
   for longer than an intent's: losing races to others' pushes never loses it.

A process killed anywhere leaves an intent Pending (never shown as live), which
``reconcile`` finishes (:mod:`mlrelease.release.reconcile`). Unpin, approve and reject
are one commit each. See docs/actions.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.backends import backend_for
from mlrelease.backends.base import Backend, BackendContext, Outcome
from mlrelease.backends.record import RecordBackend
from mlrelease.errors import ExitCode, GateRefused, MlreleaseError, ReadOnly, UsageError
from mlrelease.gitstore import gitwrite, locks, transaction
from mlrelease.gitstore.gitwrite import Identity
from mlrelease.gitstore.transaction import Change, Target
from mlrelease.registry import layout, signing, yamlsafe
from mlrelease.registry.config import parse_config
from mlrelease.registry.gitio import cat_file, git_config
from mlrelease.registry.layout import CONFIG
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Approval, Config, Pin, Rejection, RemoteConfig, Review
from mlrelease.release import announce, backendcall, kinds, reconcile
from mlrelease.release import state as release_state
from mlrelease.release.ids import new_id
from mlrelease.release.plan import OwnPlanner, Plan, PlanChanged, Progress, ProgressHook, Request, Result
from mlrelease.release.planner import BackendResolver, Context, make_plan
from mlrelease.release.twophase import Slot, slot_for

if TYPE_CHECKING:
    from mlrelease.registry.protected import Protected
    from mlrelease.release.proposal import Trailers

# An outcome commit conflicts only with its own intent: others' pushes can delay it, never
# make it wrong, so it keeps trying this many times longer than an intent would.
OUTCOME_PATIENCE = 10


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _gate_summary(plan: Plan) -> str:
    return "; ".join(f"{g.name}: {g.detail}" for g in plan.failing)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """An outcome commit as written (or not, when someone recorded the same answer first)."""

    commits: tuple[str, ...]
    pushed: bool
    note: str | None


class ReleaseService:
    """Actions on one registry. ``push``: None = push when mlrelease.yaml has ``remote:``."""

    def __init__(
        self,
        registry_root: Path,
        *,
        push: bool | None = None,
        readonly: bool = False,
        resolver: BackendResolver | None = None,
        identity: Identity | None = None,
        clock: Callable[[], datetime] = _now,
        attempts: int = gitwrite.PUSH_ATTEMPTS,
        seconds: float = gitwrite.PUSH_SECONDS,
    ) -> None:
        self.readonly = readonly
        self._clock = clock
        self._identity = identity
        self._attempts = attempts
        self._seconds = seconds
        self._backends: dict[str | None, Backend] = {}
        self._own_key: signing.OwnKey | str | None = None
        self._resolver = resolver or self._configured_backend
        local = transaction.target(registry_root)
        remote = self._configured_remote(local)
        if push is None:
            push = remote is not None
        self.target: Target = local
        self._missing_remote: str | None = None  # planning needs no remote; writing refuses without it
        if push:
            name = remote.name if remote else "origin"
            if f"remote.{name}.url" not in git_config(local.git_root):
                self._missing_remote = f"git remote {name!r} is not configured in {local.git_root} (add it, or use --no-push)"
            else:
                self.target = dataclasses.replace(local, remote=name, branch=remote.branch if remote else local.branch)

    # ---- set-up ------------------------------------------------------------------------------

    @staticmethod
    def _config_at(t: Target, ref: str) -> Config | None:
        """mlrelease.yaml at ``ref`` through the shared cat-file (no registry opened); None where there is none."""
        found = cat_file(t.git_root).object(f"{ref}:{t.git_path(CONFIG)}")
        if found is None or found[1] != "blob":
            return None
        return parse_config(yamlsafe.load(found[2], CONFIG), CONFIG)

    @classmethod
    def _configured_remote(cls, t: Target) -> RemoteConfig | None:
        """``remote:`` of mlrelease.yaml at the local branch tip: where to push is known before planning."""
        config = cls._config_at(t, f"refs/heads/{t.branch}")
        return config.remote if config else None

    def _configured_backend(self, config: Config, name: str | None) -> Backend:
        if name is None or (name == "record" and name not in config.backends):
            context = BackendContext(registry_root=self.target.registry_root, environ=dict(os.environ))
            return RecordBackend("record", {}, context)
        return backend_for(config, name, self.target.registry_root)

    def backend(self, config: Config, name: str | None) -> Backend:
        """One instance per name for the service's life: planned and executed by the same object."""
        if name not in self._backends:
            self._backends[name] = self._resolver(config, name)
        return self._backends[name]

    @property
    def actor(self) -> Identity:
        if self._identity is None:
            self._identity = gitwrite.identity(self.target.git_root)
        return self._identity

    def now(self) -> datetime:
        return self._clock()

    def _context(self) -> Context:
        return Context(
            actor=str(self.actor), now=self._clock(), resolve=self.backend, readonly=self.readonly, signing_key=self._signing_key
        )

    def _signing_key(self) -> signing.OwnKey | str:
        """The key git signs this user's commits with (asked once: signed environments need it to plan)."""
        if self._own_key is None:
            self._own_key = signing.own_key(self.target.git_root)
        return self._own_key

    @property
    def base_ref(self) -> str:
        """What plans are computed at: the remote branch as last fetched, else the local branch."""
        t = self.target
        if t.remote is not None and gitwrite.rev(t.git_root, f"refs/remotes/{t.remote}/{t.branch}") is not None:
            return f"refs/remotes/{t.remote}/{t.branch}"
        if gitwrite.rev(t.git_root, f"refs/heads/{t.branch}") is None:
            raise MlreleaseError(f"branch {t.branch} has no commits yet in {t.git_root}; commit the registry first")
        return f"refs/heads/{t.branch}"

    def refresh(self) -> None:
        """Fetch the remote branch so the next plan sees what others pushed (no-op without a remote)."""
        t = self.target
        if t.remote is not None:
            with locks.repo_lock(t.git_root):
                gitwrite.fetch(t.git_root, t.remote, t.branch)

    # ---- planning --------------------------------------------------------------------------------

    def prepare(self, request: Request, *, fetch: bool = True, planner: OwnPlanner | None = None) -> Plan:
        """Steps 1 and 2 of every face's loop: fetch what others pushed (with a remote), plan at that tip."""
        if fetch:
            self.refresh()
        return self.plan(request, planner=planner)

    def plan(self, request: Request, *, action_id: str | None = None, planner: OwnPlanner | None = None) -> Plan:
        """What ``request`` would do at the last fetched tip, with every gate and its numbers. Changes nothing.

        ``action_id``: plan again under the id a person already saw (a face re-plans when
        the canary weight or the override changes); a fresh id otherwise. ``planner``: an
        action planned above this layer (:class:`~mlrelease.release.plan.OwnPlanner`).
        """
        make = planner.plan if planner is not None else make_plan
        with Registry(self.target.registry_root, self.base_ref) as reg:
            return make(reg, request, self._context(), action_id=action_id or new_id(datetime.now(UTC)))

    def prepare_bundle(
        self,
        targets: Sequence[tuple[str, str | None]],
        environment: str,
        *,
        name: str | None = None,
        reason: str | None = None,
        fetch: bool = True,
    ) -> Plan:
        """A release bundle's plan (:mod:`mlrelease.release.bundle`): ``targets`` (model, version or None) or bundle ``name``."""
        from mlrelease.release import bundle  # a bundle's code (and the history it reads) only for bundles

        if fetch:
            self.refresh()
        with Registry(self.target.registry_root, self.base_ref) as reg:
            requests = bundle.requests(reg.config, "promote", targets, environment, name=name, reason=reason)
            return self._bundle(reg, requests, name)

    def rollback_bundle(self, bundle_id: str, *, environment: str | None, reason: str | None, fetch: bool = True) -> Plan:
        """``rollback --bundle ID``: every member of bundle ID back to what was live before it, as a bundle of its own."""
        from mlrelease.release import bundle  # a bundle's code (and the history it reads) only for bundles

        if fetch:
            self.refresh()
        with Registry(self.target.registry_root, self.base_ref) as reg:
            return self._bundle(reg, bundle.rollback_requests(reg, bundle_id, environment, reason), None)

    def _bundle(self, reg: Registry, requests: list[Request], name: str | None) -> Plan:
        from mlrelease.release import bundle  # a bundle's code (and the history it reads) only for bundles

        return bundle.make_plan(reg, requests, self._context(), name=name, bundle_id=None, ids=None)

    def run_two_phase(self, plan: Plan, say: Callable[[Progress], None]) -> Result:
        """A promote or rollback planned at the tip, carried out without the faces' refusals (a bundle's own undo)."""
        return self._two_phase(plan, slot_for(plan), say)

    def refresh_after(self, committed: transaction.Committed) -> None:
        """Bring the checkout to a pushed commit whose refresh was put off (errors are the action's to report)."""
        with contextlib.suppress(MlreleaseError):
            self._refresh(committed)

    # ---- execution: the one door -------------------------------------------------------------------

    def execute(self, plan: Plan, progress: ProgressHook | None = None) -> Result:
        """Carry out a plan made by :meth:`prepare` or :meth:`plan`, re-checked at the tip.

        Refusals raise (:class:`PlanChanged` when the tip disagrees with what was shown);
        a backend failure is a Result (exit 5). Once everything is recorded, the outcome
        is announced to the channels of mlrelease.yaml's ``notify:`` (:mod:`release.announce`);
        a notification that fails is a note on the Result, never a different outcome.
        """
        try:
            result = self._execute(plan, progress)
        except GateRefused:
            self._announce(announce.refusal(plan))
            raise
        return announce.with_deliveries(result, self._announce(announce.messages(result)))

    def _announce(self, found: list[announce.Message]) -> tuple[announce.Delivery, ...]:
        if not found:
            return ()
        try:
            config = self._config_at(self.target, self.base_ref)  # the file alone: a registry opened again cost a whole read
        except MlreleaseError:
            config = None
        if config is None:
            return ()  # without a readable mlrelease.yaml there is no notify section to follow
        return announce.announce(self.target.registry_root, config.notify, found)

    def _execute(self, plan: Plan, progress: ProgressHook | None) -> Result:
        if self.readonly:
            raise ReadOnly("read-only mode (--readonly): actions are disabled")
        if self._missing_remote is not None:
            raise MlreleaseError(self._missing_remote)
        if plan.block is not None:
            raise plan.block.error()
        if plan.noop is not None:
            return Result(plan, "noop", plan.noop)
        r = plan.request
        if (plan.confirmation.reason_required or r.force) and not (r.reason or "").strip():
            raise UsageError(f"{r.kind}{' --force' if r.force else ''} needs a reason: it is recorded in the audit trail")
        if plan.refused:
            raise GateRefused(f"refused by {len(plan.failing)} gate{'s' if len(plan.failing) > 1 else ''}: {_gate_summary(plan)}")
        say = progress or (lambda _p: None)
        if plan.members:
            from mlrelease.release import bundle

            return bundle.run(self, plan, say, lambda reg: bundle.replan(reg, plan, self._context()))
        flow = kinds.KINDS[r.kind].flow
        if flow == "reconcile":
            return reconcile.run(self, plan, say)
        protected = self._protected(plan) if flow == "two-phase" else None
        if protected is not None:  # a pull request instead; its module (and the forge client) loaded only here
            from mlrelease.release import proposal

            return proposal.propose(self, plan, slot_for(plan), protected, say)
        if flow == "two-phase":
            return self._two_phase(plan, slot_for(plan), say)
        return self._single(plan, say)

    def _protected(self, plan: Plan) -> Protected | None:
        """The protection of the plan's environment for a promotion or rollback (None: written directly),
        from mlrelease.yaml at the plan's base through the shared pipe: no registry opened for it."""
        r = plan.request
        if not kinds.KINDS[r.kind].deploying:
            return None
        config = self._config_at(self.target, self.base_ref)
        env = config.environment(r.environment or "") if config is not None else None
        return env.protected if env is not None else None

    def apply(self, build: transaction.Builder, *, patience: int = 1, first: bool = True, refresh: bool = True) -> transaction.Committed:
        """One commit through the transaction, with ``patience`` times the configured retry budget.

        ``first``: the action's first commit, refused over uncommitted edits of its files;
        ``refresh=False``: the local branch and checkout are brought up later (:meth:`_refresh`).
        """
        if self._missing_remote is not None:
            raise MlreleaseError(self._missing_remote)
        return transaction.apply(
            self.target,
            build,
            author=self.actor,
            attempts=self._attempts * patience,
            seconds=self._seconds * patience,
            guard_checkout=first,
            refresh=refresh,
        )

    def _refresh(self, committed: transaction.Committed) -> str | None:
        """Bring the local branch and checkout to a pushed commit whose refresh was put off."""
        if not committed.pushed or committed.commit is None:
            return None
        return transaction.fast_forward_local(self.target, committed.commit, list(committed.paths))

    def recheck(self, reg: Registry, shown: Plan) -> Plan | None:
        """The plan again at the tip being written on: None if there is nothing left to do, or the same plan."""
        make = shown.planner.plan if shown.planner is not None else make_plan
        now = make(reg, shown.request, self._context(), action_id=shown.action_id)
        if now.block is not None:
            raise now.block.error()
        if now.noop is not None:
            return None  # someone did the same meanwhile
        if now.judged() != shown.judged():
            if now.refused:
                raise PlanChanged(f"refused by gates at commit time: {_gate_summary(now)}", now)
            r = shown.request
            was = shown.expected.describe() if shown.expected else "the plan shown"
            is_ = now.expected.describe() if now.expected else "gone"
            raise PlanChanged(
                f"{r.model}{f' in {r.environment}' if r.environment else ''} changed since this was planned: "
                f"you saw {was}, it is now {is_}; look at the new plan and retry",
                now,
            )
        return now

    # ---- two-phase: promote, rollback, retrain ---------------------------------------------------

    def _two_phase(self, shown: Plan, slot: Slot, say: Callable[[Progress], None]) -> Result:
        action_id = shown.action_id or ""
        landed = False
        checked: Plan | None = None

        def intent(reg: Registry) -> Change | None:
            nonlocal landed, checked
            if slot.landed(reg, action_id):
                landed = True  # an earlier attempt landed (a push reported as failed that was not)
                return None
            checked = self.recheck(reg, shown)
            return slot.intent(reg, checked) if checked is not None else None

        say(Progress("intent", f"recording the intent: {shown.title}"))
        # With a remote, the checkout is refreshed once, after the outcome (or however the action ends).
        committed = self.apply(intent, refresh=False)
        if committed.commit is None and not landed:
            return Result(shown, "noop", "nothing to do: someone already did it")
        refreshed: list[str | None] = []
        try:
            return self._after_intent(shown, checked or shown, slot, committed, say, refreshed)
        finally:
            if not refreshed:
                with contextlib.suppress(MlreleaseError):  # the action's own error is the one to report
                    self._refresh(committed)

    def _after_intent(
        self,
        shown: Plan,
        plan: Plan,
        slot: Slot,
        committed: transaction.Committed,
        say: Callable[[Progress], None],
        refreshed: list[str | None],
    ) -> Result:
        """Steps 2 and 3 of a two-phase action: the backend call, then the outcome commit.

        ``plan`` is exactly what was re-checked at the tip: it runs and is recorded.
        ``refreshed`` gets the note of the checkout refresh once it is done.
        """
        action_id = shown.action_id or ""
        done = tuple(c for c in (committed.commit,) if c)
        backend, action = plan.executor, plan.action
        if backend is None or action is None:
            raise MlreleaseError(f"{plan.title}: the plan has no backend call")
        say(Progress("backend", f"calling backend {backend.name} for {slot.noun} {action_id}"))
        outcome, error = backendcall.in_flight(self.target.registry_root, backend, action_id, lambda: backend.execute(action))
        if outcome is None:
            refreshed.append(self._refresh(committed))
            return Result(
                plan,
                "pending",
                f"backend {backend.name}: {error}; the {slot.noun} {action_id} is left Pending (not live). "
                "Run `mlrelease reconcile` to ask the backend what happened and record it.",
                ExitCode.BACKEND_FAILED,
                commits=done,
                phase="Pending",
                pushed=committed.pushed,
                notes=tuple(n for n in refreshed if n),
            )
        say(Progress("outcome", f"recording the outcome: {'Succeeded' if outcome.ok else 'Failed'}"))
        rec = self.record_outcome(slot, plan, outcome, recorder=None)
        if rec.commits:
            refreshed.append(rec.note)  # the outcome's push refreshed the checkout
        ref = release_state.redacted(outcome.reference)
        phase, code = ("Succeeded", ExitCode.OK) if outcome.ok else ("Failed", ExitCode.BACKEND_FAILED)
        notes = tuple(n for n in (committed.note, rec.note) if n)
        status = "done" if outcome.ok else "failed"
        return Result(
            plan, status, slot.summary(plan, outcome, ref), code, done + rec.commits, phase, ref, committed.pushed or rec.pushed, notes
        )

    def record_outcome(self, slot: Slot, plan: Plan, outcome: Outcome, *, recorder: str | None, extra: Trailers = None) -> Recorded:
        """The outcome commit of ``plan``; ``recorder``: reconcile's actor; ``extra``: a protected environment's trailers."""
        action_id = plan.action_id or ""
        backendcall.keep_log(self.target.git_root, action_id, outcome)
        at = self._clock()

        def build(reg: Registry) -> Change | None:
            return slot.outcome(reg, plan, outcome, at=at, recorder=recorder, extra=extra)

        try:
            committed = self.apply(build, patience=OUTCOME_PATIENCE, first=False)
        except MlreleaseError as exc:
            phase = "Succeeded" if outcome.ok else "Failed"
            raise MlreleaseError(
                f"the backend reported {phase} for {slot.noun} {action_id} ({plan.title}), but recording it failed: {exc}. "
                "The registry still shows it Pending, never as done; run `mlrelease reconcile` to record the outcome.",
                exc.exit_code,
            ) from None
        return Recorded(tuple(c for c in (committed.commit,) if c), committed.pushed, committed.note)

    # ---- single-commit actions: unpin, approve, reject ------------------------------------------

    def _single(self, shown: Plan, say: Callable[[Progress], None]) -> Result:
        r = shown.request

        def build(reg: Registry) -> Change | None:
            now = self.recheck(reg, shown)
            return self._single_change(reg, now) if now is not None else None

        say(Progress("commit", shown.title))
        committed = self.apply(build)
        if committed.commit is None:
            return Result(shown, "noop", "nothing to do: someone already did it")
        done = {
            "unpin": f"{r.model} is no longer pinned in {r.environment}",
            "pin": f"{r.model} is pinned in {r.environment}: promotions and rollouts wait until `mlrelease unpin`",
            "approve": f"approved {r.model} {r.version} for {r.environment} as {self.actor}",
            "reject": f"rejected {r.model} {r.version}: it cannot be promoted again without --force",
            "review": f"reviewed the break-glass promotion of {r.model} in {r.environment}: it is no longer flagged",
        }[r.kind]
        if r.finding is not None:
            done = f"accepted the findings of commit {r.finding[:10]} on the record: verify lists them as accepted"
        elif r.kind == "approve" and r.break_glass:
            done = f"approved break-glass for {r.model} {r.version} in {r.environment} as {self.actor}: someone else may now force it, once"
        notes = tuple(n for n in (committed.note,) if n)
        return Result(shown, "done", done, ExitCode.OK, (committed.commit,), pushed=committed.pushed, notes=notes)

    def _single_change(self, reg: Registry, plan: Plan) -> Change:
        if plan.planner is not None:
            return plan.planner.change(reg, plan)
        r = plan.request
        model, env = r.model or "", r.environment or ""
        message = plan.commits[0].message()
        if r.kind == "reject":
            rejection = Rejection(version=r.version or "", by=plan.actor, at=plan.at, reason=r.reason or "")
            path = layout.rejections_path(model)
            return Change({path: release_state.dump_rejections(model, (*reg.rejections(model), rejection))}, message)
        state = reg.release(env, model) or release_state.empty(model, env)
        if r.kind == "unpin":
            new = release_state.without_pin(state)
        elif r.kind == "pin":
            new = release_state.with_pin(state, Pin(by=plan.actor, at=plan.at, reason=r.reason))
        elif r.kind == "review":
            new = release_state.with_review(state, Review(by=plan.actor, at=plan.at, comment=r.reason or ""))
        else:
            approval = Approval(version=r.version or "", by=plan.actor, at=plan.at, comment=r.reason, break_glass=r.break_glass)
            new = release_state.with_approval(state, approval)
        return Change({layout.release_path(env, model): release_state.dump_release(new)}, message)

    # ---- reconcile ------------------------------------------------------------------------------

    def reconcile_plan(self, *, environment: str | None = None, model: str | None = None) -> Plan:
        return self.plan(Request("reconcile", model=model, environment=environment))
