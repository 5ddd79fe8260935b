"""Release bundles: several models promoted (or rolled back) in one environment as one change.

A bundle is built on the two-phase flow of :mod:`mlrelease.release.service`, one member
per model, each an ordinary promotion with its own id, file, gates and backend call. What
the bundle adds is the order of things and one id (``Mlrelease-Bundle``) on every commit:

1. **one plan**: every member planned at the same tip; the bundle's gates are all of
   theirs (``MODEL: gate``). If any gate fails or any member is blocked, nothing runs and
   nothing is written. ``--force`` and ``--canary`` are not taken (force one model alone).
2. **one intent**: the members' intent commits are written as one chain that the branch
   (or the push) takes whole or not at all: a crash before it leaves nothing; after it,
   every member is Pending (never shown as live), which ``reconcile`` finishes.
3. **the backends, in order**: a member's backend is called only after the one before it
   is recorded Succeeded. When one fails, the members after it are recorded Failed
   without a call (``Mlrelease-Bundle-Fate: not attempted``) and the ones that already
   moved are rolled back through their backends, last first (``undo``: a rollback that
   puts back what was live, without a pin). When a backend cannot tell what happened,
   the bundle stops there with that member Pending and the later ones Pending untouched:
   ``reconcile`` asks, then finishes the bundle or undoes it.

So the record says of each member exactly one of: Succeeded; Succeeded, then rolled back;
Failed; not attempted; Pending. :func:`owed_undos` and :func:`waiting_for` are the rules
reconcile uses to finish an interrupted bundle the same way. ``history`` shows a bundle as
one event (:mod:`mlrelease.registry.bundles`); ``rollback --bundle ID`` rolls every member
back to what was live before it, as a bundle of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mlrelease.errors import ExitCode, MlreleaseError, NotFound, UsageError
from mlrelease.gitstore.transaction import Change
from mlrelease.registry import layout
from mlrelease.registry.bundles import members_of
from mlrelease.registry.history import history, iter_history
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Config, ReleaseState
from mlrelease.release import backendcall, bundlestate, commits, planner
from mlrelease.release import state as release_state
from mlrelease.release.ids import new_id
from mlrelease.release.plan import Block, Confirmation, Plan, PlanChanged, Progress, Request, Result
from mlrelease.release.planning import Context
from mlrelease.release.twophase import deploy_facts, slot_for

if TYPE_CHECKING:
    from mlrelease.release.service import ReleaseService

Say = Callable[[Progress], None]


# ---- what a bundle is: the requests ----------------------------------------------------------


def requests(
    config: Config,
    kind: str,
    targets: Sequence[tuple[str, str | None]],
    environment: str,
    *,
    name: str | None = None,
    reason: str | None = None,
) -> list[Request]:
    """One request per member. ``targets``: (model, version or None); a named bundle fills in its models.

    A named bundle's member without a version on the command line gets its latest version
    (the plan shows it). A model outside the bundle, or one named twice, is a usage error.
    """
    chosen = dict(targets)
    if len(chosen) != len(targets):
        twice = sorted({m for m, _ in targets if [t[0] for t in targets].count(m) > 1})
        raise UsageError(f"a bundle names each model once; {', '.join(twice)} is named twice")
    models: list[str] = [m for m, _ in targets]
    if name is not None:
        bundle = config.bundles.get(name)
        if bundle is None:
            known = ", ".join(sorted(config.bundles)) or "none"
            raise NotFound(f"no bundle {name!r} in mlrelease.yaml (bundles: {known})")
        outside = [m for m in models if m not in bundle.models]
        if outside:
            raise UsageError(f"{', '.join(outside)} is not in bundle {name} ({', '.join(bundle.models)})")
        models = list(bundle.models)
    if len(models) < 2 and kind == "promote":
        raise UsageError("a bundle is two models or more; promote one model with `mlrelease promote MODEL@VERSION --to ENV`")
    return [Request(kind, m, chosen.get(m), environment, reason) for m in models]


def with_latest(reg: Registry, reqs: list[Request]) -> list[Request]:
    """Members of a named bundle without a version get their model's latest registered version."""
    out = []
    for r in reqs:
        if r.kind == "promote" and r.version is None:
            latest = reg.latest_version(r.model or "")
            if latest is None:
                raise NotFound(f"{r.model} has no versions to promote ({layout.model_path(r.model or '')})")
            r = dataclasses.replace(r, version=latest)
        out.append(r)
    return out


