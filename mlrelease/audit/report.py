"""What ``mlrelease verify`` reports: findings (a change that is not a verified action, or a
notice about one) and the report of one walk of the history, in the JSON ``verify --json``
prints and :mod:`mlrelease.audit.marks` keeps per tip (so a report can be read back and
resumed: :meth:`Report.then`).

Split from :mod:`mlrelease.audit.verify` (the walk itself), which re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlrelease.registry.fields import format_timestamp, parse_timestamp

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


@dataclass
class Report:
    tip: str | None
    since: str | None
    commits: int = 0  # commits read
    checked: int = 0  # changes of audited files checked
    findings: list[Finding] = field(default_factory=list)
    notices: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def by_commit(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.commit, []).append(f)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "tip": self.tip,
            "since": self.since,
            "counts": {"commits": self.commits, "changes_checked": self.checked, "findings": len(self.findings)},
            "findings": [f.to_json() for f in self.findings],
            "notices": [n.to_json() for n in self.notices],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Report:
        counts = d["counts"]
        return cls(
            d["tip"],
            d["since"],
            int(counts["commits"]),
            int(counts["changes_checked"]),
            [Finding.from_json(f) for f in d["findings"]],
            [Finding.from_json(n) for n in d["notices"]],
        )

    def then(self, later: Report) -> Report:
        """This report (up to a tip) followed by ``later`` (resumed from that tip): a full report at ``later``'s tip.

        Break-glass promotions not reviewed yet are notices about the tip, so only the
        later report's count.
        """
        kept = [n for n in self.notices if n.kind != "open-break-glass"]
        return Report(
            later.tip,
            self.since,
            self.commits + later.commits,
            self.checked + later.checked,
            self.findings + later.findings,
            kept + later.notices,
        )
