"""Findings of ``mlrelease verify`` accepted by a second person, on the record: the rules and their check.

Git history is never rewritten, so a finding (a hand edit, say) cannot go away. What a
bank needs instead is that someone other than its author looks into it and accepts it
on the record: ``mlrelease review --finding COMMIT --reason TEXT``
(:mod:`mlrelease.audit.accepting`) adds an entry to ``audit/accepted.yaml`` with an
mlrelease commit. Verify then lists those findings as accepted instead of failing.

The rules live here once, for the planner and for verify alike (:func:`refusal`): the
accepter is an identity other than the finding commit's author and signer (four eyes,
counted as :mod:`mlrelease.release.foureyes` counts approvals), allowed by
``gates.approvers`` in the environment of every file the findings are about (a file of
no environment, such as a model's rejections, asks only for four eyes), and where any
environment is ``signed: true`` the acceptance commit is signed, as rejections are.

An acceptance is itself a change verify checks (:func:`check`): one added by hand, with
trailers that disagree with the entry, by the finding's author, or of something that is
no open finding, is a finding itself and accepts nothing; a removed entry is a
``deleted`` finding. Removing an entry does not reopen what it accepted: the acceptance
commit stays in the history, and the removal is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from mlrelease.registry import layout
from mlrelease.registry.identities import Identities
from mlrelease.registry.types import Acceptance, Acceptances, AcceptedFinding, Config
from mlrelease.registry.yamlsafe import dump
from mlrelease.release import foureyes

from .report import Finding

Problem = tuple[str, str]  # (kind, message), as audit.checks


def refusal(
    who: str, commit: str, made_by: tuple[str, str | None], files: Iterable[str | None], config: Config | None, ids: Identities
) -> str | None:
    """Why ``who`` may not accept findings about ``files`` of ``commit``, made by (author, signer), or None when they may."""
    author, signer = made_by
    if who in {ids.who(author), *([ids.who(signer)] if signer else [])}:
        return f"{who} made commit {commit[:10]} ({author}): accepting its findings is four eyes too, so someone else must"
    for env_name in dict.fromkeys(e for e in (environment_of(f) for f in files) if e is not None):
        env = config.environment(env_name) if config is not None else None
        if env is not None and not foureyes.policy(env, ids).allowed(who):
            return f"{who} may not approve in {env.name} (approvers: {', '.join(env.gates.approvers)}), so may not accept its findings"
    return None


def environment_of(path: str | None) -> str | None:
    loc = layout.locate(path) if path else None
    return loc.environment if isinstance(loc, layout.Located) else None


def entry(commit: str, found: Sequence[Finding], by: str, at: datetime, reason: str) -> Acceptance:
    """The entry that accepts ``found`` (open findings of ``commit``), each kind and file once, in verify's order."""
    named = tuple(dict.fromkeys(AcceptedFinding(f.kind, f.path) for f in found))
    return Acceptance(commit=commit, findings=named, by=by, at=at, reason=reason)


def dump_acceptances(entries: Iterable[Acceptance]) -> bytes:
    from mlrelease.registry.parse import ACCEPTED
    from mlrelease.registry.shape import write

    return dump(write(Acceptances(tuple(entries)), ACCEPTED)).encode("utf-8")


def check(
    action: str | None,
    t: Mapping[str, str],
    before: Acceptances | None,
    after: Acceptances | None,
    who: str | None,
    config: Config | None,
    ids: Identities,
    made_by: Callable[[str], tuple[str, str | None] | None],
) -> tuple[list[Problem], Acceptance | None]:
    """A commit changed ``audit/accepted.yaml`` from ``before`` to ``after``: its problems, and the entry it adds when valid.

    ``who``: the identity that made the commit (its signer where signing is required;
    None when it is not signed as required: it then accepts nothing). ``made_by``: the
    author and signer of a commit id (None: no such commit). Whether the entry names
    open findings is settled on the whole report (:meth:`~mlrelease.audit.report.Report.settle`).
    """
    old, new = (before.accepted if before else ()), (after.accepted if after else ())
    out: list[Problem] = [
        ("deleted", f"the acceptance of the findings of {e.commit[:10]} by {e.by} was removed") for e in old if e not in new
    ]
    added = [e for e in new if e not in old]
    if action is None:
        return out + [("hand-edit", f"acceptance of the findings of {e.commit[:10]} added by hand") for e in added], None
    if action != "review" or "finding" not in t:
        return [*out, ("forged", f"the trailers say {action!r}, which never changes accepted findings")], None
    if len(added) != 1 or new[: len(old)] != old or len(new) != len(old) + 1:
        return [*out, ("forged", f"an acceptance adds exactly one entry at the end; this commit added {len(added)}")], None
    e = added[0]
    if e.commit != t.get("finding") or e.by != t.get("actor"):
        out.append(("forged", f"the trailers say {t.get('actor')} accepted {t.get('finding')}, the file says {e.by} accepted {e.commit}"))
    made = made_by(e.commit)
    if made is None:
        out.append(("forged", f"it accepts the findings of {e.commit[:12]}, which is no commit of this repository"))
    elif who is not None:
        why = refusal(who, e.commit, made, (a.file for a in e.findings), config, ids)
        if why:
            out.append(("acceptance", why))
    return out, (e if not out and who is not None else None)
