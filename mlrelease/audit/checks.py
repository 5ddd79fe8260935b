"""Does a change of one file match the action its trailers claim? Pure functions of before, after, trailers.

Each check rebuilds the file the claimed action would have written from the file before
the commit — through the release service's own transitions (:mod:`mlrelease.release.state`),
so a rule lives once — and compares it with what the commit wrote. Anything else the
commit changed is reported in words, with the kind of problem:

* ``forged``: the trailers say one thing and the file says another;
* ``sequence``: the action cannot follow what was there (an outcome without its intent,
  an intent while another promotion is Pending);
* ``deleted``: something the record keeps forever was removed (a rejection, an approval,
  a break-glass record);
* ``hand-edit``: no mlrelease action at all (:func:`hand_edit` says what changed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from mlrelease.registry.identities import Identities
from mlrelease.registry.types import Approval, Environment, Rejection, ReleaseState, RetrainRequest
from mlrelease.release import foureyes, proposal
from mlrelease.release import state as st

Problem = tuple[str, str]  # (kind, message)


def _bare(s: ReleaseState | None) -> ReleaseState | None:
    return dataclasses.replace(s, lines={}) if s is not None else None


def _diff(expected: ReleaseState, actual: ReleaseState) -> list[str]:
    """The top-level parts of a release state that differ, in words."""
    out = []
    for f in dataclasses.fields(ReleaseState):
        if f.name == "lines":
            continue
        want, got = getattr(expected, f.name), getattr(actual, f.name)
        if want != got:
            out.append(f"{f.name} is {_show(got)}, the {f.name} this action writes is {_show(want)}")
    return out


def _show(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, tuple):
        return f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    for attr in ("version", "phase", "by"):
        if hasattr(value, attr):
            return f"{attr} {getattr(value, attr)}"
    return str(value)


def _removed(before: ReleaseState | None, after: ReleaseState) -> list[Problem]:
    """Approvals and break-glass records are kept forever: removing one is never an action's doing."""
    if before is None:
        return []
    out: list[Problem] = []
    kept = {(a.version, a.by, a.at) for a in after.approvals}
    for a in before.approvals:
        if (a.version, a.by, a.at) not in kept:
            out.append(("deleted", f"the approval of {a.version} by {a.by} ({a.at:%Y-%m-%d}) was removed"))
    ids = {b.promotion_id for b in after.break_glass}
    for b in before.break_glass:
        if b.promotion_id not in ids:
            out.append(("deleted", f"the break-glass record of promotion {b.promotion_id} was removed"))
    return out


def release(action: str, t: Mapping[str, str], before: ReleaseState | None, after: ReleaseState | None) -> list[Problem]:
    """A commit with ``Mlrelease-Action: action`` changed a release state from ``before`` to ``after``."""
    if after is None:
        return [("forged", f"{action} deleted the release state, which no action does")]
    model, env = after.model, after.environment
    base = _bare(before) or st.empty(model, env)
    after = _bare(after)
    assert after is not None
    problems = _removed(before, after)
    if action in ("promote", "rollback"):
        return problems + _intent(action, t, base, after)
    if action in ("outcome", "reconcile"):
        return problems + _outcome(t, base, after)
    if action == "approve":
        return problems + _approve(t, base, after)
    if action == "unpin":
        if base.pin is None:
            problems.append(("sequence", "unpin of an environment that was not pinned"))
        return problems + [("forged", d) for d in _diff(st.without_pin(base), after)]
    if action == "review":
        return problems + _review(t, base, after)
    return [*problems, ("forged", f"the trailers say {action!r}, which never changes a release state")]


