"""What every plan builder shares: who acts and when, the live history, and the lookups.

:mod:`mlrelease.release.planner` builds promotions, rollbacks and the rest;
:mod:`mlrelease.release.approving` builds approvals and reviews. Both read the registry
through these helpers, so an environment, a version or a read-only switch is looked up
and refused in the same words everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mlrelease.backends.base import Backend
from mlrelease.errors import MlreleaseError, NotFound, ReadOnly, StaleState, UsageError
from mlrelease.registry import layout
from mlrelease.registry.gitio import git_dir
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.signing import OwnKey, own_key
from mlrelease.registry.types import Canary, Config, Environment, Rejection, ReleaseState, Version
from mlrelease.release import livehistory
from mlrelease.release.plan import Block, CommitPreview, Expected, GateResult, Plan, Request

BackendResolver = Callable[[Config, str | None], Backend]


@dataclass(frozen=True)
class Context:
    """Who acts, when, with which backends, and whether writing is switched off."""

    actor: str
    now: datetime
    resolve: BackendResolver
    readonly: bool = False
    signing_key: Callable[[], OwnKey | str] | None = None  # the key the next commit is signed with (signed environments)

    def own_key(self, git_root: Path) -> OwnKey | str:
        return self.signing_key() if self.signing_key is not None else own_key(git_root)


@dataclass
class History:
    """Live-version history per release file at one commit, read at most once each."""

    git_root: Path
    ref: str
    prefix: str
    cache: dict[str, list[livehistory.LiveChange]] = field(default_factory=dict)

    @property
    def shallow(self) -> bool:
        """A shallow clone lacks the early history: "never live" cannot be told from "not fetched"."""
        return (git_dir(self.git_root) / "shallow").is_file()

    def honest(self, results: list[GateResult]) -> list[GateResult]:
        """History gates that failed in a shallow clone say why they may be wrong."""
        if not self.shallow or all(g.passed or not g.name.startswith(("order:", "history")) for g in results):
            return results
        note = "; this clone is shallow, so older history is missing here: run `git fetch --unshallow` (or use a full clone)"
        return [
            g if g.passed or not g.name.startswith(("order:", "history")) else dataclasses.replace(g, detail=g.detail + note)
            for g in results
        ]

    def rejections(self, reg: Registry, model: str) -> tuple[Rejection, ...]:
        """A model's rejections, with those removed by hand (they still hold: there is no un-reject)."""
        rel = layout.rejections_path(model)
        path = f"{self.prefix}/{rel}" if self.prefix else rel
        return livehistory.rejections_ever(self.git_root, self.ref, path, reg.rejections(model))

    def changes(self, env: str, model: str) -> list[livehistory.LiveChange]:
        rel = layout.release_path(env, model)
        if rel not in self.cache:
            path = f"{self.prefix}/{rel}" if self.prefix else rel
            self.cache[rel] = livehistory.live_changes(self.git_root, self.ref, path)
        return self.cache[rel]


# ---- shared lookups -------------------------------------------------------------------------


def environment(config: Config, name: str | None) -> Environment:
    reason = unsafe_reason(name or "")
    if reason:
        raise NotFound(f"environment name {name!r} {reason}")
    env = config.environment(name or "")
    if env is None:
        raise NotFound(f"no environment {name!r} in mlrelease.yaml (environments: {', '.join(config.environment_names) or 'none'})")
    return env


def model_and_version(reg: Registry, req: Request) -> tuple[str, Version]:
    if not req.model or not req.version:
        raise UsageError(f"{req.kind} needs MODEL@VERSION")
    return req.model, reg.version(req.model, req.version)


def expected(state: ReleaseState) -> Expected:
    live = state.live
    return Expected(
        promotion_id=state.desired.promotion_id if state.desired else None,
        phase=state.observed.phase if state.observed else None,
        live_version=live.version if live else None,
        live_canary=(live.canary.version, live.canary.weight) if live and live.canary else None,
        pinned=state.pin is not None,
    )


def settled(state: ReleaseState, version: str, canary: Canary | None) -> bool:
    """Live is ``version`` (with ``canary``) and the last action asked for exactly that: nothing to do.

    After a Failed promotion ``desired`` still names the failed version, so asking for what is
    live is not a no-op then: it puts ``desired`` back (a reconciler elsewhere reads it).
    """
    live, desired = state.live, state.desired
    if live is None or state.pending or (live.version, live.canary) != (version, canary):
        return False
    return desired is None or (desired.version, desired.canary) == (version, canary)


def readonly_block(ctx: Context, env: Environment | None) -> Block | None:
    if ctx.readonly:
        return Block("read-only mode (--readonly): actions are disabled", ReadOnly)
    if env is not None and env.read_only:
        return Block(f"environment {env.name} is read-only (read_only: true in mlrelease.yaml)", ReadOnly)
    return None


def impossible(ctx: Context, env: Environment, message: str) -> MlreleaseError:
    """An action that cannot be planned at all: where acting is not allowed anyway, say that first."""
    block = readonly_block(ctx, env)
    return block.error() if block else MlreleaseError(message)


def pending_block(state: ReleaseState) -> Block | None:
    if not state.pending or state.desired is None or state.observed is None:
        return None
    d = state.desired
    what = d.canary.version if d.canary else d.version
    return Block(
        f"{d.action} of {state.model} {what} to {state.environment} (promotion {state.observed.promotion_id}, by {d.actor}, "
        f"{d.at:%Y-%m-%d %H:%M}Z) is still Pending: wait for it to finish, or if it was interrupted, run `mlrelease reconcile`",
        StaleState,
    )


def first_block(*blocks: Block | None) -> Block | None:
    return next((b for b in blocks if b is not None), None)


def record_plan(
    req: Request,
    ctx: Context,
    base: str,
    preview: CommitPreview,
    version: str | None,
    noop: str | None,
    block: Block | None,
    notes: Sequence[str] = (),
) -> Plan:
    """The plan of a single-commit action (unpin, approve, reject): no backend is called."""
    return Plan(
        request=req,
        actor=ctx.actor,
        at=ctx.now,
        base=base,
        title=preview.subject,
        version=version,
        commits=(preview,),
        noop=noop,
        block=block,
        notes=tuple(notes),
    )
