"""What the release states say of a bundle: which members were never called, which moved and are owed an undo.

Pure rules on the registry at one commit, shared by the planner (reconcile's plan lists the
undos owed) and by :mod:`mlrelease.release.bundle` and reconcile (which carry them out).
Members are told apart by ``desired.bundle`` (the bundle's id) and ordered by promotion id:
a bundle gives its members ids in the order it calls their backends.
"""

from __future__ import annotations

from mlrelease.registry.loader import Registry
from mlrelease.registry.types import ReleaseState
from mlrelease.release.plan import PendingItem


def members_at(reg: Registry, bundle_id: str) -> list[ReleaseState]:
    states = reg.releases([]).values()
    return sorted(
        (s for s in states if s.desired is not None and s.desired.bundle == bundle_id),
        key=lambda s: s.desired.promotion_id if s.desired else "",
    )


def _failed(states: list[ReleaseState]) -> ReleaseState | None:
    return next((s for s in states if s.observed is not None and s.observed.phase == "Failed" and s.desired and not s.desired.undo), None)


def waiting_for(reg: Registry, state: ReleaseState) -> tuple[str, str] | None:
    """A Pending member whose backend was never called: ("failed"|"pending", MODEL of the member before it that decides).

    Members are called in promotion-id order, each after the one before is Succeeded: a Pending
    member with a Failed or Pending member before it was never called. None: it may have been.
    """
    d = state.desired
    if d is None or d.bundle is None or d.undo:
        return None
    for s in members_at(reg, d.bundle):
        if s.desired is None or s.desired.undo or s.desired.promotion_id >= d.promotion_id or s.observed is None:
            continue
        if s.observed.phase in ("Failed", "Pending"):
            return ("failed" if s.observed.phase == "Failed" else "pending", s.model)
    return None


def owed_undos(reg: Registry) -> list[ReleaseState]:
    """Members that moved in a bundle that failed, not rolled back yet (a crash between the two)."""
    bundles = {s.desired.bundle for s in reg.releases([]).values() if s.desired is not None and s.desired.bundle}
    out = []
    for b in sorted(bundles):
        states = members_at(reg, b or "")
        if _failed(states) is None or any(s.pending for s in states):
            continue
        out += [s for s in states if s.desired and not s.desired.undo and s.observed and s.observed.phase == "Succeeded"]
    return out


def owed_items(reg: Registry, environment: str | None, model: str | None) -> list[PendingItem]:
    """The undos owed, as reconcile's plan lists them."""
    out = []
    for s in owed_undos(reg):
        if (environment and s.environment != environment) or (model and s.model != model) or s.desired is None or s.observed is None:
            continue
        d = s.desired
        what = f"roll {s.model} back to what was live before bundle {d.bundle}, which failed (it moved before the failure)"
        out.append(PendingItem("undo", s.model, d.promotion_id, s.observed.backend, s.observed.at, d.actor, s.environment, d.version, what))
    return out
