"""Plans of approvals (plain and break-glass) and of reviews: the second person's actions.

An **approval** counts toward an environment's ``approvals`` gate for any promoter but
the approver (:mod:`mlrelease.release.foureyes`). A **break-glass** approval lets
someone else force, once, the gates ``--force`` alone may not override there; the
promotion that uses it is flagged by every face until it is **reviewed** by a third
identity (neither the promoter nor the break-glass approver). Who may approve or review
is ``gates.approvers``; in a signed environment the identity is the signer's.
"""

from __future__ import annotations

from mlrelease.errors import GateRefused, UsageError
from mlrelease.registry import layout
from mlrelease.registry.config import GATE_FAMILIES
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Environment
from mlrelease.release import commits, controls
from mlrelease.release import state as st
from mlrelease.release.plan import Block, Plan, Request
from mlrelease.release.planning import Context, History, environment, first_block, model_and_version, readonly_block, record_plan


def plan_approve(reg: Registry, req: Request, ctx: Context, history: History, base: str, action_id: str) -> Plan:
    env = environment(reg.config, req.environment)
    model, manifest = model_and_version(reg, req)
    version = manifest.version
    state = reg.release(env.name, model) or st.empty(model, env.name)
    path = layout.release_path(env.name, model)
    ctl = controls.for_plan(reg, env, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root), model)
    preview = commits.approve(model, version, env.name, ctx.actor, req.reason, path, break_glass=ctl.actor if req.break_glass else None)
    notes = []
    refusal = None
    if not ctl.policy.allowed(ctl.actor):
        refusal = Block(f"{ctl.actor} may not approve in {env.name} (approvers: {', '.join(env.gates.approvers)})", GateRefused)
    if any(r.version == version for r in reg.rejections(model)) and not req.break_glass:
        notes.append(f"{model} {version} is rejected; approvals do not lift a rejection")
    mine = [
        a for a in state.approvals if a.version == version and a.break_glass == req.break_glass and ctl.policy.signer(a)[0] == ctl.actor
    ]
    noop = None
    if req.break_glass:
        locked = _locked(env)
        if not locked:
            raise UsageError(f"nothing in {env.name} needs break-glass: --force with --reason may override every gate there")
        if any(a.used_by is None for a in mine):
            noop = f"{ctl.actor} already approved break-glass for {model} {version} in {env.name}, and it is not used yet"
        notes.append(
            f"break-glass: someone other than {ctl.actor} may then force {', '.join(locked)} for one promotion of {model} {version} "
            f"in {env.name}; it is recorded, and flagged everywhere until a third person reviews it (`mlrelease review {model} --env {env.name}`)"
        )
    else:
        if mine:
            noop = f"{ctl.actor} already approved {model} {version} for {env.name}"
        have = {ctl.policy.signer(a)[0] for a in state.approvals if a.version == version and not a.break_glass} - {None}
        count = len(have | {ctl.actor})
        notes.append(
            f"approvals of {version} in {env.name} after this: {count} of {env.gates.approvals} required "
            "(an approval never counts for its own approver's promotion)"
        )
    block = first_block(readonly_block(ctx, env), ctl.block, refusal)
    return record_plan(req, ctx, base, preview, version, noop, block, [*ctl.notes, *notes])


def _locked(env: Environment) -> tuple[str, ...]:
    """The gates --force alone may not override in ``env`` (families, and single gates named in overridable)."""
    return tuple(f for f in GATE_FAMILIES if not env.gates.may_override(f)) + tuple(
        name for name, ok in env.gates.overridable.items() if not ok and ":" in name
    )


def plan_review(reg: Registry, req: Request, ctx: Context, history: History, base: str, action_id: str) -> Plan:
    if req.finding is not None:  # it needs verify's report, which this layer does not read
        raise UsageError("review --finding is planned by mlrelease.audit.accepting (ReleaseService.prepare(..., planner=...))")
    env = environment(reg.config, req.environment)
    model = req.model or ""
    reg.model(model)
    state = reg.release(env.name, model) or st.empty(model, env.name)
    path = layout.release_path(env.name, model)
    ctl = controls.for_plan(reg, env, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root), model)
    open_ = state.unreviewed
    ids = tuple(b.promotion_id for b in open_)
    preview = commits.review(model, env.name, ids, ctx.actor, req.reason, path)
    noop = None if open_ else f"no break-glass promotion of {model} in {env.name} waits for a review"
    refusal = None
    for b in open_:
        involved = {ctl.identities.who(b.promoter): "promoted", b.approver: "approved the break-glass of"}
        if ctl.actor in involved:
            refusal = Block(
                f"{ctl.actor} {involved[ctl.actor]} promotion {b.promotion_id}: a review is four eyes too, so someone else must review it",
                GateRefused,
            )
            break
    if refusal is None and open_ and not ctl.policy.allowed(ctl.actor):
        refusal = Block(f"{ctl.actor} may not review in {env.name} (approvers: {', '.join(env.gates.approvers)})", GateRefused)
    notes = [
        f"reviews break-glass promotion {b.promotion_id}: {model} {b.version} forced past {', '.join(b.gates)} by {b.promoter}, "
        f"break-glass approved by {b.approver} ({b.reason})"
        for b in open_
    ]
    block = first_block(readonly_block(ctx, env), ctl.block, refusal)
    return record_plan(req, ctx, base, preview, None, noop, block, [*ctl.notes, *notes])
