"""A release bundle in the history: its commits folded into one event, and what became of each member.

Every commit of a bundle carries ``Mlrelease-Bundle: ID`` (docs/actions.md): the members'
intents (one chain of consecutive commits), their outcomes, and the rollbacks the bundle
made itself when one failed (``Mlrelease-Bundle-Fate: undo``). :func:`grouped` folds them
into one event with ``action: bundle`` whose ``members`` are those events and whose note
says, per model, exactly one of: Succeeded; Succeeded, then rolled back; Failed; not
attempted; Pending (and so on for an undo that did not finish). Its marks, forced gates and
break-glass are those of every commit in it. A commit made by hand that names the bundle
(``Mlrelease-Bundle`` without ``Mlrelease-Action``) is in it, so its marks are on the row,
but it is nobody's outcome: the fate is what mlrelease's own commits say.

It streams: other events pass through at once, and a bundle is given out where its
intents are (the oldest of its commits), once the next event is not one of them — the
intents are one chain, so nothing of the bundle is older.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from mlrelease.registry.history import Event

BUNDLE = "bundle"  # the action of a bundle's folded event


def _intent(e: Event) -> bool:
    return e.action in ("promote", "rollback") and e.phase == "Pending" and e.bundle_fate != "undo"


def members_of(events: Iterable[Event], bundle_id: str) -> list[Event]:
    """The events of one bundle, newest first (folded bundles are opened)."""
    out = []
    for e in events:
        for m in e.members or (e,):
            if m.bundle == bundle_id:
                out.append(m)
    return out


def _outcome(events: list[Event], promotion_id: str | None) -> Event | None:
    """The outcome of one promotion: an mlrelease action's, never a hand edit that says the same (verify marks that one)."""
    return next(
        (e for e in events if e.structured and e.promotion_id == promotion_id and e.phase in ("Succeeded", "Failed") and not _intent(e)),
        None,
    )


def fates(events: list[Event]) -> list[tuple[str, str, str]]:
    """(model, version, fate) per member, in the order the bundle called them."""
    out = []
    for intent in sorted((e for e in events if _intent(e)), key=lambda e: e.promotion_id or ""):
        done = _outcome(events, intent.promotion_id)
        if done is None:
            fate = "Pending"
        elif done.bundle_fate == "not attempted":
            fate = "not attempted"
        else:
            fate = done.phase or "Pending"
        if fate == "Succeeded":
            undo = next((e for e in events if e.bundle_fate == "undo" and e.model == intent.model and e.phase == "Pending"), None)
            if undo is not None:
                back = _outcome(events, undo.promotion_id)
                if back is None:
                    fate = f"Succeeded; its rollback to {undo.version} is Pending"
                elif back.phase == "Succeeded":
                    fate = f"Succeeded, then rolled back to {undo.version}"
                else:
                    fate = f"Succeeded; its rollback to {undo.version} failed, it stays live"
        out.append((intent.model or "?", intent.version or "?", fate))
    return out


def folded(bundle_id: str, events: list[Event]) -> Event:
    """One event for a bundle's events (newest first)."""
    intents = sorted((e for e in events if _intent(e)), key=lambda e: e.promotion_id or "")
    first = intents[0] if intents else events[-1]
    said = fates(events)
    if all(f == "Succeeded" for _, _, f in said):
        phase = "Succeeded"
    elif any(f == "Pending" or "Pending" in f for _, _, f in said):
        phase = "Pending"
    else:
        phase = "Failed"
    models = [m for m, _, _ in said] or sorted({e.model or "?" for e in events})
    verb = "Roll back" if first.action == "rollback" else "Promote"
    return replace(
        first,
        action=BUNDLE,
        subject=f"{verb} bundle {bundle_id}: {', '.join(f'{m} {v}' for m, v, _ in said)}",
        model=", ".join(models),
        previous=None,
        version=None,
        canary_weight=None,
        phase=phase,
        promotion_id=None,
        backend_ref=None,
        note="; ".join(f"{m} {v}: {f}" for m, v, f in said),
        marks=tuple(dict.fromkeys(mark for e in events for mark in e.marks)),
        accepted=tuple(dict.fromkeys(mark for e in events for mark in e.accepted)),
        members=tuple(events),
        # every member's, not the first intent's: a forced gate or break-glass on any commit of the bundle is on its row
        forced="; ".join(dict.fromkeys(f"{e.model}: {e.forced}" for e in reversed(events) if e.forced)) or None,
        break_glass=", ".join(dict.fromkeys(e.break_glass for e in reversed(events) if e.break_glass)) or None,
    )


def grouped(events: Iterable[Event]) -> Iterator[Event]:
    """``events`` (newest first) with each bundle folded into one event, placed where its intents are."""
    open_: dict[str, list[Event]] = {}
    closing: str | None = None
    for e in events:
        if closing is not None and not (e.bundle == closing and _intent(e)):
            yield folded(closing, open_.pop(closing))
            closing = None
        if e.bundle is None:
            yield e
            continue
        open_.setdefault(e.bundle, []).append(e)
        if _intent(e):
            closing = e.bundle
    for bundle_id, members in open_.items():
        yield folded(bundle_id, members)
