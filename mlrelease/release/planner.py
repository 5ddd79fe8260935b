"""From a request and the registry at one commit to a :class:`Plan`: every rule, once.

The same function answers the user's question ("what would this do?") and, inside each
commit builder, re-answers it at the newest tip before anything is written. So gates,
the expected previous state, pending actions and read-only are checked with the same
code at plan time and at commit time, and a face never re-implements a rule.

Nothing here writes: the registry is read at a commit, backends are asked only to
``describe`` the call.

One id, one name: ``action_id`` is the id of one action (a promotion or rollback, or a
retraining request), the key that makes a repeated call idempotent. The formats that hold it
keep their own, documented names, so it takes those where it enters them: ``promotion_id``
in release files, trailers and a backend's :class:`~mlrelease.backends.base.Action`, ``id``
in retraining requests; ``--json`` says ``action_id``.
"""

from __future__ import annotations

import dataclasses
import functools

from mlrelease.backends.base import Action, Backend
from mlrelease.errors import GateRefused, MlreleaseError, NotFound, Problem, StaleState, UsageError
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.source import GitRefSource
from mlrelease.registry.types import Canary, Desired, Environment, Pin, ReleaseState, Version
from mlrelease.release import approving, bundlestate, commits, confirm, controls, foureyes, gates, livehistory, planning
from mlrelease.release import state as st
from mlrelease.release.cadence import already_requested
from mlrelease.release.commits import DeployFacts
from mlrelease.release.ids import new_id
from mlrelease.release.plan import Block, GateResult, PendingItem, Plan, Request
from mlrelease.release.planning import BackendResolver, Context

__all__ = ["BackendResolver", "Context", "action_for", "make_plan", "pending_items"]


def make_plan(reg: Registry, req: Request, ctx: Context, *, action_id: str | None = None) -> Plan:
    """The plan for ``req`` against ``reg`` (a registry read at a commit, never the work tree)."""
    source = reg.source
    if not isinstance(source, GitRefSource) or reg.git_root is None:
        raise MlreleaseError("actions are planned against a commit of the registry, not the work tree")
    history = planning.History(reg.git_root, source.commit, source.prefix)
    builders = {
        "promote": _promote,
        "rollback": _rollback,
        "unpin": _unpin,
        "pin": _unpin,
        "approve": approving.plan_approve,
        "review": approving.plan_review,
        "reject": _reject,
        "retrain": _retrain,
        "reconcile": _reconcile,
    }
    build = builders.get(req.kind)
    if build is None:
        raise UsageError(f"unknown action {req.kind!r}")
    plan = build(reg, req, ctx, history, source.commit, action_id or new_id(ctx.now))
    return dataclasses.replace(plan, confirmation=confirm.confirmation(reg.config, plan))


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


# ---- promote --------------------------------------------------------------------------------


