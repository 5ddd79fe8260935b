"""Protected environments: a promotion becomes a pull request, and its merge is carried out by ``reconcile``.

Where ``environments[].protected`` is set (:mod:`mlrelease.registry.protected`), the
registry branch takes no direct pushes for that environment, so a promote or rollback
there does not write its intent on the branch: it

1. builds the intent commit at the remote tip, re-checked as every intent is, and pushes
   it to a branch of its own (``mlrelease/<env>/<model>/<id>``; :func:`transaction.propose`);
2. opens a pull request (GitHub) or merge request (GitLab) from that branch, its body the
   plan in markdown with every untrusted text inside a code fence that it cannot close;
3. prints and records its URL (``.git/mlrelease/proposals/<id>.json``, beside the repository).

If the request cannot be opened (401/403, 5xx with nothing found afterwards, a cut
connection) the branch is deleted again, so the remote is as it was; if even that fails,
the error names the branch and the record keeps it. Nothing is deployed and the branch of
record is unchanged until a person merges.

Once merged, the CI job on the protected branch runs ``mlrelease reconcile``: the merged
intent is Pending there, and for a protected environment reconcile first finds the merged
request of the intent's branch and counts its approvals under the four-eyes rules
(:func:`foureyes.review_gate`), then calls the backend (``execute``, idempotent per id:
the merged intent was never carried out before) and records the outcome with the
request's URL and the approving accounts as trailers. An intent on the branch without a
merged request behind it, or with too few approvals, is recorded as Failed without any
backend call. The outcome is pushed by the CI job's identity, which the branch protection
lets push (docs/protected.md): the outcome is a fact the backend reported, not a decision,
and a second review of it would leave a deployment unrecorded while it waits.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlrelease.backends.base import Outcome
from mlrelease.clients.forge import Forge, ForgeError
from mlrelease.errors import ExitCode, MlreleaseError
from mlrelease.gitstore import gitwrite, transaction
from mlrelease.gitstore.transaction import Change
from mlrelease.registry.gitio import git_dir
from mlrelease.registry.loader import Registry
from mlrelease.registry.protected import Protected
from mlrelease.release import backendcall, foureyes
from mlrelease.release.plan import Plan, Progress, Result
from mlrelease.release.twophase import Slot
from mlrelease.secrets import write_private
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from pathlib import Path

    from mlrelease.release.service import ReleaseService

Trailers = Mapping[str, str] | None  # more trailers for an outcome commit (the request carried out, who approved it)


# ---- opening the request ------------------------------------------------------------------------


def record_path(git_root: Path, action_id: str) -> Path:
    return git_dir(git_root) / "mlrelease" / "proposals" / f"{action_id}.json"


def _remember(service: ReleaseService, action_id: str, facts: dict[str, object]) -> None:
    write_private(record_path(service.target.git_root, action_id), json.dumps(facts, indent=2, sort_keys=True) + "\n")


def propose(service: ReleaseService, shown: Plan, slot: Slot, p: Protected, say: Callable[[Progress], None]) -> Result:
    """Steps 1-3 of the module docstring; the Result says ``proposed`` (exit 0) with the request's URL."""
    t = service.target
    r = shown.request
    if t.remote is None:
        raise MlreleaseError(
            f"{r.environment} is protected: a {r.kind} there is pushed as a branch and opened as a {p.noun}, "
            "which needs the remote (mlrelease.yaml's remote:, without --no-push)"
        )
    action_id = shown.action_id or ""
    branch = p.branch(r.environment or "", r.model or "", action_id)
    forge = Forge(p)  # a missing or unusable token fails here, before anything is pushed
    checked: list[Plan] = []

    def intent(reg: Registry) -> Change | None:
        now = service.recheck(reg, shown)
        if now is None:
            return None
        checked.append(now)
        return slot.intent(reg, now)

    say(Progress("intent", f"pushing the intent to branch {branch} of {t.remote}"))
    committed = transaction.propose(t, intent, branch, author=service.actor, date=None)
    if committed.commit is None:
        return Result(shown, "noop", "nothing to do: someone already did it")
    plan = checked[-1] if checked else shown
    facts: dict[str, object] = {
        "action_id": action_id,
        "environment": r.environment,
        "model": r.model,
        "remote": t.remote,
        "branch": branch,
        "commit": committed.commit,
        "provider": p.provider,
        "repo": p.repo,
        "state": "branch pushed, request not opened yet",
    }
    _remember(service, action_id, facts)
    say(Progress("proposal", f"opening a {p.noun} on {p.provider} ({p.repo})"))
    try:
        with forge:
            proposal, _created = forge.open(branch, t.branch, visible(plan.title, single_line=True), markdown(plan, p, branch, t.branch))
    except ForgeError as exc:
        cleanup, gone = _withdraw(t, branch, committed.commit)
        facts |= {"state": "branch deleted again" if gone else "branch left on the remote", "error": str(exc)}
        _remember(service, action_id, facts)
        raise MlreleaseError(f"could not open the {p.noun} for {plan.title}: {exc}; {cleanup}", exc.exit_code) from None
    facts |= {"state": "open", "url": proposal.url, "number": proposal.number}
    _remember(service, action_id, facts)
    return Result(
        plan,
        "proposed",
        f"opened {p.noun} {proposal.url} for {plan.title} (branch {branch}); nothing is deployed until it is merged, "
        f"then the CI job on {t.branch} carries it out (`mlrelease reconcile --env {r.environment}`)",
        ExitCode.OK,
        commits=(committed.commit,),
        phase="Pending",
        pushed=True,
        proposal=proposal,
    )