def _intent(action: str, t: Mapping[str, str], base: ReleaseState, after: ReleaseState) -> list[Problem]:
    d, o = after.desired, after.observed
    out: list[Problem] = []
    if d is None or o is None or o.phase != "Pending":
        return [("forged", f"a {action} intent must leave the promotion Pending, and it does not")]
    if base.pending:
        out.append(("sequence", f"a new intent while promotion {base.observed.promotion_id if base.observed else '?'} was still Pending"))
    claimed = {
        "promotion id": (t.get("promotion_id"), d.promotion_id),
        "action": (action, d.action),
        "actor": (t.get("actor"), d.actor),
        "version": (t.get("version"), d.canary.version if d.canary else d.version),
        "canary weight": (t.get("canary_weight"), f"{d.canary.weight:g}" if d.canary else None),
        "forced gates": (t.get("forced"), ", ".join(d.forced) or None),
        "break-glass": (t.get("break_glass"), d.break_glass),
        "bundle": (t.get("bundle"), d.bundle),
        "bundle undo": (t.get("bundle_fate") == "undo", d.undo),
    }
    out += [("forged", f"the trailers say {what} {want}, the release state {got}") for what, (want, got) in claimed.items() if want != got]
    used = next((a for a in base.approvals if a.break_glass and a.used_by is None and _used(a, after, d.promotion_id)), None)
    if d.break_glass and used is None:
        out.append(("break-glass", "the intent claims break-glass, and no unused break-glass approval was marked used by it"))
    expected = st.with_intent(base, d, o.backend or "record", pin=after.pin if action == "rollback" else None, break_glass=used)
    if action == "rollback" and after.pin is None and not (d.undo and d.bundle):  # a bundle's undo puts back, it holds nothing
        out.append(("forged", "a rollback pins the environment, and this one did not"))
    if d.undo and (action != "rollback" or not d.bundle):
        out.append(("forged", "only a bundle's rollback is an undo"))
    out += [("forged", msg) for msg in _diff(dataclasses.replace(expected, observed=o), after)]
    return out


def _used(a: Approval, after: ReleaseState, promotion_id: str) -> bool:
    return dataclasses.replace(a, used_by=promotion_id) in after.approvals


def _outcome(t: Mapping[str, str], base: ReleaseState, after: ReleaseState) -> list[Problem]:
    pid, phase = t.get("promotion_id"), t.get("phase")
    if base.observed is None or base.observed.promotion_id != pid or not base.pending:
        was = f"{base.observed.promotion_id} {base.observed.phase}" if base.observed else "no promotion"
        return [("sequence", f"an outcome of promotion {pid} without its Pending intent before it (the state had {was})")]
    o = after.observed
    if o is None or o.phase != phase or phase not in ("Succeeded", "Failed"):
        return [("forged", f"the trailers say {phase}, the release state {o.phase if o else 'nothing'}")]
    expected = st.with_outcome(base, ok=phase == "Succeeded", at=o.at, backend_ref=o.backend_ref, message=o.message)
    expected = dataclasses.replace(expected, observed=o)  # the backend's words are its own
    return [("forged", msg) for msg in _diff(expected, after)]


def _approve(t: Mapping[str, str], base: ReleaseState, after: ReleaseState) -> list[Problem]:
    new = [a for a in after.approvals if a not in base.approvals]
    if len(new) != 1 or after.approvals[: len(base.approvals)] != base.approvals:
        return [("forged", f"an approval adds exactly one entry at the end; this commit added {len(new)}")]
    a = new[0]
    out: list[Problem] = []
    if a.version != t.get("version") or a.by != t.get("actor"):
        out.append(("forged", f"the trailers say {t.get('actor')} approved {t.get('version')}, the file says {a.by} approved {a.version}"))
    if a.break_glass != bool(t.get("break_glass")) or a.used_by is not None:
        out.append(("forged", "the approval's break-glass flag disagrees with the trailers"))
    out += [("forged", msg) for msg in _diff(st.with_approval(base, a), after)]
    return out


def _review(t: Mapping[str, str], base: ReleaseState, after: ReleaseState) -> list[Problem]:
    reviews = {b.review for b in after.break_glass if b.review is not None and b not in base.break_glass}
    if len(reviews) != 1:
        return [("forged", "a review records one review on every open break-glass promotion; this commit did not")]
    (review,) = reviews
    out: list[Problem] = []
    if review.by != t.get("actor"):
        out.append(("forged", f"the trailers say {t.get('actor')} reviewed it, the file says {review.by}"))
    out += [("forged", msg) for msg in _diff(st.with_review(base, review), after)]
    return out


def rejections(action: str, t: Mapping[str, str], before: Sequence[Rejection] | None, after: Sequence[Rejection] | None) -> list[Problem]:
    before, after = tuple(before or ()), tuple(after or ())
    out: list[Problem] = [("deleted", f"the rejection of {r.version} by {r.by} was removed") for r in before if r not in after]
    if action != "reject":
        return [*out, ("forged", f"the trailers say {action!r}, which never changes rejections")]
    new = [r for r in after if r not in before]
    if len(new) != 1 or after[: len(before)] != before:
        return [*out, ("forged", f"a rejection adds exactly one entry at the end; this commit added {len(new)}")]
    r = new[0]
    if r.version != t.get("version") or r.by != t.get("actor"):
        out.append(("forged", f"the trailers say {t.get('actor')} rejected {t.get('version')}, the file says {r.by} rejected {r.version}"))
    return out


