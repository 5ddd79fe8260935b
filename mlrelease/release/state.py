"""New release state from old: the transitions of the state machine, and their YAML.

``releases/<env>/<model>.yaml`` keeps what was asked (``desired``) apart from what the
backend did (``observed``) and from what is known to be deployed (``live``). Only these
functions change a state, so the rules hold everywhere:

* an intent sets ``desired`` and ``observed: Pending`` for the new promotion id and never
  touches ``live``;
* only a Succeeded outcome for the desired promotion id moves ``live``;
* a Failed outcome records the failure and leaves ``live`` as it was.

``desired`` has the same shape as ``live``: ``version`` is the primary version and
``canary`` the version beside it with its weight, so a reconciler elsewhere reads the
spec the way it reads the status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from mlrelease.registry.parse import REJECTIONS, RELEASE, RETRAIN_REQUESTS
from mlrelease.registry.shape import write
from mlrelease.registry.types import (
    Approval,
    BreakGlass,
    Desired,
    Live,
    Observed,
    Pin,
    Rejection,
    ReleaseState,
    RetrainRequest,
    Review,
)
from mlrelease.registry.yamlsafe import dump
from mlrelease.secrets import redact
from mlrelease.textsafe import visible

MESSAGE_LIMIT = 300


def one_line(text: str | None) -> str | None:
    """A backend's message as the state records it: redacted, one line, bounded."""
    if not text:
        return None
    line = visible(redact(text), single_line=True).strip()
    return line[: MESSAGE_LIMIT - 1] + "…" if len(line) > MESSAGE_LIMIT else line


def redacted(text: str | None) -> str | None:
    """A backend's reference as recorded: redacted, or None."""
    return redact(text) if text else None


# ---- transitions ------------------------------------------------------------------------


def empty(model: str, environment: str) -> ReleaseState:
    return ReleaseState(model=model, environment=environment)


def with_intent(
    state: ReleaseState, desired: Desired, backend: str, *, pin: Pin | None = None, break_glass: Approval | None = None
) -> ReleaseState:
    """Commit A: the new desired state, Pending; ``live`` untouched. A rollback also pins.

    ``break_glass``: the approval this promotion uses: marked used, and the override
    recorded (flagged until reviewed, see :func:`with_review`).
    """
    observed = Observed(phase="Pending", promotion_id=desired.promotion_id, at=desired.at, backend=backend)
    new = dataclasses.replace(state, desired=desired, observed=observed, pin=pin or state.pin)
    if break_glass is None:
        return new
    used = dataclasses.replace(break_glass, used_by=desired.promotion_id)
    entry = BreakGlass(
        promotion_id=desired.promotion_id,
        version=desired.canary.version if desired.canary else desired.version,
        gates=desired.forced,
        promoter=desired.actor,
        approver=desired.break_glass or break_glass.by,
        at=desired.at,
        reason=desired.reason or "",
    )
    approvals = tuple(used if a == break_glass else a for a in state.approvals)
    return dataclasses.replace(new, approvals=approvals, break_glass=(*state.break_glass, entry))


def with_review(state: ReleaseState, review: Review) -> ReleaseState:
    """Every break-glass promotion not yet reviewed gets ``review``: the faces stop flagging them."""
    return dataclasses.replace(
        state, break_glass=tuple(b if b.review is not None else dataclasses.replace(b, review=review) for b in state.break_glass)
    )


def with_outcome(state: ReleaseState, *, ok: bool, at: datetime, backend_ref: str | None, message: str | None) -> ReleaseState:
    """Commit B: Succeeded moves ``live`` to the desired state; Failed leaves it."""
    desired, observed = state.desired, state.observed
    assert desired is not None and observed is not None
    new_observed = dataclasses.replace(
        observed, phase="Succeeded" if ok else "Failed", at=at, backend_ref=backend_ref, message=one_line(message)
    )
    live = state.live
    if ok:
        same_primary = live is not None and live.version == desired.version
        since = live.since if live is not None and same_primary else at
        live = Live(version=desired.version, promotion_id=desired.promotion_id, since=since, canary=desired.canary)
    return dataclasses.replace(state, observed=new_observed, live=live)


def without_pin(state: ReleaseState) -> ReleaseState:
    return dataclasses.replace(state, pin=None)


def with_pin(state: ReleaseState, pin: Pin) -> ReleaseState:
    return dataclasses.replace(state, pin=pin)


def with_approval(state: ReleaseState, approval: Approval) -> ReleaseState:
    return dataclasses.replace(state, approvals=(*state.approvals, approval))


# ---- YAML ----------------------------------------------------------------------------------
# Written by the shapes the parser reads (mlrelease.registry.parse), so what is written
# parses back to an equal state.


def release_data(s: ReleaseState) -> dict[str, object]:
    """The state as the plain mapping parse_release reads back to an equal state."""
    return write(s, RELEASE)


def dump_release(state: ReleaseState) -> bytes:
    return dump(release_data(state)).encode("utf-8")


def dump_rejections(model: str, rejections: Iterable[Rejection]) -> bytes:
    return dump(REJECTIONS.write(model, rejections)).encode("utf-8")


def dump_retrain(model: str, requests: Iterable[RetrainRequest]) -> bytes:
    return dump(RETRAIN_REQUESTS.write(model, requests)).encode("utf-8")