def _withdraw(t: transaction.Target, branch: str, commit: str) -> tuple[str, bool]:
    """Delete the pushed branch again (only while it is still our commit); the words for the error, and whether it is gone."""
    assert t.remote is not None
    try:
        result = gitwrite.delete_branch(t.git_root, t.remote, branch, commit)
        detail = result.detail
    except MlreleaseError as exc:
        result, detail = None, str(exc)
    if result is not None and result.ok:
        return f"the branch {branch} was deleted from {t.remote} again: nothing changed on the remote", True
    return (
        f"the branch {branch} is still on {t.remote} (deleting it failed: {detail}): "
        f"delete it with `git push {t.remote} --delete {branch}` (recorded in {record_path(t.git_root, '<id>').parent}/)",
        False,
    )


def _fence(text: str) -> str:
    """``text`` in a fenced code block whose fence is longer than any run of backticks inside: it cannot be closed from within."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def markdown(plan: Plan, p: Protected, branch: str, base: str) -> str:
    """The request's body: the plan, every value that came from people inside one code fence (shown literally)."""
    lines = [plan.title, f"by {plan.actor}, promotion {plan.action_id}"]
    if plan.request.reason:
        lines.append(f"reason: {plan.request.reason}")
    lines += ["", "gates:"]
    lines += [f"  {'pass' if g.passed else 'FAIL'}  {g.name}: {g.detail}" for g in plan.gates] or ["  (none)"]
    if plan.backend_call:
        lines += ["", f"backend {plan.backend}: {plan.backend_call}"]
    lines += ["", *(f"note: {n}" for n in plan.notes)] if plan.notes else []
    if plan.commits:
        lines += ["", "intent commit:", *("  " + line for line in plan.commits[0].message().splitlines())]
    text = "\n".join(visible(line, single_line=True) for line in lines)
    required = 0
    for g in plan.gates:
        if g.name == "approvals" and isinstance(g.numbers.get("required"), int):
            required = int(g.numbers["required"])  # type: ignore[call-overload]
    approvals = (
        f"It needs {required} approving review{'s' if required > 1 else ''} from distinct people other than the promoter "
        "(listed in controls/identities.yaml with their account). "
        if required
        else ""
    )
    return (
        f"**mlrelease** proposes this change to the release record ({p.noun} from `{branch}` into `{base}`).\n\n"
        f"{_fence(text)}\n\n"
        f"{approvals}Merge it with a merge commit or a rebase (a squash rewrites the commit and its trailers). "
        f"Nothing is deployed until it is merged: then the CI job on `{base}` runs `mlrelease reconcile`, which "
        "counts the approvals, calls the backend and records the outcome.\n"
    )


