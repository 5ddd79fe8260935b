"""Where a rollout stands, read from the release state and its git history: no state of its own.

A rollout *is* a canary: the challenger runs beside the champion (the live version) at a
weight, and the strategy's steps say which weights come in which order. So the step is
the step whose weight the live canary has; the step began when that canary state became
live (the Succeeded outcome of its promotion); the rollout began when the challenger first
became the canary, without a break. Reading these from the record (the release file's
history, as :mod:`mlrelease.release.livehistory` does for rollbacks) means a rerun, a
missed run or a person acting in between never disagree with the registry.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from mlrelease.errors import GitError
from mlrelease.registry import layout
from mlrelease.registry.gitio import cat_file
from mlrelease.registry.loader import Registry
from mlrelease.registry.rollout import Step, Strategy
from mlrelease.registry.source import GitRefSource
from mlrelease.registry.types import Pin, ReleaseState
from mlrelease.release.livehistory import release_states


@dataclass(frozen=True)
class Position:
    model: str
    environment: str
    champion: str  # the live version
    challenger: str  # the canary
    weight: float  # the canary's share of traffic, percent
    step: int | None  # 0-based index into the strategy's steps; None: the weight is not a step's
    strategy: Strategy
    started: datetime  # the challenger first went live as the canary (this run of it)
    step_since: datetime  # the current weight went live
    pin: Pin | None = None
    pending: bool = False  # an action on this release file is still Pending

    @property
    def steps(self) -> int:
        return len(self.strategy.steps)

    @property
    def current(self) -> Step | None:
        return self.strategy.steps[self.step] if self.step is not None else None

    @property
    def last(self) -> bool:
        return self.step is not None and self.step == self.steps - 1

    @property
    def next_weight(self) -> float | None:
        """The next step's weight, or None when the next move is the full promotion."""
        if self.step is None or self.last:
            return None
        return self.strategy.steps[self.step + 1].weight

    def describe(self) -> str:
        where = f"step {self.step + 1} of {self.steps}" if self.step is not None else "off the strategy's steps"
        return f"{self.challenger} at {self.weight:g}% beside {self.champion} ({where})"

    def to_json(self) -> dict[str, object]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "weight": self.weight,
            "step": self.step + 1 if self.step is not None else None,
            "steps": self.steps,
            "weights": [s.weight for s in self.strategy.steps],
            "started": self.started,
            "step_since": self.step_since,
            "paused": {"by": self.pin.by, "at": self.pin.at, "reason": self.pin.reason} if self.pin else None,
            "pending": self.pending,
        }


def _went_live(states: list[tuple[str, ReleaseState]], promotion_id: str) -> datetime | None:
    """When the promotion's Succeeded outcome was recorded (newest first: the first match is it)."""
    for _, s in states:
        o = s.observed
        if o is not None and o.promotion_id == promotion_id and o.phase == "Succeeded":
            return o.at
    return None


def position(reg: Registry, strategy: Strategy, environment: str, model: str) -> Position | None:
    """The rollout of ``model`` in ``environment``, or None when no canary is live there."""
    state = reg.release(environment, model)
    live = state.live if state is not None else None
    if state is None or live is None or live.canary is None:
        return None
    canary = live.canary
    states: list[tuple[str, ReleaseState]] = [("", state)]  # the state as read (the work tree may be ahead of HEAD)
    if reg.git_root is not None:
        source = reg.source
        ref: str | None
        if isinstance(source, GitRefSource):
            ref, prefix = source.commit, source.prefix
        else:  # HEAD's commit id, not "HEAD": a file's log is kept per commit id (livehistory), a name never is
            rel = reg.root.relative_to(reg.git_root.resolve()).as_posix()
            head = cat_file(reg.git_root).object("HEAD^{commit}")
            ref, prefix = head[0] if head else None, "" if rel == "." else rel
        path = layout.release_path(environment, model)
        if ref is not None:  # else no commits yet: the state as read is all there is
            with contextlib.suppress(GitError):
                states += release_states(reg.git_root, ref, f"{prefix}/{path}" if prefix else path)
    step_since = _went_live(states, live.promotion_id) or live.since
    first = live.promotion_id
    for _, s in states:  # newest first: walk back while the same challenger was the canary
        if s.live is None or s.live.canary is None or s.live.canary.version != canary.version:
            break
        first = s.live.promotion_id
    started = _went_live(states, first) or step_since
    return Position(
        model=model,
        environment=environment,
        champion=live.version,
        challenger=canary.version,
        weight=canary.weight,
        step=strategy.index_of(canary.weight),
        strategy=strategy,
        started=min(started, step_since),
        step_since=step_since,
        pin=state.pin,
        pending=state.pending,
    )