def _order_evidence(
    reg: Registry, history: planning.History, model: str, version: str, env: Environment
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


def _promote(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    config = reg.config
    env = planning.environment(config, req.environment)
    model, manifest = planning.model_and_version(reg, req)
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
    if canary is None and planning.settled(state, version, None):
        noop = f"{model} {version} is already live in {env.name}"
    elif canary is not None and live is not None and planning.settled(state, live.version, canary):
        noop = f"{model} {version} is already live in {env.name} as canary at {canary.weight:g}%"
    live_manifest = None
    if live is not None and env.gates.no_regression:
        try:
            live_manifest = reg.version(model, live.version)
        except NotFound:
            live_manifest = None
    ctl = controls.for_plan(reg, env, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root), model)
    approvals = foureyes.approvals_for(env, state, version, ctl.actor, ctl.policy)
    results = gates.promote_gates(
        version,
        env,
        config,
        metrics=manifest.metrics,
        rejections=history.rejections(reg, model),
        state=state,
        order_results=history.honest(gates.order(version, env, _order_evidence(reg, history, model, version, env))),
        live_metrics=live_manifest.metrics if live_manifest else None,
        approvals=approvals,
        now=ctx.now,
    )
    backend = ctx.resolve(config, env.backend)
    previous = live.version if live else None
    action = action_for(
        "promote",
        model,
        manifest,
        action_id=action_id,
        actor=ctx.actor,
        reason=req.reason,
        environment=env.name,
        previous=previous,
        canary=req.canary,
    )
    hint = f"mlrelease approve {model}@{version} --env {env.name} --break-glass --reason TEXT"
    over = foureyes.override(results, req.force, env, state, version, ctl.actor, ctl.policy, hint)
    bg = over.break_glass
    bg_by = ctl.policy.signer(bg)[0] if bg is not None else None
    desired = Desired(
        version=live.version if canary is not None and live is not None else version,
        promotion_id=action_id,
        action="promote",
        actor=ctx.actor,
        at=ctx.now,
        canary=canary,
        reason=req.reason,
        forced=over.forced,
        break_glass=bg_by,
        bundle=req.bundle,
    )
    deploy = DeployFacts(
        "promote",
        model,
        env.name,
        version,
        previous,
        req.canary,
        action_id,
        backend.name,
        ctx.actor,
        req.reason,
        over.forced,
        bg_by,
        req.bundle,
    )
    notes = [*ctl.notes]
    if canary is None and live is not None and live.canary is not None and live.canary.version != version:
        notes.append(f"the canary {live.canary.version} ({live.canary.weight:g}%) is removed: a full promotion replaces it")
    if over.locked and not req.force:
        notes.append(f"{', '.join(over.locked)} cannot be overridden with --force alone here; an emergency needs break-glass (`{hint}`)")
    if bg is not None:
        notes.append(f"break-glass approved by {bg_by}: this promotion is flagged until someone else reviews it (`mlrelease review`)")
    return _deploy_plan(req, ctx, base, deploy, results, backend, action, state, env, noop, notes, desired, over, ctl.block)


# ---- rollback -------------------------------------------------------------------------------


def _rollback(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    config = reg.config
    env = planning.environment(config, req.environment)
    model = req.model or ""
    reg.model(model)
    state = reg.release(env.name, model) or st.empty(model, env.name)
    live = state.live
    if live is None:
        raise planning.impossible(ctx, env, f"nothing is live for {model} in {env.name}, so there is nothing to roll back")
    rejections = history.rejections(reg, model)
    changes = history.changes(env.name, model)
    notes = []
    if req.version is not None:
        target = req.version
    elif live.canary is not None:
        target = live.version
    else:
        found = livehistory.rollback_target(changes, live.version, {r.version for r in rejections})
        if found is None:
            raise planning.impossible(
                ctx, env, f"no earlier live version of {model} in {env.name} in the history; name one with --to VERSION"
            )
        target = found
    manifest = reg.version(model, target)
    if live.canary is not None:
        notes.append(f"the canary {live.canary.version} ({live.canary.weight:g}%) is removed")
    noop = None
    if planning.settled(state, target, None):
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
        "rollback", model, manifest, action_id=action_id, actor=ctx.actor, reason=req.reason, environment=env.name, previous=live.version
    )
    ctl = controls.for_plan(reg, env, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root), model)
    hint = f"mlrelease approve {model}@{target} --env {env.name} --break-glass --reason TEXT"
    over = foureyes.override(results, req.force, env, state, target, ctl.actor, ctl.policy, hint)
    bg = over.break_glass
    bg_by = ctl.policy.signer(bg)[0] if bg is not None else None
    desired = Desired(
        version=target,
        promotion_id=action_id,
        action="rollback",
        actor=ctx.actor,
        at=ctx.now,
        reason=req.reason,
        forced=over.forced,
        break_glass=bg_by,
        bundle=req.bundle,
        undo=req.undo,
    )
    deploy = DeployFacts(
        "rollback", model, env.name, target, live.version, None, action_id, backend.name, ctx.actor, req.reason, over.forced, bg_by
    )
    if state.pin is None and not req.undo:
        notes.append(f"pins {env.name} for {model}: promotions are refused until `mlrelease unpin {model} --env {env.name}`")
    request = dataclasses.replace(req, version=target, canary=None)
    pin = None if req.undo else Pin(by=ctx.actor, at=ctx.now, reason=req.reason)  # a bundle's undo puts back, it holds nothing
    return _deploy_plan(request, ctx, base, deploy, results, backend, action, state, env, noop, notes, desired, over, ctl.block, pin=pin)


def _deploy_plan(
    req: Request,
    ctx: Context,
    base: str,
    deploy: DeployFacts,
    results: list[GateResult],
    backend: Backend,
    action: Action,
    state: ReleaseState,
    env: Environment,
    noop: str | None,
    notes: list[str],
    desired: Desired,
    over: foureyes.Override,
    control_block: Block | None,
    *,
    pin: Pin | None = None,
) -> Plan:
    """The plan of a promote or rollback: intent and outcome commits of ``deploy`` on its release file.

    ``control_block``: a refusal of the controls (signing); ``over``: what --force may do with the
    failing gates — its refusal blocks too, and its break-glass approval is marked used by the intent.
    """
    path = layout.release_path(deploy.environment, deploy.model)
    deploy = dataclasses.replace(deploy, bundle=desired.bundle, undo=desired.undo)  # a release bundle's member (release.bundle)
    refusal = Block(over.refusal, GateRefused) if over.refusal else None
    extra_block = planning.first_block(control_block, refusal)
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
        commits=(
            intent,
            commits.outcome(deploy, path, phase="Succeeded|Failed", backend_ref=None, message=None, by_reconcile=env.protected is not None),
        ),
        expected=planning.expected(state),
        noop=noop,
        block=planning.first_block(
            planning.readonly_block(ctx, env), None if noop else planning.pending_block(state), None if noop else extra_block
        ),
        notes=(*notes, *((env.protected.note(env.name, deploy.model, deploy.promotion_id),) if env.protected else ())),
        desired=desired,
        pin=pin,
        break_glass=over.break_glass,
        locked=over.locked,
    )


