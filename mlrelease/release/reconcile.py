"""Finishing what a crash left Pending: ask the backend, record the truth.

For each Pending action (a release state or a retraining request) the original plan is
rebuilt from the recorded state — same id, same payload — and the backend is asked for
the status of that id. Its answer is recorded like any outcome. When the backend cannot
tell, ``execute`` is called again with the same id (idempotent by the backend contract),
unless a call for that id may still be in flight: then the item stays Pending, so a
deploy never runs twice at once (docs/backends.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlrelease.backends.support import Journal
from mlrelease.errors import ExitCode, MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.release import backendcall, bundlestate
from mlrelease.release import state as release_state
from mlrelease.release.plan import PendingItem, Plan, Progress, Request, Result
from mlrelease.release.planner import action_for
from mlrelease.release.twophase import slot_for

if TYPE_CHECKING:
    from mlrelease.release.proposal import Merged
    from mlrelease.release.service import ReleaseService


def run(service: ReleaseService, plan: Plan, say: Callable[[Progress], None]) -> Result:
    results = []
    # Oldest first: a bundle's members in the order it calls them (release.bundlestate); undos owed come after.
    for item in sorted((i for i in plan.pending if i.kind != "undo"), key=lambda i: i.action_id):
        where = f" in {item.environment}" if item.environment else ""
        say(Progress("status", f"{item.kind} {item.model}{where}: {item.action_id}"))
        try:
            results.append(_one(service, plan, item, say))
        except MlreleaseError as exc:
            sub = dataclasses.replace(plan, title=f"{item.model} {item.environment or ''}".strip(), action_id=item.action_id)
            results.append(Result(sub, "error", str(exc), exc.exit_code))
    from mlrelease.release import bundle  # only reconcile needs a bundle's undo, not every action

    try:
        results += bundle.finish(service, say)
    except MlreleaseError as exc:
        results.append(Result(plan, "error", f"rolling back a failed bundle: {exc}", exc.exit_code))
    codes = [r.exit_code for r in results if r.exit_code != ExitCode.OK]
    worst = ExitCode.OK
    if codes:
        worst = next((c for c in codes if c != ExitCode.BACKEND_FAILED), ExitCode.BACKEND_FAILED)
    summary = ", ".join(f"{r.plan.title}: {r.phase or r.status}" for r in results)
    return Result(plan, "done" if worst == ExitCode.OK else "failed", f"reconciled {len(results)}: {summary}", worst, items=tuple(results))


def _one(service: ReleaseService, plan: Plan, item: PendingItem, say: Callable[[Progress], None]) -> Result:
    """Ask the backend; if it cannot tell, re-drive ``execute`` with the same id; record the answer."""
    merged: Merged | None = None
    with Registry(service.target.registry_root, service.base_ref) as reg:
        sub = _release_plan(service, reg, plan, item) if item.kind == "release" else _retrain_plan(service, reg, plan, item)
        state = reg.release(item.environment or "", item.model) if item.kind == "release" else None
        wait = bundlestate.waiting_for(reg, state) if sub is not None and state is not None else None
        env = reg.config.environment(item.environment or "") if item.kind == "release" else None
        if sub is not None and env is not None and env.protected is not None:
            say(Progress("status", f"{item.model} in {env.name} is protected: looking for the merged {env.protected.noun}"))
            from mlrelease.release import proposal  # only a protected environment's items need it

            merged = proposal.merged_check(reg, sub, env.protected)
    if sub is None:
        return Result(dataclasses.replace(plan, title=item.model, action_id=item.action_id), "noop", "no longer Pending")
    if wait is not None:  # a bundle member never called: the member before it decides
        how, before = wait
        bundle_id = state.desired.bundle if state and state.desired else ""
        if how == "failed":
            from mlrelease.release import bundle

            return bundle.not_attempted(service, sub, bundle_id or "", f"{before} failed")
        return Result(
            sub,
            "pending",
            f"{sub.title}: bundle {bundle_id} has not called its backend yet, and waits for {before} (still Pending)",
            ExitCode.BACKEND_FAILED,
            phase="Pending",
        )
    backend, action = sub.executor, sub.action
    assert backend is not None and action is not None
    if merged is not None:
        busy = Journal(service.target.registry_root, backend.name).in_flight(item.action_id)
        if busy is not None:
            return Result(
                sub, "pending", f"{busy}; {item.action_id} stays Pending: run reconcile again once it has ended", ExitCode.STALE_STATE
            )
        from mlrelease.release import proposal

        return proposal.carry_out(service, sub, merged, slot_for(sub))
    status, error = backendcall.call(lambda: backend.status(action))
    how = "backend status"
    if status is None and error is None:
        busy = Journal(service.target.registry_root, backend.name).in_flight(item.action_id)
        if busy is not None:
            return Result(
                sub,
                "pending",
                f"backend {backend.name} cannot tell yet, and {busy}; {item.action_id} stays Pending (not live): "
                "run reconcile again once that call has ended",
                ExitCode.STALE_STATE,
                phase="Pending",
            )
        say(Progress("backend", f"backend {backend.name} cannot tell; calling it again with the same id {item.action_id}"))
        status, error = backendcall.in_flight(service.target.registry_root, backend, item.action_id, lambda: backend.execute(action))
        how = "re-driven by reconcile"
    if status is None:
        return Result(
            sub,
            "pending",
            f"backend {backend.name}: {error}; {item.action_id} stays Pending (not live); run reconcile again when it is reachable",
            ExitCode.BACKEND_FAILED,
            phase="Pending",
        )
    status = dataclasses.replace(status, message=f"{how}: {status.message}" if status.message else how)
    rec = service.record_outcome(slot_for(sub), sub, status, recorder=str(service.actor))
    phase, code = ("Succeeded", ExitCode.OK) if status.ok else ("Failed", ExitCode.BACKEND_FAILED)
    ref = release_state.redacted(status.reference)
    return Result(sub, "done" if status.ok else "failed", f"{sub.title}: {phase} ({how})", code, rec.commits, phase, ref, rec.pushed)


def _release_plan(service: ReleaseService, reg: Registry, plan: Plan, item: PendingItem) -> Plan | None:
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
    backend = service.backend(reg.config, name)
    return dataclasses.replace(
        plan,
        request=Request(d.action, model, version, env, d.reason, canary, bool(d.forced), bundle=d.bundle, undo=d.undo),
        desired=d,
        actor=d.actor,
        title=f"{d.action} {model} {version} in {env}",
        action_id=d.promotion_id,
        version=version,
        previous=previous,
        backend=backend.name,
        action=action,
        executor=backend,
        pending=(),
    )


def _retrain_plan(service: ReleaseService, reg: Registry, plan: Plan, item: PendingItem) -> Plan | None:
    q = next((r for r in reg.retrain_requests(item.model) if r.id == item.action_id and r.phase == "Pending"), None)
    if q is None:
        return None
    latest = reg.latest_version(item.model)
    manifest = reg.version(item.model, latest) if latest else None
    backend = service.backend(reg.config, q.backend if q.backend in reg.config.backends else reg.config.retrain.backend)
    action = action_for("retrain", item.model, manifest, action_id=q.id, actor=q.actor, reason=q.reason)
    return dataclasses.replace(
        plan,
        request=Request("retrain", item.model, reason=q.reason, trigger=q.trigger),
        actor=q.actor,
        title=f"retrain {item.model}",
        action_id=q.id,
        version=latest,
        backend=backend.name,
        action=action,
        executor=backend,
        pending=(),
    )
