"""What ``mlrelease verify`` reports: findings (a change that is not a verified action, or a
notice about one) and the report of one walk of the history, in the JSON ``verify --json``
prints and :mod:`mlrelease.audit.marks` keeps per tip (so a report can be read back and
resumed: :meth:`Report.then`).

Findings a second person accepted on the record (``review --finding``,
:mod:`mlrelease.audit.acceptances`) are settled here, on the whole report: the walk
records each acceptance commit that is valid in itself as a :class:`Claim`, and
:meth:`Report.settle` moves the open findings each claim names, in the claims' order, to
:attr:`Report.accepted` (a claim that names no open finding accepts nothing and is a
finding itself). Settling depends only on the findings open before each claim, so a
report resumed from a kept one settles exactly as a whole walk does.

Split from :mod:`mlrelease.audit.verify` (the walk itself), which re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlrelease.registry import layout
from mlrelease.registry.fields import format_timestamp, parse_timestamp
from mlrelease.registry.types import Acceptance, AcceptedFinding

# What each kind of finding means (docs/controls.md lists them with what to do).
KINDS = {
    "hand-edit": "changed without mlrelease: no Mlrelease-Action trailer",
    "forged": "the trailers claim an action that is not what the commit changed, or someone else's name",
    "sequence": "an action out of order: an outcome without its intent, an intent over a Pending one",
    "deleted": "a record mlrelease keeps forever was removed: a rejection, an approval, a break-glass record",
    "unsigned": "not signed by an allowed key where the environment requires signing",
    "gate": "a gate that failed at that commit was not forced",
    "break-glass": "a gate that is not overridable was forced without a valid break-glass approval",
    "approval": "an approval by someone who may not approve there",
    "merge": "a merge brought a file that is in none of its parents",
    "acceptance": "an acceptance of findings that cannot count: by the commit's own author, by someone who may not approve there, or of no open finding",
}


@dataclass(frozen=True)
class Finding:
    commit: str
    author: str
    at: datetime
    kind: str  # a key of KINDS (notices: policy, import, open-break-glass)
    message: str
    path: str | None = None
    signer: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.commit[:10]} {self.author}: {where}{self.kind}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "commit": self.commit,
            "author": self.author,
            "at": format_timestamp(self.at),
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
            "signer": self.signer,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        """The finding :meth:`to_json` wrote (KeyError, TypeError or ValueError when it is not one)."""
        at = parse_timestamp(str(d["at"]))
        if at is None:
            raise ValueError(f"not a time: {d['at']!r}")
        path, signer = d.get("path"), d.get("signer")
        return cls(str(d["commit"]), str(d["author"]), at, str(d["kind"]), str(d["message"]), path and str(path), signer and str(signer))


def _time(value: object) -> datetime:
    at = parse_timestamp(str(value))
    if at is None:
        raise ValueError(f"not a time: {value!r}")
    return at


@dataclass(frozen=True)
class Accepted:
    """A finding a second person accepted on the record (``review --finding``), by whom and why."""

    finding: Finding
    by: str
    at: datetime
    reason: str
    commit: str  # the acceptance's own commit (verified like every other change)

    def __str__(self) -> str:
        return f"{self.finding} (accepted by {self.by} on {self.at:%Y-%m-%d} in {self.commit[:10]}: {self.reason})"

    def to_json(self) -> dict[str, object]:
        return self.finding.to_json() | {
            "accepted": {"by": self.by, "at": format_timestamp(self.at), "reason": self.reason, "commit": self.commit}
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Accepted:
        a = d["accepted"]
        return cls(Finding.from_json(d), str(a["by"]), _time(a["at"]), str(a["reason"]), str(a["commit"]))


@dataclass(frozen=True)
class Claim:
    """An acceptance commit that is valid in itself (its trailers, its author, its signature, who may accept).

    Whether it names open findings is settled on the whole report (:meth:`Report.settle`).
    """

    commit: str  # the acceptance commit
    author: str
    at: datetime  # the commit's time
    entry: Acceptance  # what it added to audit/accepted.yaml

    def accepts(self, open_: list[Finding]) -> list[Finding]:
        """The open findings the entry names: of its commit, with a kind and file it names."""
        named = {(a.kind, a.file) for a in self.entry.findings}
        return [f for f in open_ if f.commit == self.entry.commit and (f.kind, f.path) in named]

    def void(self, found: list[Finding]) -> Finding | None:
        """A finding about this claim when it names something that is no open finding (then it accepts nothing)."""
        missing = [a for a in self.entry.findings if not any((f.kind, f.path) == (a.kind, a.file) for f in found)]
        if not missing and found:
            return None
        what = ", ".join(f"{a.kind} on {a.file or 'the commit'}" for a in missing or self.entry.findings)
        message = f"accepts findings of {self.entry.commit[:10]} ({what}) that verify does not report as open: it accepts nothing"
        return Finding(self.commit, self.author, self.at, "acceptance", message, layout.ACCEPTED)

    def to_json(self) -> dict[str, object]:
        e = self.entry
        return {
            "commit": self.commit,
            "author": self.author,
            "at": format_timestamp(self.at),
            "finding": e.commit,
            "findings": [{"kind": a.kind, "file": a.file} for a in e.findings],
            "by": e.by,
            "accepted_at": format_timestamp(e.at),
            "reason": e.reason,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Claim:
        named = tuple(AcceptedFinding(str(a["kind"]), a["file"] and str(a["file"])) for a in d["findings"])
        entry = Acceptance(str(d["finding"]), named, str(d["by"]), _time(d["accepted_at"]), str(d["reason"]))
        return cls(str(d["commit"]), str(d["author"]), _time(d["at"]), entry)


@dataclass
class Report:
    tip: str | None
    since: str | None
    commits: int = 0  # commits read
    checked: int = 0  # changes of audited files checked
    findings: list[Finding] = field(default_factory=list)  # open: not accepted
    notices: list[Finding] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)  # findings accepted on the record, in the acceptances' order
    claims: list[Claim] = field(default_factory=list)  # every acceptance commit valid in itself, oldest first
    void: list[Finding] = field(default_factory=list)  # claims that accept nothing (findings of kind "acceptance")
    settled: int = 0  # how many of the claims are applied (a walk's report: none yet)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.void

    def settle(self) -> Report:
        """Apply the claims not applied yet, in order: the findings each names move from the open ones to the accepted."""
        for claim in self.claims[self.settled :]:
            found = claim.accepts(self.findings)
            void = claim.void(found)
            if void is not None:
                self.void.append(void)
                continue
            e = claim.entry
            taken = set(found)
            self.findings = [f for f in self.findings if f not in taken]
            self.accepted += [Accepted(f, e.by, e.at, e.reason, claim.commit) for f in found]
        self.settled = len(self.claims)
        return self

    def by_commit(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.commit, []).append(f)
        return out

    def to_json(self) -> dict[str, object]:
        """The settled report (:meth:`settle` first), as ``verify --json`` prints it and the cache keeps it."""
        self.settle()
        return {
            "ok": self.ok,
            "tip": self.tip,
            "since": self.since,
            "counts": {
                "commits": self.commits,
                "changes_checked": self.checked,
                "findings": len(self.findings) + len(self.void),
                "accepted": len(self.accepted),
            },
            "findings": [f.to_json() for f in (*self.findings, *self.void)],  # open ones, then acceptances that accept nothing
            "accepted": [a.to_json() for a in self.accepted],
            "acceptances": [c.to_json() for c in self.claims],
            "notices": [n.to_json() for n in self.notices],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Report:
        """A settled report as :meth:`to_json` wrote it (KeyError, TypeError or ValueError when it is not one)."""
        counts = d["counts"]
        claims = [Claim.from_json(c) for c in d["acceptances"]]
        claimed = {c.commit for c in claims}
        found = [Finding.from_json(f) for f in d["findings"]]
        void = [f for f in found if f.kind == "acceptance" and f.commit in claimed]  # Claim.void's, never the walk's
        return cls(
            d["tip"],
            d["since"],
            int(counts["commits"]),
            int(counts["changes_checked"]),
            [f for f in found if f not in void],
            [Finding.from_json(n) for n in d["notices"]],
            [Accepted.from_json(a) for a in d["accepted"]],
            claims,
            void,
            len(claims),
        )

    def then(self, later: Report) -> Report:
        """This report (up to a tip) followed by ``later`` (resumed from that tip): a full report at ``later``'s tip.

        Break-glass promotions not reviewed yet are notices about the tip, so only the
        later report's count. The later claims are settled against this report's open
        findings and the later ones, as a whole walk settles them.
        """
        self.settle()
        kept = [n for n in self.notices if n.kind != "open-break-glass"]
        return Report(
            later.tip,
            self.since,
            self.commits + later.commits,
            self.checked + later.checked,
            self.findings + later.findings,
            kept + later.notices,
            self.accepted + later.accepted,
            self.claims + later.claims,
            self.void + later.void,
            len(self.claims) + later.settled,
        ).settle()
