"""Could each model's candidate go to its next environment now? The overview's gate status.

A dashboard row says "gates failing" or "approvals 1/2" for the waiting candidate. That
answer must be the planner's own (the same gates as ``promote --dry-run``), but asked
for hundreds of models at once: so one registry is read at the branch tip and
:func:`~mlrelease.release.planner.make_plan` runs per model, with a stand-in backend
that only describes (no backend is created or reached: gates never depend on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from mlrelease.backends.base import Action, Backend, Health, Outcome
from mlrelease.errors import MlreleaseError
from mlrelease.gitstore import gitwrite, transaction
from mlrelease.registry import layout
from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import ModelSummary
from mlrelease.registry.source import GitRefSource
from mlrelease.registry.types import Config
from mlrelease.release import livehistory
from mlrelease.release.plan import GateResult, Request
from mlrelease.release.planner import Context, make_plan


@dataclass(frozen=True)
class Readiness:
    model: str
    version: str
    environment: str
    failing: tuple[GateResult, ...]  # every failing gate, approvals included
    approvals: tuple[int, int] | None  # (have, required) when the environment requires approvals
    blocked: str | None = None  # why it could not run at all (pending, read-only...)

    @property
    def failing_other_than_approvals(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.failing if g.name != "approvals")


class _Describer:
    """Stands in for the configured backend while only gates are evaluated."""

    type_name: ClassVar[str] = "describe-only"

    def __init__(self, name: str | None) -> None:
        self.name = name or "record"

    def execute(self, action: Action) -> Outcome:
        raise MlreleaseError("readiness plans are never executed")

    def status(self, action: Action) -> Outcome | None:
        return None

    def health(self) -> Health:
        return Health(ok=True, message="not reached")

    def describe(self, action: Action) -> str:
        return f"backend {self.name}"


def _describer(config: Config, name: str | None) -> Backend:
    return _Describer(name)


def next_environment(summary: ModelSummary) -> str | None:
    """Where the candidate goes next: the environment after the furthest one running it."""
    version = summary.candidate
    if version is None or not summary.environments:
        return None
    placed = [i for i, e in enumerate(summary.environments) if version in (e.live, e.canary.version if e.canary else None)]
    index = max(placed) + 1 if placed else 0
    return summary.environments[index].environment if index < len(summary.environments) else None


def readiness(registry_root: Path, summaries: Iterable[ModelSummary], now: datetime) -> Iterator[Readiness]:
    """The promote plan's verdicts for each model with a candidate, at the branch tip."""
    target = transaction.target(registry_root)
    tip = gitwrite.rev(target.git_root, f"refs/heads/{target.branch}")
    if tip is None:
        return
    ctx = Context(actor="(overview)", now=now, resolve=_describer)
    with Registry(target.registry_root, tip) as reg:
        asked = [(s, env) for s in summaries if s.candidate is not None and (env := next_environment(s)) is not None]
        _read_rejection_logs(reg, [s.name for s, _ in asked])
        for summary, env in asked:
            assert summary.candidate is not None
            try:
                plan = make_plan(reg, Request("promote", summary.name, summary.candidate, env), ctx, action_id="readiness")
            except MlreleaseError as exc:
                yield Readiness(summary.name, summary.candidate, env, (), None, blocked=str(exc))
                continue
            gate = next((g for g in plan.gates if g.name == "approvals"), None)
            approvals = None
            if gate is not None:
                have, need = gate.numbers.get("have"), gate.numbers.get("required")
                if isinstance(have, int) and isinstance(need, int):
                    approvals = (have, need)
            yield Readiness(summary.name, summary.candidate, env, plan.failing, approvals, plan.block.message if plan.block else None)


def _read_rejection_logs(reg: Registry, models: list[str]) -> None:
    """Every plan reads its model's rejections over the whole history (a rejection removed by
    hand still holds): one ``git log`` for all the models instead of one per model (cold, at
    124,566 commits: about 7 s instead of about 2 s a model)."""
    source = reg.source
    if reg.git_root is None or not isinstance(source, GitRefSource):
        return
    prefix = f"{source.prefix}/" if source.prefix else ""
    paths = [prefix + layout.rejections_path(m) for m in models]
    livehistory.read_logs(reg.git_root, source.commit, prefix + layout.rejections_path("*"), paths)