def retrain(
    action: str, t: Mapping[str, str], before: Sequence[RetrainRequest] | None, after: Sequence[RetrainRequest] | None
) -> list[Problem]:
    old, new = {r.id: r for r in before or ()}, {r.id: r for r in after or ()}
    out: list[Problem] = [("deleted", f"retraining request {i} was removed") for i in old if i not in new]
    changed = [r for i, r in new.items() if old.get(i) != r]
    pid = t.get("promotion_id")
    if action == "retrain":
        if [r.id for r in changed] != [pid] or pid in old or changed[0].phase != "Pending":
            out.append(("forged", f"a retraining request adds one Pending request {pid}; this commit changed {len(changed)}"))
    elif action in ("outcome", "reconcile"):
        was = old.get(pid or "")
        if was is None or was.phase != "Pending":
            out.append(("sequence", f"an outcome of retraining request {pid} without its Pending request before it"))
        elif [r.id for r in changed] != [pid] or new[was.id].phase != t.get("phase"):
            out.append(("forged", f"the outcome of request {pid} ({t.get('phase')}) is not what the file records"))
    else:
        out.append(("forged", f"the trailers say {action!r}, which never changes retraining requests"))
    return out


def deletions(kind: str, before: Any, after: Any) -> list[Problem]:
    """Records mlrelease keeps forever that a change removed (a hand edit's worst part: reported on their own)."""
    if kind == "rejections":
        return [("deleted", f"the rejection of {r.version} by {r.by} was removed") for r in before or () if r not in (after or ())]
    if kind == "retrain":
        new = {r.id for r in after or ()}
        return [("deleted", f"retraining request {r.id} was removed") for r in before or () if r.id not in new]
    if kind == "release" and isinstance(before, ReleaseState) and isinstance(after, ReleaseState):
        return _removed(before, after)
    return []


def hand_edit(kind: str, before: Any, after: Any) -> str:
    """What a change made without mlrelease did, in words (for the finding)."""
    if kind == "rejections":
        gone = [r.version for r in before or () if r not in (after or ())]
        added = [r.version for r in after or () if r not in (before or ())]
        parts = [f"rejection of {v} deleted" for v in gone] + [f"rejection of {v} added" for v in added]
        return "; ".join(parts) or "rejections edited"
    if kind != "release":
        return f"{kind} edited"
    if after is None:
        return "release state deleted"
    b: ReleaseState | None = before
    parts = []
    live_b = b.live.version if b and b.live else None
    live_a = after.live.version if after.live else None
    if live_b != live_a:
        parts.append(f"live {live_b or 'nothing'} → {live_a or 'nothing'}")
    added = [a for a in after.approvals if b is None or a not in b.approvals]
    parts += [f"approval of {a.version} by {a.by} added" for a in added]
    if (b.pin if b else None) != after.pin:
        parts.append("pinned" if after.pin else "unpinned")
    if b is not None and b.observed != after.observed:
        parts.append(f"observed {b.observed.phase if b.observed else 'none'} → {after.observed.phase if after.observed else 'none'}")
    return "; ".join(parts) or "release state edited"


def carried_out(env: Environment, ids: Identities, t: Mapping[str, str], after: ReleaseState) -> list[Problem]:
    """A deployment recorded in a protected environment: it must name the merged request it carried out,
    and a promotion its approvals, which must count under the four-eyes rules (recomputed here from the trailers)."""
    d, o = after.desired, after.observed
    if env.protected is None or d is None or o is None or o.phase != "Succeeded":
        return []
    noun = env.protected.noun
    if "proposal" not in t:
        return [("gate", f"{env.name} is protected, and this deployment names no merged {noun} (no Mlrelease-Proposal trailer)")]
    if d.action != "promote" or not env.gates.approvals:
        return []
    version = d.canary.version if d.canary else d.version
    gate = foureyes.review_gate(env, ids, ids.who(d.actor), version, proposal.accounts_of(t))
    return [] if gate.passed else [("gate", f"approvals of the merged {noun} {t['proposal']}: {gate.detail}")]