# ---- unpin, approve, reject -----------------------------------------------------------------


def _unpin(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    """Unpin, and its twin pin (a hold a person sets, e.g. to pause a rollout): one commit on the pin."""
    env = planning.environment(reg.config, req.environment)
    model = req.model or ""
    reg.model(model)
    state = reg.release(env.name, model)
    live = state.live.version if state and state.live else None
    path = layout.release_path(env.name, model)
    if req.kind == "pin":
        if live is None:
            raise planning.impossible(ctx, env, f"nothing is live for {model} in {env.name}, so there is nothing to hold")
        preview = commits.pin(model, env.name, live, ctx.actor, req.reason, path)
        noop = f"{model} is already pinned in {env.name} (by {state.pin.by})" if state and state.pin else None
    else:
        preview = commits.unpin(model, env.name, live, ctx.actor, req.reason, path)
        noop = None if state and state.pin else f"{model} is not pinned in {env.name}"
    block = planning.first_block(planning.readonly_block(ctx, env), controls.signing_block(reg, env, ctx))
    return planning.record_plan(req, ctx, base, preview, live, noop, block)


def _reject(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    model, manifest = planning.model_and_version(reg, req)
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
    block = planning.first_block(planning.readonly_block(ctx, None), controls.signing_block(reg, None, ctx))
    return planning.record_plan(req, ctx, base, preview, manifest.version, noop, block, notes)


# ---- retrain ---------------------------------------------------------------------------------


def _retrain(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    config = reg.config
    model = req.model or ""
    reg.model(model)
    name = config.retrain.backend
    if name is None:
        raise MlreleaseError("mlrelease.yaml: retrain.backend is not set, so there is nothing to start retraining with")
    backend = ctx.resolve(config, name)
    latest = reg.latest_version(model)
    manifest = reg.version(model, latest) if latest else None
    action = action_for("retrain", model, manifest, action_id=action_id, actor=ctx.actor, reason=req.reason)
    path = layout.retrain_path(model)
    pending = next((r for r in reg.retrain_requests(model) if r.phase == "Pending"), None)
    block = planning.readonly_block(ctx, None)
    if block is None and pending is not None:
        block = Block(
            f"retraining request {pending.id} for {model} (by {pending.actor}) is still Pending: wait for it to finish, "
            "or if it was interrupted, run `mlrelease reconcile`",
            StaleState,
        )
    noop = already_requested(reg, req, ctx.now)
    intent = commits.retrain(model, action_id, backend.name, ctx.actor, req.reason, path)
    outcome = commits.retrain_outcome(
        model, action_id, backend.name, ctx.actor, path, phase="Succeeded|Failed", backend_ref=None, message=None
    )
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=intent.subject,
        action_id=action_id,
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


def _reconcile(reg: Registry, req: Request, ctx: Context, history: planning.History, base: str, action_id: str) -> Plan:
    problems: list[Problem] = []
    items = pending_items(reg, problems, environment=req.environment, model=req.model)
    owed = bundlestate.owed_items(reg, req.environment, req.model)  # described already
    described = []
    for item in items:
        what = f"ask backend {item.backend or 'record'} for the status of {item.action_id}"
        described.append(
            dataclasses.replace(item, description=f"{what}; record its answer, or if it cannot tell, call it again with the same id")
        )
    block = planning.readonly_block(ctx, None)
    for item in items:
        if block is None and item.environment:
            block = planning.readonly_block(ctx, reg.config.environment(item.environment))
    for item in items:  # recording an outcome in a signed environment is a commit that must be signed too
        if block is None and item.environment:
            block = controls.signing_block(reg, reg.config.environment(item.environment), ctx)
    items += owed
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=f"Reconcile {len(items)} pending action{'s' if len(items) != 1 else ''}",
        pending=(*described, *owed),
        noop=None if items else "nothing is Pending",
        block=block,
        notes=tuple(f"{p} (not reconciled: fix the file, then run reconcile again)" for p in problems),
    )
