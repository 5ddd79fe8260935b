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

from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.types import (
    Approval,
    Canary,
    Desired,
    Live,
    Observed,
    Pin,
    Rejection,
    ReleaseState,
    RetrainRequest,
    identity_key,
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


def with_intent(state: ReleaseState, desired: Desired, backend: str, *, pin: Pin | None = None) -> ReleaseState:
    """Commit A: the new desired state, Pending; ``live`` untouched. A rollback also pins."""
    observed = Observed(phase="Pending", promotion_id=desired.promotion_id, at=desired.at, backend=backend)
    return dataclasses.replace(state, desired=desired, observed=observed, pin=pin or state.pin)


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


def with_approval(state: ReleaseState, approval: Approval) -> ReleaseState:
    return dataclasses.replace(state, approvals=(*state.approvals, approval))


def has_approved(state: ReleaseState, version: str, who: str) -> bool:
    key = identity_key(who)
    return any(a.version == version and identity_key(a.by) == key for a in state.approvals)


# ---- YAML ----------------------------------------------------------------------------------


def _weight(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _canary(c: Canary | None) -> dict[str, object] | None:
    return None if c is None else {"version": c.version, "weight": _weight(c.weight)}


def _drop_none(d: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in d.items() if v is not None and v != ()}


def release_data(s: ReleaseState) -> dict[str, object]:
    """The state as the plain mapping parse_release reads back to an equal state."""
    data: dict[str, object] = {"model": s.model, "environment": s.environment}
    if s.desired:
        d = s.desired
        data["desired"] = _drop_none(
            {
                "version": d.version,
                "canary": _canary(d.canary),
                "promotion_id": d.promotion_id,
                "action": d.action,
                "actor": d.actor,
                "at": format_timestamp(d.at),
                "reason": d.reason,
                "forced": list(d.forced) or None,
            }
        )
    if s.observed:
        o = s.observed
        data["observed"] = _drop_none(
            {
                "phase": o.phase,
                "promotion_id": o.promotion_id,
                "at": format_timestamp(o.at),
                "backend": o.backend,
                "backend_ref": o.backend_ref,
                "message": o.message,
            }
        )
    if s.live:
        live = s.live
        data["live"] = _drop_none(
            {
                "version": live.version,
                "canary": _canary(live.canary),
                "promotion_id": live.promotion_id,
                "since": format_timestamp(live.since),
            }
        )
    if s.pin:
        data["pin"] = _drop_none({"by": s.pin.by, "at": format_timestamp(s.pin.at), "reason": s.pin.reason})
    if s.approvals:
        data["approvals"] = [
            _drop_none({"version": a.version, "by": a.by, "at": format_timestamp(a.at), "comment": a.comment}) for a in s.approvals
        ]
    return data


def dump_release(state: ReleaseState) -> bytes:
    return dump(release_data(state)).encode("utf-8")


def dump_rejections(model: str, rejections: Iterable[Rejection]) -> bytes:
    items = [{"version": r.version, "by": r.by, "at": format_timestamp(r.at), "reason": r.reason} for r in rejections]
    return dump({"model": model, "rejected": items}).encode("utf-8")


def dump_retrain(model: str, requests: Iterable[RetrainRequest]) -> bytes:
    items = [
        _drop_none(
            {
                "id": r.id,
                "at": format_timestamp(r.at),
                "actor": r.actor,
                "reason": r.reason,
                "trigger": r.trigger,
                "backend": r.backend,
                "backend_ref": r.backend_ref,
                "phase": r.phase,
                "message": r.message,
            }
        )
        for r in requests
    ]
    return dump({"model": model, "requests": items}).encode("utf-8")
