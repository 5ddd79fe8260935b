"""From a request and the registry at one commit to a :class:`Plan`: every rule, once.

The same function answers the user's question ("what would this do?") and, inside each
commit builder, re-answers it at the newest tip before anything is written. So gates,
the expected previous state, pending actions and read-only are checked with the same
code at plan time and at commit time, and a face never re-implements a rule.

Nothing here writes: the registry is read at a commit, backends are asked only to
``describe`` the call.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mlrelease.backends.base import Action, Backend
from mlrelease.errors import MlreleaseError, NotFound, Problem, ReadOnly, StaleState, UsageError
from mlrelease.registry import layout
from mlrelease.registry.gitio import git_dir
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.source import GitRefSource
from mlrelease.registry.types import Canary, Config, Desired, Environment, Pin, ReleaseState, Version
from mlrelease.release import commits, confirm, gates, livehistory
from mlrelease.release import state as st
from mlrelease.release.cadence import already_requested
from mlrelease.release.commits import DeployFacts
from mlrelease.release.ids import new_id
from mlrelease.release.plan import Block, CommitPreview, Expected, GateResult, PendingItem, Plan, Request

BackendResolver = Callable[[Config, str | None], Backend]


@dataclass(frozen=True)
class Context:
    """Who acts, when, with which backends, and whether writing is switched off."""

    actor: str
    now: datetime
    resolve: BackendResolver
    readonly: bool = False


@dataclass
class _History:
    """Live-version history per release file at one commit, read at most once each."""

    git_root: Path
    ref: str
    prefix: str
    cache: dict[str, list[livehistory.LiveChange]] = field(default_factory=dict)

    @property
    def shallow(self) -> bool:
        """A shallow clone lacks the early history: "never live" cannot be told from "not fetched"."""
        return (git_dir(self.git_root) / "shallow").is_file()

    def honest(self, results: list[GateResult]) -> list[GateResult]:
        """History gates that failed in a shallow clone say why they may be wrong."""
        if not self.shallow or all(g.passed or not g.name.startswith(("order:", "history")) for g in results):
            return results
        note = "; this clone is shallow, so older history is missing here: run `git fetch --unshallow` (or use a full clone)"
        return [
            g if g.passed or not g.name.startswith(("order:", "history")) else dataclasses.replace(g, detail=g.detail + note)
            for g in results
        ]

    def changes(self, env: str, model: str) -> list[livehistory.LiveChange]:
        rel = layout.release_path(env, model)
        if rel not in self.cache:
            path = f"{self.prefix}/{rel}" if self.prefix else rel
            self.cache[rel] = livehistory.live_changes(self.git_root, self.ref, path)
        return self.cache[rel]


def make_plan(reg: Registry, req: Request, ctx: Context, *, action_id: str | None = None) -> Plan:
    """The plan for ``req`` against ``reg`` (a registry read at a commit, never the work tree)."""
    source = reg.source
    if not isinstance(source, GitRefSource) or reg.git_root is None:
        raise MlreleaseError("actions are planned against a commit of the registry, not the work tree")
    history = _History(reg.git_root, source.commit, source.prefix)
    builders = {
        "promote": _promote,
        "rollback": _rollback,
        "unpin": _unpin,
        "pin": _unpin,
        "approve": _approve,
        "reject": _reject,
        "retrain": _retrain,
        "reconcile": _reconcile,
    }
    build = builders.get(req.kind)
    if build is None:
        raise UsageError(f"unknown action {req.kind!r}")
    plan = build(reg, req, ctx, history, source.commit, action_id or new_id(ctx.now))
    return dataclasses.replace(plan, confirmation=confirm.confirmation(reg.config, plan))


# ---- shared lookups -------------------------------------------------------------------------


def _environment(config: Config, name: str | None) -> Environment:
    reason = unsafe_reason(name or "")
    if reason:
        raise NotFound(f"environment name {name!r} {reason}")
    env = config.environment(name or "")
    if env is None:
        raise NotFound(f"no environment {name!r} in mlrelease.yaml (environments: {', '.join(config.environment_names) or 'none'})")
    return env


def _model_and_version(reg: Registry, req: Request) -> tuple[str, Version]:
    if not req.model or not req.version:
        raise UsageError(f"{req.kind} needs MODEL@VERSION")
    return req.model, reg.version(req.model, req.version)


def _expected(state: ReleaseState) -> Expected:
    live = state.live
    return Expected(
        promotion_id=state.desired.promotion_id if state.desired else None,
        phase=state.observed.phase if state.observed else None,
        live_version=live.version if live else None,
        live_canary=(live.canary.version, live.canary.weight) if live and live.canary else None,
        pinned=state.pin is not None,
    )


def _settled(state: ReleaseState, version: str, canary: Canary | None) -> bool:
    """Live is ``version`` (with ``canary``) and the last action asked for exactly that: nothing to do.

    After a Failed promotion ``desired`` still names the failed version, so asking for what is
    live is not a no-op then: it puts ``desired`` back (a reconciler elsewhere reads it).
    """
    live, desired = state.live, state.desired
    if live is None or state.pending or (live.version, live.canary) != (version, canary):
        return False
    return desired is None or (desired.version, desired.canary) == (version, canary)


def _readonly_block(ctx: Context, env: Environment | None) -> Block | None:
    if ctx.readonly:
        return Block("read-only mode (--readonly): actions are disabled", ReadOnly)
    if env is not None and env.read_only:
        return Block(f"environment {env.name} is read-only (read_only: true in mlrelease.yaml)", ReadOnly)
    return None


def _impossible(ctx: Context, env: Environment, message: str) -> MlreleaseError:
    """An action that cannot be planned at all: where acting is not allowed anyway, say that first."""
    block = _readonly_block(ctx, env)
    return block.error() if block else MlreleaseError(message)


def _pending_block(state: ReleaseState) -> Block | None:
    if not state.pending or state.desired is None or state.observed is None:
        return None
    d = state.desired
    what = d.canary.version if d.canary else d.version
    return Block(
        f"{d.action} of {state.model} {what} to {state.environment} (promotion {state.observed.promotion_id}, by {d.actor}, "
        f"{d.at:%Y-%m-%d %H:%M}Z) is still Pending: wait for it to finish, or if it was interrupted, run `mlrelease reconcile`",
        StaleState,
    )


def action_for(
    kind: str,
    model: str,
    manifest: Version | None,
    *,
    action_id: str,
    actor: str,
    reason: str | None,
    environment: str | None = None,
    version: str | None = None,
    previous: str | None = None,
    canary: float | None = None,
) -> Action:
    """What the backend is asked to do; reconcile rebuilds the same action from a Pending state."""
    return Action(
        kind=kind,
        model=model,
        promotion_id=action_id,
        actor=actor,
        reason=reason or "",
        version=manifest.version if manifest else version,
        environment=environment,
        previous=previous,
        canary_weight=canary,
        artifact=manifest.artifact.uri if manifest else None,
        artifact_sha256=manifest.artifact.sha256 if manifest else None,
        image=manifest.image.ref if manifest and manifest.image else None,
        image_digest=manifest.image.digest if manifest and manifest.image else None,
        metrics=dict(manifest.metrics) if manifest else {},
    )


def _first_block(*blocks: Block | None) -> Block | None:
    return next((b for b in blocks if b is not None), None)


# ---- promote --------------------------------------------------------------------------------


def _order_evidence(
    reg: Registry, history: _History, model: str, version: str, env: Environment
) -> dict[str, tuple[str | None, str | None]]:
    out: dict[str, tuple[str | None, str | None]] = {}
    for req_env in env.requires:
        there = reg.release(req_env, model)
        live_now = there.live.version if there and there.live else None
        how = None
        if live_now == version:
            how = "is live"
        else:
            seen = livehistory.was_live(history.changes(req_env, model), version)
            if seen is not None:
                how = f"was live (from {seen.since:%Y-%m-%d %H:%M}Z, commit {seen.commit[:10]})"
        out[req_env] = (live_now, how)
    return out


def _promote(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    config = reg.config
    env = _environment(config, req.environment)
    model, manifest = _model_and_version(reg, req)
    version = manifest.version
    state = reg.release(env.name, model) or st.empty(model, env.name)
    live = state.live
    canary = None
    if req.canary is not None:
        if not 0 < req.canary < 100:
            raise UsageError(f"--canary must be a percentage between 0 and 100 (exclusive), not {req.canary:g}")
        if live is None:
            raise MlreleaseError(
                f"--canary runs a version beside the live one, and nothing is live for {model} in {env.name}; promote without --canary first"
            )
        if live.version == version:
            raise UsageError(f"{model} {version} is the live version in {env.name}; a canary must be another version")
        canary = Canary(version, req.canary)
    noop = None
    if canary is None and _settled(state, version, None):
        noop = f"{model} {version} is already live in {env.name}"
    elif canary is not None and live is not None and _settled(state, live.version, canary):
        noop = f"{model} {version} is already live in {env.name} as canary at {canary.weight:g}%"
    live_manifest = None
    if live is not None and env.gates.no_regression:
        try:
            live_manifest = reg.version(model, live.version)
        except NotFound:
            live_manifest = None
    results: list[GateResult] = [gates.rejected(version, reg.rejections(model)), gates.pinned(state.pin, env.name)]
    results += history.honest(gates.order(version, env, _order_evidence(reg, history, model, version, env)))
    results += gates.thresholds(env.gates.thresholds, manifest.metrics, config.metrics)
    results += gates.no_regression(
        env.gates.no_regression,
        manifest.metrics,
        live.version if live else None,
        live_manifest.metrics if live_manifest else None,
        config.metrics,
    )
    if env.gates.approvals:
        results.append(gates.approvals(env.gates.approvals, state.approvers(version)))
    if env.gates.windows.allow or env.gates.windows.deny:
        results.append(gates.window(env.gates.windows, ctx.now))
    backend = ctx.resolve(config, env.backend)
    previous = live.version if live else None
    action = action_for(
        "promote",
        model,
        manifest,
        action_id=aid,
        actor=ctx.actor,
        reason=req.reason,
        environment=env.name,
        previous=previous,
        canary=req.canary,
    )
    forced = tuple(g.name for g in results if not g.passed) if req.force else ()
    desired = Desired(
        version=live.version if canary is not None and live is not None else version,
        promotion_id=aid,
        action="promote",
        actor=ctx.actor,
        at=ctx.now,
        canary=canary,
        reason=req.reason,
        forced=forced,
    )
    deploy = DeployFacts("promote", model, env.name, version, previous, req.canary, aid, backend.name, ctx.actor, req.reason, forced)
    path = layout.release_path(env.name, model)
    notes = []
    if canary is None and live is not None and live.canary is not None and live.canary.version != version:
        notes.append(f"the canary {live.canary.version} ({live.canary.weight:g}%) is removed: a full promotion replaces it")
    return _deploy_plan(req, ctx, base, deploy, path, results, backend, action, state, env, noop, notes, desired)


# ---- rollback -------------------------------------------------------------------------------


def _rollback(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    config = reg.config
    env = _environment(config, req.environment)
    model = req.model or ""
    reg.model(model)
    state = reg.release(env.name, model) or st.empty(model, env.name)
    live = state.live
    if live is None:
        raise _impossible(ctx, env, f"nothing is live for {model} in {env.name}, so there is nothing to roll back")
    rejections = reg.rejections(model)
    changes = history.changes(env.name, model)
    notes = []
    if req.version is not None:
        target = req.version
    elif live.canary is not None:
        target = live.version
    else:
        found = livehistory.rollback_target(changes, live.version, {r.version for r in rejections})
        if found is None:
            raise _impossible(ctx, env, f"no earlier live version of {model} in {env.name} in the history; name one with --to VERSION")
        target = found
    manifest = reg.version(model, target)
    if live.canary is not None:
        notes.append(f"the canary {live.canary.version} ({live.canary.weight:g}%) is removed")
    noop = None
    if _settled(state, target, None):
        if state.pin is None:
            raise MlreleaseError(f"{model} {target} is already live in {env.name}; nothing to roll back (name another version with --to)")
        noop = f"{model} {target} is already live in {env.name} and pinned"
    results = [gates.rejected(target, rejections)]
    seen = livehistory.was_live(changes, target)
    if seen is not None:
        results.append(
            GateResult("history", True, f"{target} was live in {env.name} (from {seen.since:%Y-%m-%d %H:%M}Z)", {"commit": seen.commit})
        )
    else:
        results.append(
            GateResult("history", False, f"{target} has never been live in {env.name}: a rollback returns to a version that was", {})
        )
    results = history.honest(results)
    backend = ctx.resolve(config, env.backend)
    action = action_for(
        "rollback", model, manifest, action_id=aid, actor=ctx.actor, reason=req.reason, environment=env.name, previous=live.version
    )
    forced = tuple(g.name for g in results if not g.passed) if req.force else ()
    desired = Desired(version=target, promotion_id=aid, action="rollback", actor=ctx.actor, at=ctx.now, reason=req.reason, forced=forced)
    deploy = DeployFacts("rollback", model, env.name, target, live.version, None, aid, backend.name, ctx.actor, req.reason, forced)
    path = layout.release_path(env.name, model)
    if state.pin is None:
        notes.append(f"pins {env.name} for {model}: promotions are refused until `mlrelease unpin {model} --env {env.name}`")
    request = Request("rollback", model, target, env.name, req.reason, None, req.force, req.trigger)
    pin = Pin(by=ctx.actor, at=ctx.now, reason=req.reason)
    return _deploy_plan(request, ctx, base, deploy, path, results, backend, action, state, env, noop, notes, desired, pin=pin)


def _deploy_plan(
    req: Request,
    ctx: Context,
    base: str,
    deploy: DeployFacts,
    path: str,
    results: list[GateResult],
    backend: Backend,
    action: Action,
    state: ReleaseState,
    env: Environment,
    noop: str | None,
    notes: list[str],
    desired: Desired,
    *,
    pin: Pin | None = None,
) -> Plan:
    """The plan of a promote or rollback: intent and outcome commits of ``deploy`` on ``path``."""
    intent = commits.intent(deploy, path)
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=intent.subject,
        action_id=deploy.promotion_id,
        version=deploy.version,
        previous=deploy.previous,
        gates=tuple(results),
        backend=backend.name,
        backend_call=backend.describe(action),
        action=action,
        executor=backend,
        commits=(intent, commits.outcome(deploy, path, phase="Succeeded|Failed", backend_ref=None, message=None)),
        expected=_expected(state),
        noop=noop,
        block=_first_block(_readonly_block(ctx, env), None if noop else _pending_block(state)),
        notes=tuple(notes),
        desired=desired,
        pin=pin,
    )


# ---- unpin, approve, reject -----------------------------------------------------------------


def _unpin(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    """Unpin, and its twin pin (a hold a person sets, e.g. to pause a rollout): one commit on the pin."""
    env = _environment(reg.config, req.environment)
    model = req.model or ""
    reg.model(model)
    state = reg.release(env.name, model)
    live = state.live.version if state and state.live else None
    path = layout.release_path(env.name, model)
    if req.kind == "pin":
        if live is None:
            raise _impossible(ctx, env, f"nothing is live for {model} in {env.name}, so there is nothing to hold")
        preview = commits.pin(model, env.name, live, ctx.actor, req.reason, path)
        noop = f"{model} is already pinned in {env.name} (by {state.pin.by})" if state and state.pin else None
        return _record_plan(req, ctx, base, preview, live, noop, _readonly_block(ctx, env))
    preview = commits.unpin(model, env.name, live, ctx.actor, req.reason, path)
    noop = None if state and state.pin else f"{model} is not pinned in {env.name}"
    return _record_plan(req, ctx, base, preview, live, noop, _readonly_block(ctx, env))


def _approve(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    env = _environment(reg.config, req.environment)
    model, manifest = _model_and_version(reg, req)
    state = reg.release(env.name, model) or st.empty(model, env.name)
    path = layout.release_path(env.name, model)
    preview = commits.approve(model, manifest.version, env.name, ctx.actor, req.reason, path)
    notes = []
    if any(r.version == manifest.version for r in reg.rejections(model)):
        notes.append(f"{model} {manifest.version} is rejected; approvals do not lift a rejection")
    have = state.approvers(manifest.version)
    noop = (
        f"{ctx.actor} already approved {model} {manifest.version} for {env.name}"
        if st.has_approved(state, manifest.version, ctx.actor)
        else None
    )
    count = len(have) + (0 if noop else 1)
    notes.append(f"approvals for {manifest.version} in {env.name} after this: {count} of {env.gates.approvals} required")
    return _record_plan(req, ctx, base, preview, manifest.version, noop, _readonly_block(ctx, env), notes)


def _reject(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    model, manifest = _model_and_version(reg, req)
    path = layout.rejections_path(model)
    preview = commits.reject(model, manifest.version, ctx.actor, req.reason, path)
    existing = next((r for r in reg.rejections(model) if r.version == manifest.version), None)
    releases = reg.releases([])  # only for notes: a broken file elsewhere must not stop a rejection
    notes = [
        f"{manifest.version} is live in {env}: rejecting does not undeploy it (use `mlrelease rollback {model} --env {env}`)"
        for (env, m), s in sorted(releases.items())
        if m == model and s.live is not None and manifest.version in (s.live.version, s.live.canary.version if s.live.canary else None)
    ]
    noop = f"{model} {manifest.version} was already rejected by {existing.by}" if existing else None
    return _record_plan(req, ctx, base, preview, manifest.version, noop, _readonly_block(ctx, None), notes)


def _record_plan(
    req: Request,
    ctx: Context,
    base: str,
    preview: CommitPreview,
    version: str | None,
    noop: str | None,
    block: Block | None,
    notes: Sequence[str] = (),
) -> Plan:
    """The plan of a single-commit action (unpin, approve, reject): no backend is called."""
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=preview.subject,
        version=version,
        commits=(preview,),
        noop=noop,
        block=block,
        notes=tuple(notes),
    )


# ---- retrain ---------------------------------------------------------------------------------


def _retrain(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    config = reg.config
    model = req.model or ""
    reg.model(model)
    name = config.retrain.backend
    if name is None:
        raise MlreleaseError("mlrelease.yaml: retrain.backend is not set, so there is nothing to start retraining with")
    backend = ctx.resolve(config, name)
    latest = reg.latest_version(model)
    manifest = reg.version(model, latest) if latest else None
    action = action_for("retrain", model, manifest, action_id=aid, actor=ctx.actor, reason=req.reason)
    path = layout.retrain_path(model)
    pending = next((r for r in reg.retrain_requests(model) if r.phase == "Pending"), None)
    block = _readonly_block(ctx, None)
    if block is None and pending is not None:
        block = Block(
            f"retraining request {pending.id} for {model} (by {pending.actor}) is still Pending: wait for it to finish, "
            "or if it was interrupted, run `mlrelease reconcile`",
            StaleState,
        )
    noop = already_requested(reg, req, ctx.now)
    intent = commits.retrain(model, aid, backend.name, ctx.actor, req.reason, path)
    outcome = commits.retrain_outcome(model, aid, backend.name, ctx.actor, path, phase="Succeeded|Failed", backend_ref=None, message=None)
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=intent.subject,
        action_id=aid,
        version=latest,
        backend=backend.name,
        backend_call=backend.describe(action),
        action=action,
        executor=backend,
        commits=(intent, outcome),
        block=block,
        noop=noop,
    )


# ---- reconcile -------------------------------------------------------------------------------


def pending_items(reg: Registry, problems: list[Problem], *, environment: str | None = None, model: str | None = None) -> list[PendingItem]:
    """Every action left Pending: release states and retraining requests (unreadable files go to ``problems``)."""
    items = []
    for (env, m), s in sorted(reg.releases(problems).items()):
        if not s.pending or s.desired is None or s.observed is None:
            continue
        if (environment and env != environment) or (model and m != model):
            continue
        d = s.desired
        version = d.canary.version if d.canary else d.version
        items.append(PendingItem("release", m, s.observed.promotion_id, s.observed.backend, s.observed.at, d.actor, env, version))
    if environment is None:
        for loc in layout.located(reg.source.files(layout.RETRAIN), "retrain"):
            name = loc.model or ""
            if model and name != model:
                continue
            requests = reg.collect(functools.partial(reg.retrain_requests, name), problems) or ()
            items += [PendingItem("retrain", name, r.id, r.backend, r.at, r.actor) for r in requests if r.phase == "Pending"]
    return items


def _reconcile(reg: Registry, req: Request, ctx: Context, history: _History, base: str, aid: str) -> Plan:
    problems: list[Problem] = []
    items = pending_items(reg, problems, environment=req.environment, model=req.model)
    described = []
    for item in items:
        what = f"ask backend {item.backend or 'record'} for the status of {item.action_id}"
        described.append(
            dataclasses.replace(item, description=f"{what}; record its answer, or if it cannot tell, call it again with the same id")
        )
    block = _readonly_block(ctx, None)
    for item in items:
        if block is None and item.environment:
            block = _readonly_block(ctx, reg.config.environment(item.environment))
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=f"Reconcile {len(items)} pending action{'s' if len(items) != 1 else ''}",
        pending=tuple(described),
        noop=None if items else "nothing is Pending",
        block=block,
        notes=tuple(f"{p} (not reconciled: fix the file, then run reconcile again)" for p in problems),
    )
