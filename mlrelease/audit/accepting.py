"""``mlrelease review --finding COMMIT --reason TEXT``: accept a finding of verify on the record.

The plan reads verify's report at the tip being written on (kept per tip, so a verify
done before costs a file read): the commit must have open findings there, and the
person accepting them must be allowed to (:func:`mlrelease.audit.acceptances.refusal`:
four eyes against the commit's author and signer, ``gates.approvers`` of the findings'
environments, signed where any environment is). The service runs it like every
single-commit action (read-only, the re-check at the tip, the transaction); the commit
adds one entry to ``audit/accepted.yaml`` with ``Mlrelease-Action: review`` and
``Mlrelease-Finding: COMMIT``. Accepting again is a no-op that says who did it first.
"""

from __future__ import annotations

import dataclasses

from mlrelease.errors import GateRefused, MlreleaseError, NotFound
from mlrelease.gitstore.transaction import Change
from mlrelease.registry import layout
from mlrelease.registry.gitio import git
from mlrelease.registry.loader import Registry
from mlrelease.registry.source import GitRefSource
from mlrelease.release import commits, confirm, controls
from mlrelease.release.plan import Block, Plan, Request
from mlrelease.release.planning import Context, first_block, readonly_block, record_plan

from . import acceptances, marks
from .report import Accepted, Finding


def _commit(reg: Registry, given: str) -> str:
    assert reg.git_root is not None
    if not given.strip() or given.startswith("-"):
        raise NotFound(f"--finding {given!r}: no such commit")
    proc = git(reg.git_root, "rev-parse", "--verify", "--quiet", f"{given}^{{commit}}", check=False)
    if proc.returncode != 0:
        raise NotFound(f"--finding {given!r}: no such commit")
    return proc.stdout.decode().strip()


def _open(reg: Registry, commit: str) -> tuple[list[Finding], list[Accepted]]:
    """The open findings of ``commit`` in verify's report at the registry's commit, and those already accepted."""
    report = marks.report(reg)
    return [f for f in report.findings if f.commit == commit], [a for a in report.accepted if a.finding.commit == commit]


class Accepting:
    """The :class:`~mlrelease.release.plan.OwnPlanner` of ``review --finding``."""

    def plan(self, reg: Registry, request: Request, ctx: Context, *, action_id: str | None = None) -> Plan:
        source = reg.source
        if not isinstance(source, GitRefSource) or reg.git_root is None:
            raise MlreleaseError("actions are planned against a commit of the registry, not the work tree")
        commit = _commit(reg, request.finding or "")
        found, done = _open(reg, commit)
        ctl = controls.for_plan(reg, None, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root))
        kinds = tuple(dict.fromkeys(f.kind for f in found or [a.finding for a in done]))
        preview = commits.accept_finding(commit, kinds, ctx.actor, request.reason, layout.ACCEPTED)
        noop = refusal = None
        if not found and done:
            first = done[0]
            noop = f"the findings of {commit[:10]} are already accepted, by {first.by} on {first.at:%Y-%m-%d} ({first.reason})"
        elif not found:
            refusal = Block(f"commit {commit[:10]} has no open finding of `mlrelease verify`: there is nothing to accept", GateRefused)
        else:
            made = (found[0].author, found[0].signer)
            why = acceptances.refusal(ctl.actor, commit, made, (f.path for f in found), reg.config, ctl.identities)
            refusal = Block(why, GateRefused) if why else None
        notes = [f"accepts {f.kind} on {f.path or 'the commit'}: {f.message}" for f in found]
        if found:
            notes.append("accepting undoes nothing: the change stays in the history, and verify lists it as accepted, by whom and why")
        block = first_block(readonly_block(ctx, None), ctl.block, refusal)
        request = dataclasses.replace(request, finding=commit)
        plan = record_plan(request, ctx, source.commit, preview, None, noop, block, [*ctl.notes, *notes])
        plan = dataclasses.replace(plan, planner=self)
        return dataclasses.replace(plan, confirmation=confirm.confirmation(reg.config, plan))

    def change(self, reg: Registry, plan: Plan) -> Change:
        commit = plan.request.finding or ""
        found, _ = _open(reg, commit)
        new = acceptances.entry(commit, found, plan.actor, plan.at, plan.request.reason or "")
        return Change({layout.ACCEPTED: acceptances.dump_acceptances((*reg.acceptances(), new))}, plan.commits[0].message())


PLANNER = Accepting()