def rollback_requests(reg: Registry, bundle_id: str, environment: str | None, reason: str | None) -> list[Request]:
    """``rollback --bundle ID``: each member of bundle ID back to what was live before it (read from its intents)."""
    found = [e for e in members_of(history(reg), bundle_id) if e.action in ("promote", "rollback") and e.phase == "Pending"]
    if environment is not None:
        found = [e for e in found if e.environment == environment]
    if not found:
        raise NotFound(f"no release bundle {bundle_id!r} in the history (`mlrelease history` shows bundles and their ids)")
    out = []
    for e in sorted(found, key=lambda e: e.promotion_id or ""):
        if e.previous is None:
            raise MlreleaseError(
                f"{e.model} had nothing live in {e.environment} before bundle {bundle_id}, so there is no version to roll it back to; "
                f"nothing was changed"
            )
        out.append(Request("rollback", e.model, e.previous, e.environment, reason))
    envs = {r.environment for r in out}
    if len(envs) > 1:
        raise UsageError(f"bundle {bundle_id} acted in {', '.join(sorted(str(e) for e in envs))}: name one with --env")
    return out


# ---- one plan ----------------------------------------------------------------------------------


def make_plan(
    reg: Registry, reqs: list[Request], ctx: Context, *, name: str | None, bundle_id: str | None, ids: Sequence[str] | None
) -> Plan:
    """The bundle's plan at ``reg``: every member's plan (ids in member order), their gates, one verdict.

    ``bundle_id`` and ``ids`` (None: fresh ones): plan again under the ids a person already saw.
    Fresh member ids are made sorted, in member order: the order the backends are called in
    (release.bundlestate tells a member never called by it).
    """
    if bundle_id is None or ids is None:
        bundle_id = new_id(ctx.now)
        ids = sorted(new_id(ctx.now) for _ in reqs)
    reqs = [dataclasses.replace(r, bundle=bundle_id) for r in reqs]
    if any(r.force or r.canary is not None for r in reqs):
        raise UsageError("a bundle takes neither --force nor --canary: force or canary one model on its own")
    envs = {r.environment for r in reqs}
    if len(envs) != 1:
        raise UsageError(f"a bundle acts in one environment, not {', '.join(sorted(str(e) for e in envs))}")
    reqs = with_latest(reg, reqs)
    plans = [planner.make_plan(reg, r, ctx, action_id=aid) for r, aid in zip(reqs, ids, strict=True)]
    kind, env = reqs[0].kind, reqs[0].environment or ""
    members = tuple(p for p in plans if p.noop is None)
    said = ", ".join(f"{p.request.model} {p.version}" for p in plans)
    verb = "Promote" if kind == "promote" else "Roll back"
    title = f"{verb} bundle {name + ': ' if name else ''}{said} {'to' if kind == 'promote' else 'in'} {env}"
    gates = tuple(dataclasses.replace(g, name=f"{p.request.model}: {g.name}") for p in members for g in p.gates)
    blocks = [(p, p.block) for p in members if p.block is not None]
    block = None
    if blocks:
        first, b = blocks[0]
        assert b is not None
        block = Block(f"{first.request.model}: {b.message}", b.refusal)
    notes = [f"{p.request.model}: {n}" for p in members for n in p.notes]
    notes += [f"{p.noop}: not part of this bundle" for p in plans if p.noop is not None]
    if members and len(members) < len(plans):
        notes.append("the bundle moves the others only")
    backends = sorted({p.backend or "record" for p in members})
    typed = [p.confirmation.typed_name for p in members if p.confirmation.typed_name]
    confirmation = Confirmation(
        reason_required=any(p.confirmation.reason_required for p in members),
        typed_name=(name or env) if typed else None,
    )
    return Plan(
        request=Request(kind, None, None, env, reqs[0].reason, bundle=bundle_id),
        actor=ctx.actor,
        at=ctx.now,
        base=plans[0].base,
        title=title,
        action_id=bundle_id,
        gates=gates,
        backend=", ".join(backends),
        backend_call="\n".join(f"{p.request.model}: {p.backend_call}" for p in members),
        commits=tuple(c for p in members for c in p.commits[:1]) + tuple(c for p in members for c in p.commits[1:]),
        noop=None if members else f"everything in the bundle is already as asked ({said})",
        block=block,
        notes=tuple(notes),
        members=members,
        bundle_name=name,
        confirmation=confirmation,
    )


def replan(reg: Registry, shown: Plan, ctx: Context) -> Plan:
    """The bundle ``shown`` planned again at ``reg`` under the same ids (what a face shows after a refusal)."""
    ids = [m.action_id or "" for m in shown.members]
    reqs = [m.request for m in shown.members]
    return make_plan(reg, reqs, ctx, name=shown.bundle_name, bundle_id=shown.action_id or "", ids=ids)