# ---- carrying out a merged request (reconcile) ------------------------------------------------------


@dataclass(frozen=True)
class Merged:
    """What reconcile found for a protected environment's Pending intent."""

    ok: bool  # a merged request with enough approvals: call the backend
    message: str  # why not, or what was found
    trailers: dict[str, str]  # the request's URL and the approving accounts, for the outcome commit


def merged_check(reg: Registry, sub: Plan, p: Protected) -> Merged:
    """Find the merged request of ``sub``'s branch and count its approvals; ForgeError when the forge cannot be asked."""
    r = sub.request
    env = reg.config.environment(r.environment or "")
    assert env is not None
    branch = p.branch(env.name, r.model or "", sub.action_id or "")
    with Forge(p) as forge:
        found = forge.find(branch)
        if found is None or not found.merged:
            what = f"{p.noun} {found.url} is {found.state}" if found else f"no {p.noun} from branch {branch}"
            return Merged(False, f"not carried out: {what}; in a protected environment only a merged {p.noun} is carried out", {})
        trailers = {"proposal": found.url}
        if not env.gates.approvals or r.kind != "promote":
            return Merged(True, f"carried out after the merge of {found.url}", trailers)
        accounts = [a.login for a in forge.approvers(found)]
    trailers["approved_by"] = ", ".join(f"{p.provider}:{a}" for a in accounts) or "nobody"
    promoter = reg.identities().who(sub.actor)
    gate = foureyes.review_gate(env, reg.identities(), promoter, sub.version or "", accounts)
    if not gate.passed:
        return Merged(False, f"not carried out: the merged {p.noun} {found.url} has {gate.detail}", trailers)
    return Merged(True, f"carried out after the merge of {found.url} ({gate.detail})", trailers)


def accounts_of(trailers: Mapping[str, str]) -> list[str]:
    """The accounts of an ``Mlrelease-Approved-By`` trailer, without their forge prefix."""
    text = trailers.get("approved_by", "")
    return [a.strip().split(":", 1)[-1] for a in text.split(",") if a.strip() and a.strip() != "nobody"]


def carry_out(service: ReleaseService, sub: Plan, merged: Merged, slot: Slot) -> Result:
    """The backend call for a merged intent (or the Failed record when ``merged`` refuses), then the outcome commit."""
    backend, action = sub.executor, sub.action
    assert backend is not None and action is not None
    action_id = sub.action_id or ""
    if not merged.ok:
        outcome = Outcome(ok=False, message=merged.message)
        code = ExitCode.GATE_REFUSED
    else:
        answer, error = backendcall.in_flight(service.target.registry_root, backend, action_id, lambda: backend.execute(action))
        if answer is None:
            return Result(
                sub,
                "pending",
                f"backend {backend.name}: {error}; {action_id} stays Pending (not live); run reconcile again",
                ExitCode.BACKEND_FAILED,
                phase="Pending",
            )
        outcome = dataclasses.replace(answer, message=f"{merged.message}: {answer.message}" if answer.message else merged.message)
        code = ExitCode.OK if outcome.ok else ExitCode.BACKEND_FAILED
    rec = service.record_outcome(slot, sub, outcome, recorder=str(service.actor), extra=merged.trailers)
    phase = "Succeeded" if outcome.ok else "Failed"
    status = "done" if outcome.ok else "failed"
    return Result(sub, status, f"{sub.title}: {phase} ({merged.message})", code, rec.commits, phase, outcome.reference, rec.pushed)
