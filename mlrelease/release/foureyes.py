"""Four eyes: who counts as an approver, and when ``--force`` is not enough.

The rules, once, for the planner (at plan time and at the commit-time re-check) and for
``mlrelease verify`` (recomputed at each commit of the history):

* approvals count by **identity** (:mod:`mlrelease.registry.identities`: a person, or a
  normalised mailbox; in a ``signed: true`` environment the signer of the approval's
  commit), never by how an e-mail is spelled;
* the promoter's own approval never counts, nor one from outside ``gates.approvers``;
* a failing gate that is not overridable (``Gates.may_override``) cannot be forced
  alone: it needs a **break-glass** approval of that version in that environment, by an
  allowed identity other than the promoter, not used before. Using it is recorded in the
  release state (:class:`~mlrelease.registry.types.BreakGlass`) and flagged everywhere
  until someone other than those two reviews it.

Nothing here reads git: the caller says who signed what (``signer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlrelease.registry.identities import Identities
from mlrelease.registry.types import Approval, Environment, ReleaseState
from mlrelease.release.plan import GateResult

# Who an approval is from: its identity, or None when it cannot count (e.g. not signed
# by an allowed key in a signed environment), with the reason.
Signer = Callable[[Approval], tuple[str | None, str]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Policy:
    """The four-eyes facts of one environment at one commit."""

    identities: Identities
    approvers: frozenset[str] | None  # None: anyone may approve
    signer: Signer  # the identity behind an approval

    def allowed(self, identity: str) -> bool:
        return self.approvers is None or identity in self.approvers

    def describe_approvers(self, env: Environment) -> str:
        return ", ".join(env.gates.approvers) or "anyone"


def policy(env: Environment, identities: Identities, signer: Signer | None = None) -> Policy:
    approvers = identities.resolve(env.gates.approvers) if env.gates.approvers else None
    return Policy(identities, approvers, signer or (lambda a: (identities.who(a.by), "")))


@dataclass(frozen=True)
class Counted:
    identities: tuple[str, ...]  # distinct identities whose approval counts
    set_aside: tuple[str, ...]  # why each other approval does not count, in words


def count(state: ReleaseState, version: str, promoter: str, p: Policy) -> Counted:
    """The approvals of ``version`` in ``state`` that count for a promotion by ``promoter``."""
    counted: list[str] = []
    aside: list[str] = []
    for a in state.approvals:
        if a.version != version or a.break_glass:
            continue
        who, why = p.signer(a)
        if who is None:
            aside.append(f"{a.by}: {why}")
        elif who == promoter:
            aside.append(f"{who}: the promoter's own approval does not count")
        elif not p.allowed(who):
            aside.append(f"{who}: not an allowed approver here")
        elif who not in counted:
            counted.append(who)
    return Counted(tuple(counted), tuple(dict.fromkeys(aside)))


def approvals_gate(required: int, c: Counted) -> GateResult:
    numbers = {"required": required, "have": len(c.identities), "by": list(c.identities), "not_counted": list(c.set_aside)}
    who = f" ({', '.join(c.identities)})" if c.identities else ""
    text = f"{len(c.identities)} of {required} approvals from distinct identities{who}"
    if c.set_aside:
        text += "; not counted: " + "; ".join(c.set_aside)
    return GateResult("approvals", len(c.identities) >= required, text, numbers)


def approvals_for(env: Environment, state: ReleaseState, version: str, promoter: str, p: Policy) -> GateResult | None:
    """The ``approvals`` gate of a promotion of ``version`` by ``promoter`` (None: the environment asks for none).

    In a protected environment the approvals are the reviews of the pull request the
    promotion opens, so at plan time the gate is deferred: the CI job that carries out the
    merged request counts them under these same rules before calling the backend
    (:mod:`mlrelease.release.proposal`), and ``verify`` checks what it recorded.
    """
    if not env.gates.approvals:
        return None
    if env.protected is not None:
        required = env.gates.approvals
        noun = env.protected.noun
        text = f"deferred to the {noun}: {required} approval{'s' if required > 1 else ''} from distinct identities other than the promoter, counted when it is merged"
        return GateResult("approvals", True, text, {"required": required, "have": None, "by": [], "not_counted": [], "deferred": noun})
    return approvals_gate(env.gates.approvals, count(state, version, promoter, p))


def review_gate(env: Environment, identities: Identities, promoter: str, version: str, accounts: Sequence[str]) -> GateResult:
    """The ``approvals`` gate of a protected environment, from the forge accounts that approved its merged request.

    The same rules as approvals made with ``mlrelease approve``: distinct identities, never
    the promoter's own, only from ``gates.approvers``. An account counts only as the person
    of ``controls/identities.yaml`` who lists it (``github:`` / ``gitlab:``): otherwise
    nobody could tell that it is not the promoter's own.
    """
    forge = env.protected.provider if env.protected else "github"

    def signer(a: Approval) -> tuple[str | None, str]:
        person = identities.person_of_account(forge, a.by.split(":", 1)[-1])
        return (person, "") if person else (None, f"no person of controls/identities.yaml lists {forge} account {a.by.split(':', 1)[-1]!r}")

    p = policy(env, identities, signer)
    approvals = tuple(Approval(version, f"{forge}:{account}", _EPOCH) for account in accounts)
    return approvals_gate(env.gates.approvals, count(ReleaseState("", env.name, approvals=approvals), version, promoter, p))


def break_glass_approval(state: ReleaseState, version: str, promoter: str, p: Policy) -> Approval | None:
    """An unused break-glass approval of ``version`` here, by an allowed identity other than the promoter."""
    for a in reversed(state.approvals):
        if a.version != version or not a.break_glass or a.used_by is not None:
            continue
        who, _why = p.signer(a)
        if who is not None and who != promoter and p.allowed(who):
            return a
    return None


@dataclass(frozen=True)
class Override:
    """What ``--force`` may do with the failing gates of a plan."""

    forced: tuple[str, ...]  # every failing gate, when forcing is allowed
    locked: tuple[str, ...]  # failing gates --force alone may not override
    break_glass: Approval | None  # the approval that unlocks them
    refusal: str | None  # why forcing is refused


def override(
    gates: Sequence[GateResult], force: bool, env: Environment, state: ReleaseState, version: str, promoter: str, p: Policy, hint: str
) -> Override:
    """``hint``: the command that asks for break-glass (said in the refusal)."""
    failing = tuple(g.name for g in gates if not g.passed)
    locked = tuple(name for name in failing if not env.gates.may_override(name))
    if not force or not failing:
        return Override((), locked, None, None)
    if not locked:
        return Override(failing, (), None, None)
    bg = break_glass_approval(state, version, promoter, p)
    if bg is None:
        return Override(
            (),
            locked,
            None,
            f"--force cannot override {', '.join(locked)} in {env.name} (overridable: false). An emergency needs break-glass: "
            f"another allowed approver ({p.describe_approvers(env)}), not the promoter, runs `{hint}`; then promote again with --force",
        )
    return Override(failing, locked, bg, None)