# ---- running it ----------------------------------------------------------------------------------


def run(service: ReleaseService, shown: Plan, say: Say, replan: Callable[[Registry], Plan]) -> Result:
    """Steps 2 and 3 of the module docstring: the chained intent, then each member's backend, in order."""
    first = shown.members[0]
    landed = False
    checked: list[Plan] = []

    def intents(reg: Registry) -> Change | None:
        nonlocal landed, checked
        if slot_for(first).landed(reg, first.action_id or ""):
            landed = True  # an earlier attempt's push was reported lost, and landed: all of it (one chain)
            return None
        fresh = []
        for m in shown.members:
            try:
                now = service.recheck(reg, m)
            except PlanChanged as exc:
                raise PlanChanged(f"{m.request.model}: {exc}", replan(reg)) from None
            if now is None:
                raise PlanChanged(f"{m.request.model} changed since this was planned: someone did the same meanwhile", replan(reg))
            fresh.append(now)
        checked = fresh
        changes = [slot_for(p).intent(reg, p) for p in fresh]
        return Change(changes[0].files, changes[0].message, chain=tuple(changes[1:]))

    say(Progress("intent", f"recording the intents of {len(shown.members)} models: {shown.title}"))
    committed = service.apply(intents, refresh=False)
    if committed.commit is None and not landed:
        return Result(shown, "noop", "nothing to do: someone already did it")
    try:
        return _members(service, shown, checked or list(shown.members), committed.commit, say)
    finally:
        service.refresh_after(committed)


def _members(service: ReleaseService, shown: Plan, plans: list[Plan], intent: str | None, say: Say) -> Result:
    items: list[Result] = []
    stop: tuple[int, str] | None = None
    for i, p in enumerate(plans):
        r = call_member(service, p, say)
        items.append(r)
        if r.phase != "Succeeded":
            stop = (i, r.phase or "Pending")
            break
    if stop is None:
        return _result(
            shown, items, intent, "done", f"bundle {shown.action_id}: all {len(items)} models are live in {shown.request.environment}"
        )
    i, phase = stop
    if phase == "Pending":  # nobody knows yet: reconcile asks, then finishes the bundle or undoes it
        rest = ", ".join(str(p.request.model) for p in plans[i + 1 :]) or "none"
        return _result(
            shown,
            items,
            intent,
            "pending",
            f"bundle {shown.action_id} stopped at {plans[i].request.model}, whose outcome is unknown (Pending); "
            f"not yet called: {rest}. Run `mlrelease reconcile`: it asks the backend, then finishes the bundle or rolls it back",
        )
    why = f"{plans[i].request.model} failed"
    items += [not_attempted(service, p, shown.action_id or "", why) for p in plans[i + 1 :]]
    undone = [undo(service, r.plan, why, say) for r in reversed(items[:i])]
    items[:i] = list(reversed(undone))
    held = [r for r in items[:i] if r.exit_code != ExitCode.OK]
    message = f"bundle {shown.action_id} failed at {plans[i].request.model}: nothing of it stays live"
    if held:
        message = f"bundle {shown.action_id} failed at {plans[i].request.model}, and rolling back did not finish for " + ", ".join(
            str(r.plan.request.model) for r in held
        )
    return _result(shown, items, intent, "failed", message)


def _result(shown: Plan, items: list[Result], intent: str | None, status: str, message: str) -> Result:
    done = tuple(c for c in (intent,) if c) + tuple(c for r in items for c in r.commits)
    code = ExitCode.OK if status == "done" else ExitCode.BACKEND_FAILED
    phase = {"done": "Succeeded", "pending": "Pending"}.get(status, "Failed")
    pushed = any(r.pushed for r in items)
    notes = tuple(n for r in items for n in r.notes)
    return Result(shown, status, message, code, done, phase, None, pushed, notes, tuple(items))


def call_member(service: ReleaseService, p: Plan, say: Say, *, recorder: str | None = None) -> Result:
    """One member's backend call and outcome commit; ``phase`` Pending when the backend cannot tell."""
    backend, action = p.executor, p.action
    if backend is None or action is None:
        raise MlreleaseError(f"{p.title}: the plan has no backend call")
    aid = p.action_id or ""
    say(Progress("backend", f"{p.request.model}: calling backend {backend.name} for promotion {aid}"))
    outcome, error = backendcall.in_flight(service.target.registry_root, backend, aid, lambda: backend.execute(action))
    if outcome is None:
        return Result(
            p,
            "pending",
            f"{p.request.model} {p.version}: Pending: backend {backend.name}: {error}",
            ExitCode.BACKEND_FAILED,
            phase="Pending",
        )
    rec = service.record_outcome(slot_for(p), p, outcome, recorder=recorder)
    ref = release_state.redacted(outcome.reference)
    phase = "Succeeded" if outcome.ok else "Failed"
    message = f"{p.request.model} {p.version}: {phase}" + (f" ({release_state.one_line(outcome.message)})" if outcome.message else "")
    code = ExitCode.OK if outcome.ok else ExitCode.BACKEND_FAILED
    return Result(
        p, "done" if outcome.ok else "failed", message, code, rec.commits, phase, ref, rec.pushed, tuple(n for n in (rec.note,) if n)
    )


