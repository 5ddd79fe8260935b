"""The second phase of a reload: per-model status from the services, in batches.

Runs in a thread worker after the overview painted. Four questions, each answered by its
service and handed to the screens batch by batch, so a large registry fills in
progressively and the table never waits (cells not answered yet say "…"):

1. live health and whether retraining is due (:mod:`mlrelease.telemetry.health`, ``check``'s batch);
2. the headline metric over recent versions (:mod:`mlrelease.registry.trend`);
3. whether the candidate's gates pass in its next environment, approvals included
   (:mod:`mlrelease.release.readiness`, the planner's own verdicts);
4. each rollout's progress — step, weight, next decision, verdict so far (:mod:`mlrelease.rollout.report`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime

from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.overview import Overview
from mlrelease.registry.trend import RECENT, metric_trend
from mlrelease.release.readiness import readiness
from mlrelease.telemetry.health import assess, overview_statuses
from mlrelease.tui.session import Session
from mlrelease.tui.status import ModelStatus

BATCH = 250
Update = dict[str, dict[str, object]]  # model → ModelStatus fields to set


def model_statuses(session: Session, view: Overview, now: datetime) -> Iterator[Update]:
    """Batches of status fields per model; a failing question leaves its fields unset.

    Health first: it is the column a person looks for, and the one answer for every model
    at once (``check``'s own batch, :func:`~mlrelease.telemetry.health.assess`). The
    trends read a few manifests a model; the gates last: each plan reads its model's
    history (one ``git log`` for all of them when cold, see :mod:`mlrelease.release.readiness`).
    """
    yield _health(session, view, now)
    with session.open() as reg:
        # The newest manifests of every model, parsed on every core at once (the trends below then find them parsed).
        recent = [layout.version_path(s.name, v) for s in view.models if s.headline for v in reg.version_names(s.name)[-RECENT:]]
        reg.parse_many([("version", path) for path in recent], parallel=True)
        trends = ((s.name, {"trend": metric_trend(reg, s.name, s.headline[0].name)}) for s in view.models if s.headline)
        yield from _batches(trends)
    answered: set[str] = set()
    if session.ref is None and session.git_root is not None:  # in the past (or at a ref) nothing is planned
        gates = (
            (
                r.model,
                {
                    "gates_target": r.environment,
                    "failing_gates": tuple(g.name for g in r.failing_other_than_approvals),
                    "approvals": r.approvals,
                    "gates_read": True,
                },
            )
            for r in readiness(session.root, view.models, now)
        )
        for batch in _batches(gates):
            answered |= set(batch)
            yield batch
    rest = {m.name: {"gates_read": True} for m in view.models if m.candidate is not None and m.name not in answered}
    if rest:
        yield rest  # no next environment, or nothing planned here: nothing more to say about its gates
    yield from _rollouts(session, now)


def _health(session: Session, view: Overview, now: datetime) -> Update:
    """Live health and whether retraining is due, for every model at once."""
    with session.open() as reg:
        try:
            assessment = assess(reg, now=now)
        except MlreleaseError as exc:
            return {m.name: {"health": "unknown", "health_detail": str(exc)} for m in view.models}
    worst = overview_statuses(assessment)
    due = {d.model: tuple(r.message for r in d.reasons) for d in assessment.due}
    detail: dict[str, str] = {}
    for h in assessment.rows:
        if h.reasons and h.model not in detail and h.status == worst.get(h.model):
            detail[h.model] = f"{h.environment}: {h.reasons[0]}"
    return {
        m.name: {
            "health": worst[m.name].value if m.name in worst else "none",
            "health_detail": detail.get(m.name, ""),
            "retrain_due": due.get(m.name, ()),
        }
        for m in view.models
    }


def _batches(fields: Iterable[tuple[str, dict[str, object]]]) -> Iterator[Update]:
    """The (model, fields) pairs in updates of at most BATCH models each, the last one partial."""
    batch: Update = {}
    for model, values in fields:
        batch[model] = values
        if len(batch) >= BATCH:
            yield batch
            batch = {}
    if batch:
        yield batch


def _rollouts(session: Session, now: datetime) -> Iterator[Update]:
    """Each canary's progress under its environment's rollout strategy (asks the telemetry sources)."""
    from mlrelease.rollout.report import in_progress, progress_text

    with session.open() as reg:
        try:
            evaluations = in_progress(reg, now)
        except MlreleaseError:
            return  # a broken strategy or source: lint and health say what is wrong; the overview shows the rest
    found: Update = {}
    for e in evaluations:
        found.setdefault(e.model, {"rollout": f"{e.environment}: {progress_text(e)}"})
    if found:
        yield found


def merge(current: ModelStatus | None, fields: dict[str, object]) -> ModelStatus:
    return dataclasses.replace(current or ModelStatus(), **fields)  # type: ignore[arg-type]
