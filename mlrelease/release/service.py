"""The release service: plan → gates → execute → record, for every action and every face.

A face asks for a plan (:meth:`ReleaseService.plan`, no side effects), shows it, and
hands it back to :meth:`ReleaseService.execute` — the one door every write passes
through, where read-only mode is enforced. Promotions, rollbacks and retraining requests
run as a small state machine whose every state is committed before the next step:

1. **intent** commit: ``desired`` set, ``observed: Pending``, ``live`` unchanged (pushed
   first when a remote is used, so nothing is deployed that the record does not show);
2. **backend** ``execute(action)`` with the promotion id as the idempotency key;
3. **outcome** commit: Succeeded (``live`` moves) or Failed (``live`` stays), with the
   backend's reference and a redacted one-line message.

A process killed anywhere leaves an intent Pending (never shown as live), which
:meth:`reconcile` finishes: it asks the backend for the status of that promotion id and
records the answer; when the backend cannot tell, it calls ``execute`` again with the same
id (idempotent by the backend contract) and records that answer. See docs/actions.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mlrelease.backends import backend_for
from mlrelease.backends.base import Action, Backend, BackendContext, Outcome
from mlrelease.backends.record import RecordBackend
from mlrelease.errors import ExitCode, MlreleaseError, UsageError
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.gitio import git
from mlrelease.registry.layout import CONFIG
from mlrelease.registry.loader import Registry
from mlrelease.registry.parse import parse_config
from mlrelease.registry.types import Approval, Config, Rejection, ReleaseState, RemoteConfig, RetrainRequest
from mlrelease.release import commits, gitwrite, transaction
from mlrelease.release import state as st
from mlrelease.release.commits import Deploy
from mlrelease.release.confirm import needs_reason
from mlrelease.release.gitwrite import Identity
from mlrelease.release.ids import new_id
from mlrelease.release.plan import Block, PendingItem, Plan, Progress, ProgressHook, Request, Result
from mlrelease.release.planner import BackendResolver, Context, action_for, make_plan
from mlrelease.release.refusals import GateRefused, ReadOnly, StaleState
from mlrelease.release.transaction import Change, Target
from mlrelease.secrets import redact


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _raise_block(block: Block) -> None:
    kinds: dict[int, type[MlreleaseError]] = {ExitCode.READ_ONLY: ReadOnly, ExitCode.STALE_STATE: StaleState}
    raise kinds.get(block.exit_code, MlreleaseError)(block.message)


def _gate_summary(plan: Plan) -> str:
    return "; ".join(f"{g.name}: {g.detail}" for g in plan.failing)


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
        attempts: int = 20,
        seconds: float = 60.0,
    ) -> None:
        self.readonly = readonly
        self._clock = clock
        self._identity = identity
        self._attempts = attempts
        self._seconds = seconds
        self._backends: dict[str | None, Backend] = {}
        self._resolver = resolver or self._configured_backend
        local = transaction.target(registry_root)
        remote = self._configured_remote(local)
        if push is None:
            push = remote is not None
        self.target: Target = local
        if push:
            name = remote.name if remote else "origin"
            if git(local.git_root, "remote", "get-url", name, check=False).returncode != 0:
                raise MlreleaseError(f"git remote {name!r} is not configured in {local.git_root} (add it, or use --no-push)")
            self.target = dataclasses.replace(local, remote=name, branch=remote.branch if remote else local.branch)

    # ---- set-up ------------------------------------------------------------------------------

    @staticmethod
    def _configured_remote(t: Target) -> RemoteConfig | None:
        """``remote:`` of mlrelease.yaml at the local branch tip: where to push is known before planning."""
        path = t.git_path(CONFIG)
        proc = git(t.git_root, "cat-file", "blob", f"refs/heads/{t.branch}:{path}", check=False)
        if proc.returncode != 0:
            return None
        return parse_config(yamlsafe.load(proc.stdout, CONFIG), CONFIG).remote

    def _configured_backend(self, config: Config, name: str | None) -> Backend:
        if name is None or (name == "record" and name not in config.backends):
            context = BackendContext(registry_root=self.target.registry_root, environ=dict(os.environ))
            return RecordBackend("record", {}, context)
        return backend_for(config, name, self.target.registry_root)

    def _backend(self, config: Config, name: str | None) -> Backend:
        """One instance per name for the service's life: planned and executed by the same object."""
        if name not in self._backends:
            self._backends[name] = self._resolver(config, name)
        return self._backends[name]

    @property
    def actor(self) -> Identity:
        if self._identity is None:
            self._identity = gitwrite.identity(self.target.git_root)
        return self._identity

    def _context(self) -> Context:
        return Context(actor=str(self.actor), now=self._clock(), resolve=self._backend, readonly=self.readonly)

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
            with gitwrite.repo_lock(t.git_root):
                gitwrite.fetch(t.git_root, t.remote, t.branch)

    # ---- planning --------------------------------------------------------------------------------

    def plan(self, request: Request, *, action_id: str | None = None) -> Plan:
        """What ``request`` would do, with every gate and its numbers. Changes nothing.

        ``action_id``: plan again under the id a person already saw (the TUI re-plans with
        the reason typed after the first plan was shown); a fresh id otherwise.
        """
        with Registry(self.target.registry_root, self.base_ref) as reg:
            return make_plan(reg, request, self._context(), action_id=action_id or new_id(datetime.now(UTC)))

    # ---- execution: the one door -------------------------------------------------------------------

    def execute(self, plan: Plan, progress: ProgressHook | None = None) -> Result:
        """Carry out a plan made by :meth:`plan`. Refusals raise; a backend failure is a Result (exit 5)."""
        if self.readonly:
            raise ReadOnly("read-only mode (--readonly): actions are disabled")
        if plan.block is not None:
            _raise_block(plan.block)
        if plan.noop is not None:
            return Result(plan, "noop", plan.noop)
        r = plan.request
        if (needs_reason(r.kind) or r.force) and not (r.reason or "").strip():
            raise UsageError(f"{r.kind}{' --force' if r.force else ''} needs a reason: it is recorded in the audit trail")
        if plan.refused:
            raise GateRefused(f"refused by {len(plan.failing)} gate{'s' if len(plan.failing) > 1 else ''}: {_gate_summary(plan)}")
        say = progress or (lambda _p: None)
        kind = plan.request.kind
        if kind in ("promote", "rollback"):
            return self._deploy(plan, say)
        if kind == "retrain":
            return self._retrain(plan, say)
        if kind == "reconcile":
            return self._reconcile(plan, say)
        return self._record(plan, say)

    def _apply(self, build: transaction.Builder) -> transaction.Committed:
        return transaction.apply(self.target, build, author=self.actor, attempts=self._attempts, seconds=self._seconds)

    def _recheck(self, reg: Registry, plan: Plan) -> Plan:
        """Re-plan at the tip being written on: same gates, same expected state, or no write."""
        now = make_plan(reg, plan.request, self._context(), action_id=plan.action_id)
        if now.block is not None:
            _raise_block(now.block)
        if plan.expected is not None and now.expected != plan.expected:
            r = plan.request
            raise StaleState(
                f"{r.model} in {r.environment} changed since this was planned: you saw {plan.expected.describe()}, "
                f"it is now {now.expected.describe() if now.expected else 'gone'}; look again and retry"
            )
        if now.refused:
            raise GateRefused(f"refused by gates at commit time: {_gate_summary(now)}")
        return now

    # ---- promote and rollback ------------------------------------------------------------------------

    def _deploy(self, plan: Plan, say: Callable[[Progress], None]) -> Result:
        r = plan.request
        env, model, aid = r.environment or "", r.model or "", plan.action_id or ""
        path = layout.release_path(env, model)
        ours_already = False

        def intent(reg: Registry) -> Change | None:
            nonlocal ours_already
            current = reg.release(env, model)
            if current is not None and current.desired is not None and current.desired.promotion_id == aid:
                ours_already = True  # an earlier attempt landed (e.g. a push reported as failed that was not)
                return None
            now = self._recheck(reg, plan)
            if now.noop is not None or now.desired is None:
                return None
            base = current or st.empty(model, env)
            new = st.with_intent(base, now.desired, now.backend or "record", pin=now.pin)
            return Change({path: st.dump_release(new)}, commits.intent(_deploy_of(now), path).message())

        say(Progress("intent", f"recording the intent: {plan.title}"))
        committed = self._apply(intent)
        if committed.commit is None and not ours_already:
            return Result(plan, "noop", f"nothing to do: {model} in {env} is already as asked")
        commits_done = tuple(c for c in (committed.commit,) if c)
        backend, action = _executor(plan)
        say(Progress("backend", f"calling backend {backend.name} for promotion {aid}"))
        outcome, error = self._call(lambda: backend.execute(action))
        if outcome is None:
            return Result(
                plan,
                "pending",
                f"backend {backend.name} raised an error: {error}; the promotion {aid} is left Pending (not live). "
                "Run `mlrelease reconcile` to ask the backend what happened and record it.",
                ExitCode.BACKEND_FAILED,
                commits=commits_done,
                phase="Pending",
                pushed=committed.pushed,
            )
        say(Progress("outcome", f"recording the outcome: {'Succeeded' if outcome.ok else 'Failed'}"))
        recorded = self._record_outcome(plan, env, model, aid, outcome, by_reconcile=False)
        return self._deploy_result(plan, outcome, commits_done + recorded.commits, committed, recorded)

    @staticmethod
    def _call(fn: Callable[[], Outcome | None]) -> tuple[Outcome | None, str | None]:
        """A backend call: an exception means "outcome unknown", never "failed" (it may have deployed)."""
        try:
            return fn(), None
        except Exception as exc:  # a plugin's bug must not lose the record of what may have happened
            return None, redact(f"{type(exc).__name__}: {exc}")

    def _keep_log(self, aid: str, outcome: Outcome) -> None:
        """The backend's full output, redacted, beside the repository (never committed)."""
        if not outcome.log:
            return
        logs = gitwrite.git_dir(self.target.git_root) / "mlrelease" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"{aid}.log").write_text(redact(outcome.log), encoding="utf-8")

    def _record_outcome(self, plan: Plan, env: str, model: str, aid: str, outcome: Outcome, *, by_reconcile: bool) -> _Recorded:
        self._keep_log(aid, outcome)
        phase = "Succeeded" if outcome.ok else "Failed"
        ref = redact(outcome.reference) if outcome.reference else None
        path = layout.release_path(env, model)

        def build(reg: Registry) -> Change | None:
            current = reg.release(env, model)
            if current is None or current.observed is None or current.observed.promotion_id != aid:
                raise MlreleaseError(
                    f"{path}: promotion {aid} is no longer the one in the release state, so its outcome ({phase}) cannot be recorded"
                )
            if current.observed.phase != "Pending":
                if current.observed.phase == phase:
                    return None  # someone (reconcile) recorded the same answer first
                raise MlreleaseError(
                    f"{path}: promotion {aid} was already recorded as {current.observed.phase}, and the backend now says {phase}"
                )
            new = st.with_outcome(current, ok=outcome.ok, at=self._clock(), backend_ref=ref, message=outcome.message)
            facts = _deploy_of(plan, actor=str(self.actor) if by_reconcile else None)
            message = new.observed.message if new.observed else None
            preview = commits.outcome(facts, path, phase=phase, backend_ref=ref, message=message, by_reconcile=by_reconcile)
            return Change({path: st.dump_release(new)}, preview.message())

        try:
            committed = self._apply(build)
        except MlreleaseError as exc:
            raise MlreleaseError(
                f"the backend reported {phase} for promotion {aid} ({model} in {env}), but recording it failed: {exc}. "
                "The registry still shows it Pending, never as live; run `mlrelease reconcile` to record the outcome.",
                exc.exit_code,
            ) from None
        return _Recorded(tuple(c for c in (committed.commit,) if c), committed.pushed, committed.note)

    def _deploy_result(self, plan: Plan, outcome: Outcome, done: tuple[str, ...], intent: transaction.Committed, rec: _Recorded) -> Result:
        r = plan.request
        what = f"{r.model} {plan.version}"
        notes = tuple(n for n in (intent.note, rec.note) if n)
        ref = redact(outcome.reference) if outcome.reference else None
        message = st.one_line(outcome.message)
        if outcome.ok:
            where = f" as canary at {r.canary:g}%" if r.canary is not None else ""
            pinned = " and pinned" if r.kind == "rollback" else ""
            text = f"{what} is live in {r.environment}{where}{pinned} (promotion {plan.action_id}"
            text += f", backend ref {ref})" if ref else ")"
            return Result(plan, "done", text, ExitCode.OK, done, "Succeeded", ref, intent.pushed or rec.pushed, notes)
        text = f"backend {plan.backend} failed to deploy {what} to {r.environment}: {message or 'no message'}; recorded as Failed, nothing changed in what is live"
        return Result(plan, "failed", text, ExitCode.BACKEND_FAILED, done, "Failed", ref, intent.pushed or rec.pushed, notes)

    # ---- single-commit actions: unpin, approve, reject ------------------------------------------

    def _record(self, plan: Plan, say: Callable[[Progress], None]) -> Result:
        r = plan.request

        def build(reg: Registry) -> Change | None:
            now = self._recheck(reg, plan)
            if now.noop is not None:
                return None
            return self._single_change(reg, now)

        say(Progress("commit", plan.title))
        committed = self._apply(build)
        if committed.commit is None:
            return Result(plan, "noop", "nothing to do: someone already did it")
        done = {
            "unpin": f"{r.model} is no longer pinned in {r.environment}",
            "approve": f"approved {r.model} {r.version} for {r.environment} as {self.actor}",
            "reject": f"rejected {r.model} {r.version}: it cannot be promoted again without --force",
        }[r.kind]
        return Result(
            plan, "done", done, ExitCode.OK, (committed.commit,), pushed=committed.pushed, notes=tuple(n for n in (committed.note,) if n)
        )

    def _single_change(self, reg: Registry, plan: Plan) -> Change:
        r = plan.request
        model, env = r.model or "", r.environment or ""
        now = plan.at
        message = plan.commits[0].message()
        if r.kind == "reject":
            rejection = Rejection(version=r.version or "", by=plan.actor, at=now, reason=r.reason or "")
            path = layout.rejections_path(model)
            return Change({path: st.dump_rejections(model, (*reg.rejections(model), rejection))}, message)
        state: ReleaseState = reg.release(env, model) or st.empty(model, env)
        if r.kind == "unpin":
            new = st.without_pin(state)
        else:
            new = st.with_approval(state, Approval(version=r.version or "", by=plan.actor, at=now, comment=r.reason))
        return Change({layout.release_path(env, model): st.dump_release(new)}, message)

    # ---- retrain --------------------------------------------------------------------------------

    def _retrain(self, plan: Plan, say: Callable[[Progress], None]) -> Result:
        r = plan.request
        model, aid = r.model or "", plan.action_id or ""
        path = layout.retrain_path(model)
        ours_already = False

        def intent(reg: Registry) -> Change | None:
            nonlocal ours_already
            existing = reg.retrain_requests(model)
            if any(q.id == aid for q in existing):
                ours_already = True
                return None
            now = self._recheck(reg, plan)
            if now.noop is not None:
                return None  # another job requested the same rules meanwhile
            request = RetrainRequest(
                id=aid, at=now.at, actor=now.actor, reason=r.reason or "", trigger=r.trigger, backend=now.backend, phase="Pending"
            )
            return Change({path: st.dump_retrain(model, (*existing, request))}, now.commits[0].message())

        say(Progress("intent", plan.title))
        committed = self._apply(intent)
        if committed.commit is None and not ours_already:
            return Result(plan, "noop", f"nothing to do: retraining of {model} was already requested for these reasons")
        done = tuple(c for c in (committed.commit,) if c)
        backend, action = _executor(plan)
        say(Progress("backend", f"calling backend {backend.name} for retraining request {aid}"))
        outcome, error = self._call(lambda: backend.execute(action))
        if outcome is None:
            return Result(
                plan,
                "pending",
                f"backend {backend.name} raised an error: {error}; request {aid} is left Pending; run `mlrelease reconcile`",
                ExitCode.BACKEND_FAILED,
                done,
                "Pending",
            )
        rec = self._record_retrain_outcome(plan, model, aid, outcome, by_reconcile=False)
        phase = "Succeeded" if outcome.ok else "Failed"
        ref = redact(outcome.reference) if outcome.reference else None
        if outcome.ok:
            text = f"retraining of {model} requested (request {aid}{f', backend ref {ref}' if ref else ''})"
            return Result(plan, "done", text, ExitCode.OK, done + rec.commits, phase, ref, committed.pushed or rec.pushed)
        text = f"backend {backend.name} refused to start retraining {model}: {st.one_line(outcome.message) or 'no message'}; recorded as Failed"
        return Result(plan, "failed", text, ExitCode.BACKEND_FAILED, done + rec.commits, phase, ref, committed.pushed or rec.pushed)

    def _record_retrain_outcome(self, plan: Plan, model: str, aid: str, outcome: Outcome, *, by_reconcile: bool) -> _Recorded:
        self._keep_log(aid, outcome)
        phase = "Succeeded" if outcome.ok else "Failed"
        ref = redact(outcome.reference) if outcome.reference else None
        path = layout.retrain_path(model)

        def build(reg: Registry) -> Change | None:
            requests = list(reg.retrain_requests(model))
            index = next((i for i, q in enumerate(requests) if q.id == aid), None)
            if index is None:
                raise MlreleaseError(f"{path}: retraining request {aid} is not there, so its outcome ({phase}) cannot be recorded")
            if requests[index].phase != "Pending":
                if requests[index].phase == phase:
                    return None
                raise MlreleaseError(
                    f"{path}: request {aid} was already recorded as {requests[index].phase}, and the backend now says {phase}"
                )
            requests[index] = dataclasses.replace(requests[index], phase=phase, backend_ref=ref, message=st.one_line(outcome.message))
            q = requests[index]
            actor = str(self.actor) if by_reconcile else q.actor
            preview = commits.retrain_outcome(
                model, aid, q.backend or "record", actor, path, phase=phase, backend_ref=ref, message=q.message, by_reconcile=by_reconcile
            )
            return Change({path: st.dump_retrain(model, requests)}, preview.message())

        try:
            committed = self._apply(build)
        except MlreleaseError as exc:
            raise MlreleaseError(
                f"the backend reported {phase} for retraining request {aid} ({model}), but recording it failed: {exc}. "
                "It still shows Pending; run `mlrelease reconcile` to record the outcome.",
                exc.exit_code,
            ) from None
        return _Recorded(tuple(c for c in (committed.commit,) if c), committed.pushed, committed.note)

    # ---- reconcile ------------------------------------------------------------------------------

    def reconcile_plan(self, *, environment: str | None = None, model: str | None = None) -> Plan:
        return self.plan(Request("reconcile", model=model, environment=environment))

    def _reconcile(self, plan: Plan, say: Callable[[Progress], None]) -> Result:
        results = []
        for item in plan.pending:
            say(
                Progress(
                    "status", f"{item.kind} {item.model}{f' in {item.environment}' if item.environment else ''}: promotion {item.action_id}"
                )
            )
            try:
                results.append(self._reconcile_one(plan, item, say))
            except MlreleaseError as exc:
                sub = dataclasses.replace(plan, title=f"{item.model} {item.environment or ''}".strip(), action_id=item.action_id)
                results.append(Result(sub, "error", str(exc), exc.exit_code))
        codes = [r.exit_code for r in results if r.exit_code != ExitCode.OK]
        worst = ExitCode.OK
        if codes:
            worst = next((c for c in codes if c != ExitCode.BACKEND_FAILED), ExitCode.BACKEND_FAILED)
        summary = ", ".join(f"{r.plan.title}: {r.phase or r.status}" for r in results)
        return Result(
            plan, "done" if worst == ExitCode.OK else "failed", f"reconciled {len(results)}: {summary}", worst, items=tuple(results)
        )

    def _reconcile_one(self, plan: Plan, item: PendingItem, say: Callable[[Progress], None]) -> Result:
        """Ask the backend; if it cannot tell, re-drive ``execute`` with the same id; record the answer."""
        with Registry(self.target.registry_root, self.base_ref) as reg:
            if item.kind == "release":
                sub_plan = self._pending_release_plan(reg, plan, item)
            else:
                sub_plan = self._pending_retrain_plan(reg, plan, item)
        if sub_plan is None:
            return Result(dataclasses.replace(plan, title=item.model, action_id=item.action_id), "noop", "no longer Pending")
        backend, action = _executor(sub_plan)
        status, error = self._call(lambda: backend.status(action))
        how = "backend status"
        if status is None and error is None:
            say(Progress("backend", f"backend {backend.name} cannot tell; calling it again with the same id {item.action_id}"))
            status, error = self._call(lambda: backend.execute(action))
            how = "re-driven by reconcile"
        if status is None:
            return Result(
                sub_plan,
                "pending",
                f"backend {backend.name} raised an error: {error}; {item.action_id} stays Pending (not live); run reconcile again when it is reachable",
                ExitCode.BACKEND_FAILED,
                phase="Pending",
            )
        status = dataclasses.replace(status, message=f"{how}: {status.message}" if status.message else how)
        if item.kind == "release":
            rec = self._record_outcome(sub_plan, item.environment or "", item.model, item.action_id, status, by_reconcile=True)
        else:
            rec = self._record_retrain_outcome(sub_plan, item.model, item.action_id, status, by_reconcile=True)
        phase = "Succeeded" if status.ok else "Failed"
        ref = redact(status.reference) if status.reference else None
        code = ExitCode.OK if status.ok else ExitCode.BACKEND_FAILED
        return Result(
            sub_plan, "done" if status.ok else "failed", f"{sub_plan.title}: {phase} ({how})", code, rec.commits, phase, ref, rec.pushed
        )

    def _pending_release_plan(self, reg: Registry, plan: Plan, item: PendingItem) -> Plan | None:
        """The original action, rebuilt from the Pending state (same id, same payload)."""
        env, model = item.environment or "", item.model
        s = reg.release(env, model)
        if s is None or not s.pending or s.desired is None or s.observed is None or s.observed.promotion_id != item.action_id:
            return None
        d = s.desired
        version = d.canary.version if d.canary else d.version
        manifest = reg.version(model, version) if reg.source.exists(layout.version_path(model, version)) else None
        previous = s.live.version if s.live else None
        canary = d.canary.weight if d.canary else None
        action = action_for(
            d.action,
            model,
            manifest,
            action_id=d.promotion_id,
            actor=d.actor,
            reason=d.reason,
            environment=env,
            version=version,
            previous=previous,
            canary=canary,
        )
        configured = reg.config.environment(env)
        name = s.observed.backend if s.observed.backend in reg.config.backends else (configured.backend if configured else None)
        backend = self._backend(reg.config, name)
        return dataclasses.replace(
            plan,
            request=Request(d.action, model, version, env, d.reason, canary, bool(d.forced)),
            title=f"{d.action} {model} {version} in {env}",
            action_id=d.promotion_id,
            version=version,
            previous=previous,
            backend=backend.name,
            action=action,
            executor=backend,
            pending=(),
        )

    def _pending_retrain_plan(self, reg: Registry, plan: Plan, item: PendingItem) -> Plan | None:
        q = next((r for r in reg.retrain_requests(item.model) if r.id == item.action_id and r.phase == "Pending"), None)
        if q is None:
            return None
        latest = reg.latest_version(item.model)
        manifest = reg.version(item.model, latest) if latest else None
        backend = self._backend(reg.config, q.backend if q.backend in reg.config.backends else reg.config.retrain.backend)
        action = action_for("retrain", item.model, manifest, action_id=q.id, actor=q.actor, reason=q.reason)
        return dataclasses.replace(
            plan,
            request=Request("retrain", item.model, reason=q.reason, trigger=q.trigger),
            title=f"retrain {item.model}",
            action_id=q.id,
            version=latest,
            backend=backend.name,
            action=action,
            executor=backend,
            pending=(),
        )


@dataclasses.dataclass(frozen=True)
class _Recorded:
    """An outcome commit as written (or not, when someone recorded the same answer first)."""

    commits: tuple[str, ...]
    pushed: bool
    note: str | None


def _deploy_of(plan: Plan, actor: str | None = None) -> Deploy:
    """The facts every commit about a promote/rollback repeats; ``actor``: who records (reconcile)."""
    r = plan.request
    return Deploy(
        r.kind,
        r.model or "",
        r.environment or "",
        plan.version or "",
        plan.previous,
        r.canary,
        plan.action_id or "",
        plan.backend or "record",
        actor or plan.actor,
        r.reason,
        plan.forced,
    )


def _executor(plan: Plan) -> tuple[Backend, Action]:
    if plan.executor is None or plan.action is None:
        raise MlreleaseError(f"{plan.title}: the plan has no backend call")
    return plan.executor, plan.action