def not_attempted(service: ReleaseService, p: Plan, bundle_id: str, why: str) -> Result:
    """A member whose backend was never called: recorded Failed (nothing of it is live), saying so."""
    message = f"not attempted: bundle {bundle_id} stopped before it ({why})"
    at = service.now()

    def build(reg: Registry) -> Change | None:
        s = reg.release(p.request.environment or "", p.request.model or "")
        if s is None or not s.pending or s.observed is None or s.observed.promotion_id != p.action_id:
            return None  # no longer Pending: someone recorded it
        new = release_state.with_outcome(s, ok=False, at=at, backend_ref=None, message=message)
        preview = commits.outcome(
            deploy_facts(p), layout.release_path(s.environment, s.model), phase="Failed", backend_ref=None, message=message, attempted=False
        )
        return Change({layout.release_path(s.environment, s.model): release_state.dump_release(new)}, preview.message())

    committed = service.apply(build, patience=10, first=False)
    done = tuple(c for c in (committed.commit,) if c)
    return Result(
        p,
        "failed",
        f"{p.request.model} {p.version}: not attempted ({why})",
        ExitCode.BACKEND_FAILED,
        done,
        "Failed",
        pushed=committed.pushed,
    )


def undo(service: ReleaseService, moved: Plan, why: str, say: Say) -> Result:
    """Roll back a member that moved, through its backend, to what was live before it (no pin)."""
    r = moved.request
    was = f"{r.model} {moved.version}: Succeeded"
    if moved.previous is None:
        return Result(
            moved,
            "failed",
            f"{was}, NOT rolled back: nothing was live in {r.environment} before it, so there is no version to return to; "
            f"it stays live (roll it forward, or deploy by hand)",
            ExitCode.BACKEND_FAILED,
            phase="Succeeded",
        )
    request = Request("rollback", r.model, moved.previous, r.environment, f"undo of bundle {r.bundle}: {why}", bundle=r.bundle, undo=True)
    say(Progress("intent", f"{r.model}: rolling back to {moved.previous} ({why})"))
    try:
        plan = service.prepare(request)
        if plan.block is not None:
            raise plan.block.error()
        done = service.run_two_phase(plan, say)
    except MlreleaseError as exc:
        return Result(moved, "failed", f"{was}, and rolling it back failed: {exc}", exc.exit_code, phase="Succeeded")
    if done.phase == "Succeeded":
        return Result(
            moved, "done", f"{was}, then rolled back to {moved.previous}", ExitCode.OK, done.commits, "Succeeded", pushed=done.pushed
        )
    state = "is Pending (run `mlrelease reconcile`)" if done.phase == "Pending" else "failed: it stays live"
    return Result(
        moved,
        "failed",
        f"{was}; its rollback to {moved.previous} {state}: {done.message}",
        ExitCode.BACKEND_FAILED,
        done.commits,
        "Succeeded",
    )


# ---- reconcile: finishing or undoing an interrupted bundle ---------------------------------------


def member_plan(reg: Registry, state: ReleaseState) -> Plan:
    """The plan a member ran with, rebuilt from its state and its intent's trailers (what it moved from)."""
    d = state.desired
    assert d is not None
    intent = next(
        (e for e in iter_history(reg, state.model, state.environment) if e.promotion_id == d.promotion_id and e.phase == "Pending"), None
    )
    previous = intent.previous if intent is not None else None
    request = Request(d.action, state.model, d.version, state.environment, d.reason, bundle=d.bundle)
    return Plan(
        request, d.actor, d.at, None, f"{d.action} {state.model} {d.version} in {state.environment}", d.promotion_id, d.version, previous
    )


def finish(service: ReleaseService, say: Say) -> list[Result]:
    """After reconcile's items: roll back what moved in bundles that failed."""
    with Registry(service.target.registry_root, service.base_ref) as reg:
        plans = [member_plan(reg, s) for s in bundlestate.owed_undos(reg)]
    return [undo(service, p, f"bundle {p.request.bundle} failed", say) for p in reversed(plans)]
